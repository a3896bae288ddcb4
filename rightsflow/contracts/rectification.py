"""Rectification (Art 16): the workflow's input, decision and view."""

from __future__ import annotations

from dataclasses import dataclass, field

from .attention import Attention


@dataclass(kw_only=True)
class RectificationInput:
    request_id: str
    subject_ref: str
    received_on: str
    field: str  # identity name or data category
    value: str  # the corrected value the person gives
    services: list[str] | None = None


@dataclass(kw_only=True)
class RectifyDecision:
    accept: bool
    reason: str = ""
    statement: str = ""  # declined: the person's supplementary statement
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class RectificationStatus:
    request_id: str
    stage: str
    field: str
    deadline: str
    services: list[str]
    candidates: list[str]
    decision: str | None
    corrected: list[str] = field(default_factory=list)
    notices_sent: int = 0
    attention: Attention | None = None  # set while the request needs attention
