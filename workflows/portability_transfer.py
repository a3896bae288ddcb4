"""PortabilityTransfer: the sending authority hands a family's records to the receiving authority.

resolve the family (restrictions, holds, consents) -> gather every mapped record -> the DPO
approves (an update with a validator) -> a BagIt package under Object Lock -> delivered to the
receiver's inbox and its TransferIntake workflow told -> wait for the written acknowledgement on a
working-day timer (England and Wales calendar): reminders before it runs out, escalation to the
DPO when it passes; the sending authority stays responsible and keeps waiting. A rejected
delivery (a corrupt or tampered bag) is resent from the locked master copy. On acceptance: the
handoff is recorded, the family's last contact becomes the transfer date, and after a
configurable period the package is removed.

The acknowledgement arrives by signal (``acknowledged``, a receiver on the same Temporal
namespace) or, for a receiver on another deployment, as a locked document the receiver leaves in
our bucket beside the deliveries: the workflow looks for it every ``ack_poll_hours`` and before
each reminder or escalation (``check_acknowledgement``), whichever comes first.

Everything that crosses Temporal is an opaque id, a store key, a count or an object key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.kit import HEARTBEAT
from workflows.transfer_acknowledgement import QUICK, REMINDER_HOUR, AwaitsAcknowledgement  # noqa: F401 - re-exported

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import LONDON, add_working_days
    from rightsflow.contracts.transfer import (
        AckNotice,
        Delivered,
        FamilyCheck,
        GatheredFamily,
        GatherFamilyInput,
        MarkInput,
        MarkResult,
        PackageInput,
        PackageResult,
        RejectionNotice,
        RemoveInput,
        ResolveInput,
    )

REASONS = ("moved-area", "portability")
STORE = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5))
# Deleting a package whose lock has not yet run out fails; try again hourly, for up to a week.
REMOVAL = RetryPolicy(initial_interval=timedelta(minutes=1), maximum_interval=timedelta(hours=1))


@dataclass
class TransferInput:
    transfer_id: str
    subject_ref: str
    service: str
    from_authority: str  # the sender's authority code
    to_authority: str  # the receiving authority's code
    to_task_queue: str  # the receiving authority's intake task queue
    reason: str = "moved-area"
    family_ref: str | None = None
    ack_working_days: int = 15
    reminder_working_days: list[int] = field(default_factory=lambda: [5, 1])
    max_deliveries: int = 3
    lock_days: float = 35.0  # Object Lock on the package and inbox copies
    remove_after_days: float = 90.0  # after acceptance, the package is removed
    ack_poll_hours: float = 24.0  # look for an acknowledgement left in S3 this often (0: signal only)


@dataclass
class ApproveTransfer:
    decided_by: str = "dpo"
    # Required when a member's processing is restricted or a consent was withdrawn: the basis relied on.
    override_basis: str | None = None


@dataclass
class RefuseTransfer:
    reason: str
    decided_by: str = "dpo"


@dataclass
class TransferStatus:
    transfer_id: str
    stage: str
    service: str
    to_authority: str
    reason: str
    members: int = 0
    restricted: int = 0
    holds: list[str] = field(default_factory=list)
    consents_withdrawn: int = 0
    records: int = 0
    collections: dict[str, int] = field(default_factory=dict)
    decision: str | None = None
    package_key: str | None = None
    deliveries: int = 0
    rejections: list[list[str]] = field(default_factory=list)
    acknowledge_by: str | None = None
    escalated: bool = False
    acknowledged_on: str | None = None
    ack_key: str | None = None
    events: list[str] = field(default_factory=list)
    # from the receiver's acknowledgement: rows imported by its record labels, and what had no
    # field of its own there (labels, counts, where it was filed)
    imported: dict[str, int] = field(default_factory=dict)
    not_placed: list[dict[str, Any]] = field(default_factory=list)
    people_new: int = 0
    people_matched: int = 0


@dataclass
class TransferResult:
    transfer_id: str
    outcome: str  # handed_off | refused
    package_key: str | None = None
    sha256: str | None = None
    ack: AckNotice | None = None
    deliveries: int = 0


@workflow.defn
class PortabilityTransfer(AwaitsAcknowledgement):
    """The transfer's run (resolve, gather, approve, package, deliver, hand off, remove), its
    ``status`` and decisions; waiting for the acknowledgement: ``AwaitsAcknowledgement``."""

    @workflow.init
    def __init__(self, inp: TransferInput) -> None:
        self._inp = inp
        self._stage = "filed"
        self._check: FamilyCheck | None = None
        self._gathered: GatheredFamily | None = None
        self._decision: str | None = None
        self._decided_by = "dpo"
        self._override: str | None = None
        self._refusal: str | None = None
        self._package: PackageResult | None = None
        self._deliveries: list[Delivered] = []
        self._rejections: list[RejectionNotice] = []
        self._handled_rejections = 0
        self._ack: AckNotice | None = None
        self._ack_by: date | None = None
        self._fired: list[str] = []
        self._escalated = False
        self._poll: timedelta | None = None

    # -- helpers -----------------------------------------------------------------------------------------

    def _today(self) -> date:
        return workflow.now().astimezone(LONDON).date()

    async def _set_stage(self, stage: str, **extra: Any) -> None:
        self._stage = stage
        await self._record(f"stage:{stage}", f"transfer.{stage}", {}, stage=stage, **extra)

    # -- run ---------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: TransferInput) -> TransferResult:
        self._inp = inp
        await self._set_stage("resolving")
        self._check = await workflow.execute_activity(
            "resolve_family",
            ResolveInput(
                transfer_id=inp.transfer_id,
                subject_ref=inp.subject_ref,
                service=inp.service,
                family_ref=inp.family_ref,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT,
            result_type=FamilyCheck,
            retry_policy=STORE,
        )
        self._gathered = await workflow.execute_activity(
            "gather_family",
            GatherFamilyInput(
                transfer_id=inp.transfer_id, service=inp.service, member_keys=self._check.member_keys
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            result_type=GatheredFamily,
            retry_policy=STORE,
        )
        await self._set_stage("awaiting_approval")
        await workflow.wait_condition(lambda: self._decision is not None)
        if self._decision == "refused":
            await workflow.execute_activity(
                "purge_transfer_work",
                inp.transfer_id,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=HEARTBEAT,
                result_type=int,
                retry_policy=QUICK,
            )
            await self._set_stage("refused", status="closed")
            await workflow.wait_condition(workflow.all_handlers_finished)
            return TransferResult(inp.transfer_id, "refused")

        today = self._today()
        self._ack_by = add_working_days(today, inp.ack_working_days)
        await self._set_stage("packaging", deadline=self._ack_by.isoformat())
        self._package = await workflow.execute_activity(
            "build_package",
            PackageInput(
                transfer_id=inp.transfer_id,
                service=inp.service,
                claim_key=self._gathered.claim_key,
                to_authority=inp.to_authority,
                reason=inp.reason,
                transfer_date=today.isoformat(),
                acknowledge_by=self._ack_by.isoformat(),
                check=self._check,
                lock_days=inp.lock_days,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            result_type=PackageResult,
            retry_policy=QUICK,
        )
        await workflow.execute_activity(
            "purge_transfer_work",
            inp.transfer_id,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            result_type=int,
            retry_policy=QUICK,
        )
        await self._deliver()
        await self._set_stage("awaiting_acknowledgement")
        await self._await_acknowledgement()
        ack = self._ack
        assert ack is not None
        await self._record(
            "handed_off",
            "transfer.handed_off",
            {
                "ack_key": ack.ack_key,
                "accepted_on": ack.accepted_on,
                "attempt": ack.attempt,
                "people_new": ack.people_new,
                "people_matched": ack.people_matched,
                "rows_inserted": ack.rows_inserted,
                "on_time": not self._escalated,
            },
            decision="handed_off",
            stage="handed_off",
            legal_basis="responsibility passes on the receiving authority's written acceptance",
        )
        self._stage = "handed_off"
        await workflow.execute_activity(
            "mark_transferred",
            MarkInput(
                transfer_id=inp.transfer_id,
                service=inp.service,
                group_keys=self._check.group_keys,
                member_keys=self._check.member_keys,
                to_authority=inp.to_authority,
                transfer_date=today.isoformat(),
            ),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT,
            result_type=MarkResult,
            retry_policy=STORE,
        )
        await self._set_stage("awaiting_removal")
        await workflow.sleep(timedelta(days=inp.remove_after_days))
        await workflow.execute_activity(
            "remove_package",
            RemoveInput(
                transfer_id=inp.transfer_id,
                keys=[self._package.package_key, *(d.inbox_key for d in self._deliveries)],
            ),
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            result_type=int,
            schedule_to_close_timeout=timedelta(days=7),
            retry_policy=REMOVAL,
        )
        await self._set_stage("closed", status="closed")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return TransferResult(
            inp.transfer_id,
            "handed_off",
            self._package.package_key,
            self._package.sha256,
            ack,
            len(self._deliveries),
        )

    # -- queries, signals, updates -------------------------------------------------------------------------

    @workflow.query
    def status(self) -> TransferStatus:
        c = self._check
        return TransferStatus(
            transfer_id=self._inp.transfer_id,
            stage=self._stage,
            service=self._inp.service,
            to_authority=self._inp.to_authority,
            reason=self._inp.reason,
            members=len(c.member_keys) if c else 0,
            restricted=c.restricted if c else 0,
            holds=list(c.holds) if c else [],
            consents_withdrawn=c.consents_withdrawn if c else 0,
            records=self._gathered.records if self._gathered else 0,
            collections=dict(self._gathered.collections) if self._gathered else {},
            decision=self._decision,
            package_key=self._package.package_key if self._package else None,
            deliveries=len(self._deliveries),
            rejections=[r.reasons for r in self._rejections],
            acknowledge_by=self._ack_by.isoformat() if self._ack_by else None,
            escalated=self._escalated,
            acknowledged_on=self._ack.accepted_on if self._ack else None,
            ack_key=self._ack.ack_key if self._ack else None,
            events=list(self._fired),
            imported=dict(self._ack.imported) if self._ack else {},
            not_placed=list(self._ack.not_placed) if self._ack else [],
            people_new=self._ack.people_new if self._ack else 0,
            people_matched=self._ack.people_matched if self._ack else 0,
        )

    @workflow.signal
    def acknowledged(self, ack: AckNotice) -> None:
        if self._ack is None:
            self._ack = ack

    @workflow.signal
    def rejected(self, rejection: RejectionNotice) -> None:
        if self._ack is None and all(r.attempt != rejection.attempt for r in self._rejections):
            self._rejections.append(rejection)

    @workflow.update
    async def approve(self, inp: ApproveTransfer) -> str:
        self._decision = "approved"
        self._decided_by = inp.decided_by
        self._override = inp.override_basis
        basis = (
            "UK GDPR Art 20 (portability)"
            if self._inp.reason == "portability"
            else "UK GDPR Art 6(1)(e)/(c): continuity of services when a family moves area"
        )
        await self._record(
            "approved",
            "transfer.approved",
            {
                "override_basis": bool(inp.override_basis),
                "restricted": self._check.restricted if self._check else 0,
                "holds": self._check.holds if self._check else [],
            },
            actor=inp.decided_by,
            decision="approved",
            legal_basis=(f"{basis}; {inp.override_basis}" if inp.override_basis else basis)[:200],
        )
        return "approved"

    @approve.validator
    def _validate_approve(self, inp: ApproveTransfer) -> None:
        if self._decision is not None:
            raise ValueError(f"the transfer has already been {self._decision}")
        if self._stage != "awaiting_approval" or self._check is None:
            raise ValueError(f"the family's records are not ready for approval (stage: {self._stage})")
        c = self._check
        if self._inp.reason == "portability" and not c.consent_based:
            raise ValueError(
                "Article 20 portability applies only where processing rests on consent or a contract; "
                "use --reason moved-area for a statutory service"
            )
        if (c.restricted or c.consents_withdrawn) and not (inp.override_basis and inp.override_basis.strip()):
            raise ValueError(
                f"{c.restricted} member(s) have restricted processing and {c.consents_withdrawn} consent(s) "
                "were withdrawn: state the basis for transferring anyway (--override-basis)"
            )

    @workflow.update
    async def refuse(self, inp: RefuseTransfer) -> str:
        self._decision = "refused"
        self._refusal = inp.reason
        await self._record(
            "refused",
            "transfer.refused",
            {},
            actor=inp.decided_by,
            decision="refused",
            legal_basis=inp.reason[:200],
        )
        return "refused"

    @refuse.validator
    def _validate_refuse(self, inp: RefuseTransfer) -> None:
        if self._decision is not None:
            raise ValueError(f"the transfer has already been {self._decision}")
        if not inp.reason or not inp.reason.strip():
            raise ValueError("a refusal must state its reason")


__all__ = [
    "ApproveTransfer",
    "PortabilityTransfer",
    "RefuseTransfer",
    "TransferInput",
    "TransferResult",
    "TransferStatus",
    "asyncio",
]
