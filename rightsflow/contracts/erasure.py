"""Erasure (Art 17): grounds, exemptions, what an assessment found, the DPO's decisions, views and
results. The vocabulary (grounds, exemptions, reasons) lives here because the workflow's update
validators check it; rightsflow.erasure applies it to the stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .attention import Attention
from .rights import NoticeException

GROUNDS = ("consent-withdrawn", "no-longer-needed", "objection", "unlawful", "other")
RESTRICTION_REASONS = ("accuracy", "unlawful", "legal-claims", "objection-pending")
DECISIONS = ("erase", "refuse")
FIELD_RULES = ("keyed_hash", "null", "keep")
HASH_MARK = "h:"

ICO_COMPLAINT = "UK GDPR Art 77: the right to complain to the Information Commissioner's Office"
COURT = "UK GDPR Art 79 and DPA 2018 s167: the right to apply to a court"

# code -> the exemption stated in the register, the letter and the certificate.
EXEMPTIONS: dict[str, str] = {
    "public_task": (
        "UK GDPR Art 17(3)(b): the processing is necessary for compliance with a legal obligation "
        "and for a task carried out in the public interest (the service's statutory duties)"
    ),
    "legal_claims": "UK GDPR Art 17(3)(e): the records are needed for the establishment, exercise "
    "or defence of legal claims",
    "legal_hold": "UK GDPR Art 17(3)(e): the records are under a legal hold (legal claims)",
    "child_protection_plan": (
        "UK GDPR Art 17(3)(b): a child protection plan applies (Children Act 1989 s47; the council "
        "must keep child protection records)"
    ),
    "safeguarding_concern": (
        "UK GDPR Art 17(3)(b): a safeguarding concern is open (Children Act 1989 s47 and Children "
        "Act 2004 s11 duties)"
    ),
    "looked_after": (
        "UK GDPR Art 17(3)(b): the child is or was looked after; the case record must be kept "
        "(Care Planning, Placement and Case Review (England) Regulations 2010 reg 50)"
    ),
    "inquiry": "UK GDPR Art 17(3)(b) and (e): the records are held for a statutory inquiry",
    "no_ground": "UK GDPR Art 17(1): none of the grounds for erasure applies",
}
# Which exemption an active hold flag brings; the order is the order of precedence.
HOLD_ORDER = ("legal_hold", "child_protection_plan", "safeguarding_concern", "looked_after", "inquiry")


def check_decision(decision: str, exemption: str | None) -> None:
    """Raise ValueError for a decision the DPO cannot make (used by the workflow's validator)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    if decision == "refuse" and (not exemption or exemption not in EXEMPTIONS):
        raise ValueError(f"a refusal must name the exemption: one of {', '.join(EXEMPTIONS)}")
    if decision == "erase" and exemption:
        raise ValueError("an erasure does not take an exemption")


def field_label(what: str) -> str:
    """A plain-English label for letters and notes (no value)."""
    labels = {
        "nhs_number": "NHS number",
        "upn": "unique pupil number",
        "date_of_birth": "date of birth",
        "postcode": "postcode",
        "user.name.first": "first name",
        "user.name.last": "family name",
    }
    return labels.get(what, what.rsplit(".", 1)[-1].replace("_", " "))


@dataclass(kw_only=True)
class ServiceFacts:
    """What an activity read from one store (no personal data)."""

    service: str
    held: bool
    consent_based: bool
    holds: list[str] = field(default_factory=list)  # active hold kinds on the subject or household
    consents: int = 0
    consents_withdrawn: int = 0


@dataclass(kw_only=True)
class Proposal:
    service: str
    decision: str  # erase | refuse | not_held
    exemption: str | None = None  # a key of EXEMPTIONS when refused
    reason: str = ""


@dataclass(kw_only=True)
class AssessInput:
    request_id: str
    service: str
    record_keys: list[str]
    ground: str


@dataclass(kw_only=True)
class Assessment:
    service: str
    facts: ServiceFacts
    proposal: Proposal
    recipients: int = 0  # distinct recipients in the sharing log for the subject


@dataclass(kw_only=True)
class EraseInput:
    request_id: str
    service: str
    record_keys: list[str]


@dataclass(kw_only=True)
class EraseResult:
    service: str
    rows_deleted: int = 0
    rows_masked: int = 0
    by_collection: dict[str, int] = field(default_factory=dict)
    mentions_removed: int = 0  # the person's name removed from free text kept for others
    # What is kept, in words for the letter: "<collection label>" per kept kind of record
    kept_for_others: list[str] = field(default_factory=list)  # records of the family, name removed
    kept_masked: list[str] = field(default_factory=list)  # the person's own rows, values cleared


@dataclass(kw_only=True)
class ErasureInput:
    request_id: str
    subject_ref: str
    received_on: str  # YYYY-MM-DD
    ground: str = "consent-withdrawn"
    services: list[str] | None = None  # None: every catalogued service


@dataclass(kw_only=True)
class ServiceDecision:
    service: str
    decision: str  # erase | refuse
    exemption: str | None = None  # a key of rightsflow.erasure.EXEMPTIONS when refusing
    reason: str = ""


@dataclass(kw_only=True)
class DecideInput:
    decisions: list[ServiceDecision] = field(default_factory=list)
    confirm_proposals: bool = False  # every service without an explicit decision takes its proposal
    notice_exceptions: list[NoticeException] = field(default_factory=list)
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class ServiceView:
    service: str
    state: str  # pending | awaiting_confirmation | not_found | awaiting_decision | decided | erased | refused
    proposal: str | None = None
    proposed_exemption: str | None = None
    holds: list[str] = field(default_factory=list)
    decision: str | None = None
    exemption: str | None = None
    candidates: list[str] = field(default_factory=list)
    recipients: int = 0
    rows_deleted: int = 0
    rows_masked: int = 0
    notices_sent: int = 0
    notices_not_sent: int = 0


@dataclass(kw_only=True)
class ErasureStatus:
    request_id: str
    stage: str
    received_on: str
    deadline: str
    ground: str
    services: list[ServiceView]
    attention: Attention | None = None  # set while the request needs attention


@dataclass(kw_only=True)
class ErasureResult:
    request_id: str
    erased: list[str]
    refused: list[str]
    notices_sent: int
    notices_not_sent: int
    letter_key: str
    certificate_key: str
