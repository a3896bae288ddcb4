"""Transfers between authorities and Article 20 packages: the inputs and results of the transfer,
intake and inbox-scan activities, and what the sender and receiver signal to each other (opaque
ids, store keys, digests, counts and object keys only: no personal data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class TransferEvent:
    """An audit entry (once per key) and, where the register holds the request, its stage/status."""

    transfer_id: str
    key: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str = "rightsflow"
    legal_basis: str | None = None
    stage: str | None = None
    status: str | None = None
    deadline: str | None = None
    decision: str | None = None


@dataclass(kw_only=True)
class ResolveInput:
    transfer_id: str
    subject_ref: str
    service: str
    family_ref: str | None = None  # the store's household/case key; else found from subject_ref


@dataclass(kw_only=True)
class FamilyCheck:
    service: str
    group_keys: list[str]
    member_keys: list[str]
    restricted: int  # members whose processing is restricted (Art 18)
    holds: list[str]  # active hold kinds (legal_hold, child_protection_plan, ...)
    consents_active: int
    consents_withdrawn: int
    consent_based: bool


@dataclass(kw_only=True)
class GatherFamilyInput:
    transfer_id: str
    service: str
    member_keys: list[str]


@dataclass(kw_only=True)
class GatheredFamily:
    claim_key: str
    records: int
    collections: dict[str, int]


@dataclass(kw_only=True)
class PackageInput:
    transfer_id: str
    service: str
    claim_key: str
    to_authority: str
    reason: str
    transfer_date: str
    acknowledge_by: str
    check: FamilyCheck
    lock_days: float = 35.0


@dataclass(kw_only=True)
class PackageResult:
    package_key: str
    sha256: str
    bytes: int
    payload_oxum: str
    files: list[str]
    retain_until: str


@dataclass(kw_only=True)
class DeliverInput:
    transfer_id: str
    attempt: int
    package_key: str
    sha256: str
    from_authority: str
    to_authority: str
    to_task_queue: str
    lock_days: float = 35.0


@dataclass(kw_only=True)
class DeliveryNotice:
    """What the receiver is told: where the bag is and its digest. No personal data."""

    attempt: int
    bucket: str
    key: str
    sha256: str


@dataclass(kw_only=True)
class Delivered:
    attempt: int
    inbox_key: str


@dataclass(kw_only=True)
class MarkInput:
    transfer_id: str
    service: str
    group_keys: list[str]
    member_keys: list[str]
    to_authority: str
    transfer_date: str


@dataclass(kw_only=True)
class MarkResult:
    contacts_added: int
    shares_logged: int


@dataclass(kw_only=True)
class RemoveInput:
    transfer_id: str
    keys: list[str]


@dataclass(kw_only=True)
class IntakeInput:
    transfer_id: str
    from_authority: str
    to_authority: str  # the receiving authority's code (catalog authority_code)
    sender_workflow_id: str
    target_service: str | None = None  # None: the receiver's service whose schema fits the bag
    resend_wait_days: int = 30
    lock_days: float = 365.0
    # False when the sender runs on another Temporal deployment (started by the inbox scan): the
    # acknowledgement then goes back only through S3 (``exchange_ack_key``).
    notify_sender: bool = True


@dataclass(kw_only=True)
class ValidateInput:
    transfer_id: str
    to_authority: str
    notice: DeliveryNotice
    target_service: str | None = None
    lock_days: float = 365.0


@dataclass(kw_only=True)
class ValidationResult:
    ok: bool
    reasons: list[str]
    target_service: str | None = None
    staged_key: str | None = None
    sha256: str | None = None
    collections: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True)
class ImportInput:
    transfer_id: str
    target_service: str
    staged_key: str


@dataclass(kw_only=True)
class ImportResult:
    people_new: int
    people_matched: int
    inserted: dict[str, int]
    already_present: dict[str, int]
    # labels of what had no field of its own at the receiver, how many, and where it was filed
    not_placed: list[dict[str, Any]] = field(default_factory=list)
    # people matching an existing person by name and date of birth only: store keys, to confirm
    candidates: list[dict[str, str]] = field(default_factory=list)
    labelled: dict[str, int] = field(default_factory=dict)  # rows inserted, by the receiver's labels


@dataclass(kw_only=True)
class AckInput:
    transfer_id: str
    attempt: int
    from_authority: str
    to_authority: str
    sha256: str
    imported: ImportResult
    lock_days: float = 365.0
    exchange_bucket: str | None = None  # the sender's bucket: a locked copy at exchange_ack_key


@dataclass(kw_only=True)
class CheckAckInput:
    transfer_id: str
    to_authority: str
    sha256: str  # the package's digest: an acknowledgement of anything else is not ours


@dataclass(kw_only=True)
class AckNotice:
    """The receiver's written acceptance, as signalled to the sender (the document is in S3)."""

    attempt: int
    ack_key: str
    sha256: str
    accepted_on: str
    people_new: int
    people_matched: int
    rows_inserted: int
    not_placed: list[dict[str, Any]] = field(default_factory=list)
    imported: dict[str, int] = field(default_factory=dict)  # rows by the receiver's record labels


@dataclass(kw_only=True)
class RejectionNotice:
    attempt: int
    reasons: list[str]


@dataclass(kw_only=True)
class CheckRejectionInput:
    transfer_id: str
    to_authority: str
    attempt: int  # the delivery whose rejection to look for


# -- the receiver's inbox scan (senders on another Temporal deployment) ------------------------


@dataclass(kw_only=True)
class InboxScanInput:
    authority: str  # the receiving authority's code (this deployment's catalogue)
    bucket: str | None = None  # the sender's bucket holding inbox/<code>/; None: our own
    intake_task_queue: str | None = None  # where the intakes run; None: this worker's queue
    notify_sender: bool = False  # True only where the sender shares this Temporal namespace
    limit: int = 200  # notices taken per run; the next run takes the rest


@dataclass(kw_only=True)
class InboxScanResult:
    notices: int = 0  # notice.json objects listed
    started: list[str] = field(default_factory=list)  # transfer ids whose intake was started/signalled
    already_taken: int = 0  # recorded as taken by an earlier scan
    closed: int = 0  # the intake had already finished: not started again
    invalid: int = 0  # a notice that does not agree with its key (recorded, skipped)
