"""A subject access request (Art 15): the workflow's input, updates and views, and its activities'
inputs and results (opaque references only; records travel as claim-check keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .attention import Attention

REQUESTERS = ("self", "parent", "representative")


@dataclass(kw_only=True)
class GatherInput:
    request_id: str
    subject_ref: str
    service: str
    record_keys: list[str]


@dataclass(kw_only=True)
class GatherResult:
    service: str
    claim_key: str
    records: int
    collections: int


@dataclass(kw_only=True)
class AddedRedaction:
    """A DPO's addition: withhold ``text`` wherever it appears (encrypted in Temporal by the codec)."""

    text: str
    basis: str = "third-party"  # key of rightsflow.redaction.BASES


@dataclass(kw_only=True)
class RedactInput:
    request_id: str
    subject_ref: str
    gathered: list[str]  # claim keys of GatherResult
    version: int = 0  # bumped by each DPO review: a new, separately stored redaction run
    released: list[str] = field(default_factory=list)
    added: list[AddedRedaction] = field(default_factory=list)


@dataclass(kw_only=True)
class RedactResult:
    claim_key: str
    redactions: int
    released: int
    by_kind: dict[str, int] = field(default_factory=dict)
    redaction_ids: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class PackInput:
    request_id: str
    subject_ref: str
    redacted_key: str
    services_searched: list[str]
    received_on: str
    clock_start: str
    deadline: str
    retention_days: int = 730
    link_expiry_seconds: int = 7 * 24 * 3600


@dataclass(kw_only=True)
class PackResult:
    pack_key: str
    sha256: str
    files: list[str]
    retain_until: str
    link: str
    link_expires_at: str


@dataclass(kw_only=True)
class LetterInput:
    request_id: str
    subject_ref: str
    kind: str  # "extension" | "refusal"
    text: str  # the reasons (extension) or the exemption relied on (refusal)
    clock_start: str
    deadline: str
    extended_deadline: str | None = None
    retention_days: int = 730


@dataclass(kw_only=True)
class RecordInput:
    """An event to record in the register: an audit entry (idempotent) and request fields."""

    request_id: str
    key: str  # idempotency key suffix
    action: str
    detail: dict[str, Any] = field(default_factory=dict)
    legal_basis: str | None = None
    actor: str = "rightsflow"
    stage: str | None = None
    status: str | None = None
    clock_start: str | None = None
    deadline: str | None = None
    decision: str | None = None
    attention: str | None = None  # a needs-attention reason code; "" clears it


@dataclass(kw_only=True)
class MatchDecisionInput:
    request_id: str
    confirmed: list[str]  # "service/record_key"


@dataclass(kw_only=True)
class SarInput:
    request_id: str
    subject_ref: str
    received_on: str  # YYYY-MM-DD
    requester: str = "self"  # self | parent | representative
    services: list[str] | None = None  # None: every catalogued service
    pack_retention_days: int = 730  # Object Lock on the pack: two years after closure by default
    link_expiry_seconds: int = 7 * 24 * 3600
    store_retry_first_seconds: int = 15  # first wait before trying a store that is down again
    store_retry_max_seconds: int = 1800  # longest wait between tries at a store that is down


@dataclass(kw_only=True)
class VerifyInput:
    identity_received: str | None = None
    authority_received: str | None = None
    fee_received: str | None = None
    parental_responsibility: bool | None = None  # a parent acting for a child: checked and held
    child_competent: bool | None = None  # the child's competence to make the request, noted
    confirm_matches: list[str] = field(default_factory=list)  # "service/record_key" candidates
    reject_matches: list[str] = field(default_factory=list)
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class ExtendInput:
    reason: str
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class ClarifyInput:
    asked: str | None = None  # YYYY-MM-DD: the day the requester was asked (stops the clock)
    answered: str | None = None  # YYYY-MM-DD: the day the answer arrived (restarts it)


@dataclass(kw_only=True)
class ReviewInput:
    release: list[str] = field(default_factory=list)  # redaction ids
    add: list[AddedRedaction] = field(default_factory=list)
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class ApproveInput:
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class RejectInput:
    exemption: str
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class ClockView:
    received_on: str
    clock_started: bool
    clock_start: str | None
    deadline: str | None  # the deadline in force (the extended one if extended)
    one_month_deadline: str | None
    extended_deadline: str | None
    state: str  # waiting_for_evidence | running | stopped
    paused_days: int
    pauses: list[list[str | None]]
    extended: bool
    waiting_for: list[str]


@dataclass(kw_only=True)
class ServiceState:
    service: str
    state: str = "pending"  # pending | discovering | awaiting_confirmation | gathering | store_unavailable
    #                         | gathered | not_found
    exact: int = 0
    candidates: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    failures: int = 0
    unavailable_since: str | None = None
    records: int = 0
    claim_key: str | None = None


@dataclass(kw_only=True)
class SarStatus:
    request_id: str
    stage: str
    clock: ClockView
    days_left: int | None
    overdue: bool
    services: list[ServiceState]
    redactions: int
    released: int
    review_version: int
    decision: str | None
    pack_key: str | None
    events: list[str]
    attention: Attention | None = None  # set while the request needs attention


@dataclass(kw_only=True)
class SarResult:
    request_id: str
    outcome: str  # delivered | refused
    pack: PackResult | None = None
    letter_key: str | None = None
