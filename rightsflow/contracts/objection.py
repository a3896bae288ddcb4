"""Objection (Art 21) and consent withdrawal (Art 7(3)): inputs, decisions, views and results."""

from __future__ import annotations

from dataclasses import dataclass, field

from .attention import Attention
from .rights import ConsentResult


@dataclass(kw_only=True)
class ObjectionInput:
    request_id: str
    subject_ref: str
    received_on: str  # YYYY-MM-DD
    services: list[str] | None = None  # None: every catalogued service
    notice_days: int = 14  # the wait between telling the person and lifting an overridden restriction


@dataclass(kw_only=True)
class ObjectionDecision:
    service: str
    decision: str  # uphold | override
    reason: str  # told to the person; kept in the letter, not in the register


@dataclass(kw_only=True)
class ObjectionDecideInput:
    decisions: list[ObjectionDecision] = field(default_factory=list)
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class ObjectionServiceView:
    service: str
    # pending | awaiting_confirmation | not_found | stopped | restricted | upheld | overridden | lifted
    state: str
    route: str | None = None  # stop | weigh
    holds: list[str] = field(default_factory=list)
    consents_withdrawn: int = 0
    decision: str | None = None
    erasure_offered: bool = False
    candidates: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class ObjectionStatus:
    request_id: str
    stage: str
    received_on: str
    deadline: str
    services: list[ObjectionServiceView]
    notices_sent: int
    lift_on: str | None
    erasure_offered: list[str]
    erasure_hint: str | None
    attention: Attention | None = None  # set while the request needs attention


@dataclass(kw_only=True)
class ObjectionResult:
    request_id: str
    stopped: list[str]
    upheld: list[str]
    overridden: list[str]
    erasure_offered: list[str]
    notices_sent: int
    letter_keys: list[str]
    certificate_key: str


@dataclass(kw_only=True)
class ConsentWithdrawalInput:
    request_id: str
    subject_ref: str
    received_on: str  # YYYY-MM-DD: the date the withdrawal is recorded with
    services: list[str]  # the consent-based services (the command reads them from the catalogue)


@dataclass(kw_only=True)
class ConsentWithdrawalStatus:
    request_id: str
    stage: str
    received_on: str
    services: list[str]
    candidates: list[str]
    withdrawn: dict[str, int]  # consents newly marked withdrawn, per service
    already: dict[str, int]  # consents already withdrawn (their date kept), per service
    erasure_offered: list[str]
    erasure_hint: str | None
    attention: Attention | None = None  # set while the request needs attention


@dataclass(kw_only=True)
class ConsentWithdrawalResult:
    request_id: str
    services: list[ConsentResult]
    erasure_offered: list[str]
    letter_key: str
    erasure_hint: str | None
