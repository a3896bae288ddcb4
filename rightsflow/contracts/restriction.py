"""Restriction (Art 18): the workflow's input, updates and view."""

from __future__ import annotations

from dataclasses import dataclass

from .attention import Attention


@dataclass(kw_only=True)
class RestrictionInput:
    request_id: str
    subject_ref: str
    received_on: str
    reason: str = "accuracy"  # accuracy | unlawful | legal-claims | objection-pending
    services: list[str] | None = None
    notice_days: int = 14  # the wait between telling the person and lifting


@dataclass(kw_only=True)
class LiftInput:
    reason: str
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class ShortenInput:
    days: int  # the new wait from the day the person was told (0: lift now)
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class RestrictionStatus:
    request_id: str
    stage: str
    reason: str
    deadline: str
    services: list[str]
    candidates: list[str]
    notices_sent: int
    lift_on: str | None
    attention: Attention | None = None  # set while the request needs attention
