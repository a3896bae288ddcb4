"""TransferIntake: the receiving authority fetches, validates, imports and acknowledges a family's bag.

Runs on the receiving authority's own task queue (its worker, settings, catalogue, register, bucket
and stores). The sender starts it with signal-with-start (``deliver``); each delivery is validated
(bagit checksums and completeness, the manifest and the receiving store's schema). A bag that
fails is rejected with its reasons, signalled back to the sender (``rejected``), and the intake
waits for the resend. An accepted bag is kept under Object Lock, imported once (people matched by
NHS number) and acknowledged in writing (a locked JSON document) and by signal (``acknowledged``).

A receiver on another Temporal deployment is started by its ``TransferInboxScan`` instead, with
``notify_sender`` off: no signal is sent (none could arrive), and the acknowledgement goes back as
a locked copy of the document in the sender's bucket (``exchange_ack_key``), which the sender's
workflow polls for. A failed signal (the sender's workflow is gone) never fails the intake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

from workflows.kit import HEARTBEAT

with workflow.unsafe.imports_passed_through():
    from rightsflow.contracts.transfer import (
        AckInput,
        AckNotice,
        DeliveryNotice,
        ImportInput,
        ImportResult,
        IntakeInput,
        RejectionNotice,
        TransferEvent,
        ValidateInput,
        ValidationResult,
    )

QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
STORE = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5))


@dataclass
class IntakeStatus:
    transfer_id: str
    stage: str
    deliveries: int
    rejections: list[list[str]] = field(default_factory=list)
    target_service: str | None = None
    imported: ImportResult | None = None
    ack_key: str | None = None


@dataclass
class IntakeResult:
    transfer_id: str
    outcome: str  # accepted | abandoned
    attempts: int
    imported: ImportResult | None = None
    ack: AckNotice | None = None


@workflow.defn
class TransferIntake:
    @workflow.init
    def __init__(self, inp: IntakeInput) -> None:
        self._inp = inp
        self._stage = "waiting_for_delivery"
        self._notices: list[DeliveryNotice] = []
        self._done_attempts: set[int] = set()
        self._rejections: list[list[str]] = []
        self._validation: ValidationResult | None = None
        self._imported: ImportResult | None = None
        self._ack: AckNotice | None = None

    @workflow.signal
    def deliver(self, notice: DeliveryNotice) -> None:
        if notice.attempt not in self._done_attempts and all(
            n.attempt != notice.attempt for n in self._notices
        ):
            self._notices.append(notice)

    @workflow.query
    def status(self) -> IntakeStatus:
        return IntakeStatus(
            transfer_id=self._inp.transfer_id,
            stage=self._stage,
            deliveries=len(self._done_attempts),
            rejections=list(self._rejections),
            target_service=self._validation.target_service if self._validation else None,
            imported=self._imported,
            ack_key=self._ack.ack_key if self._ack else None,
        )

    async def _record(self, key: str, action: str, detail: dict) -> None:
        await workflow.execute_activity(
            "record_intake_event",
            TransferEvent(transfer_id=self._inp.transfer_id, key=key, action=action, detail=detail),
            start_to_close_timeout=timedelta(seconds=20),  # one register write: retried soon if killed
            retry_policy=QUICK,
        )

    async def _tell_sender(self, signal: str, arg: Any) -> None:
        if not self._inp.notify_sender:
            return
        try:
            await workflow.get_external_workflow_handle(self._inp.sender_workflow_id).signal(signal, arg)
        except FailureError:
            await self._record(f"signal_failed:{signal}", "transfer_intake.signal_failed", {"signal": signal})

    @workflow.run
    async def run(self, inp: IntakeInput) -> IntakeResult:
        self._inp = inp
        while True:
            self._stage = "waiting_for_delivery"
            try:
                await workflow.wait_condition(
                    lambda: bool(self._notices), timeout=timedelta(days=inp.resend_wait_days)
                )
            except TimeoutError:
                self._stage = "abandoned"
                await self._record(
                    "abandoned", "transfer_intake.abandoned", {"attempts": len(self._done_attempts)}
                )
                return IntakeResult(inp.transfer_id, "abandoned", len(self._done_attempts))
            notice = self._notices.pop(0)
            self._done_attempts.add(notice.attempt)
            self._stage = "validating"
            result = await workflow.execute_activity(
                "validate_delivery",
                ValidateInput(
                    transfer_id=inp.transfer_id,
                    to_authority=inp.to_authority,
                    notice=notice,
                    target_service=inp.target_service,
                    lock_days=inp.lock_days,
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=HEARTBEAT,  # a killed receiver's import resumes in seconds
                result_type=ValidationResult,
                retry_policy=QUICK,
            )
            if not result.ok:
                self._rejections.append(result.reasons)
                self._stage = "rejected"
                await self._tell_sender(
                    "rejected", RejectionNotice(attempt=notice.attempt, reasons=result.reasons)
                )
                continue
            self._validation = result
            break
        assert result.target_service and result.staged_key and result.sha256
        self._stage = "importing"
        self._imported = await workflow.execute_activity(
            "import_bag",
            ImportInput(
                transfer_id=inp.transfer_id,
                target_service=result.target_service,
                staged_key=result.staged_key,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,  # a killed receiver's import resumes in seconds
            result_type=ImportResult,
            retry_policy=STORE,
        )
        self._stage = "acknowledging"
        self._ack = await workflow.execute_activity(
            "write_ack",
            AckInput(
                transfer_id=inp.transfer_id,
                attempt=notice.attempt,
                from_authority=inp.from_authority,
                to_authority=inp.to_authority,
                sha256=result.sha256,
                imported=self._imported,
                lock_days=inp.lock_days,
                exchange_bucket=notice.bucket,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT,  # a killed receiver's import resumes in seconds
            result_type=AckNotice,
            retry_policy=QUICK,
        )
        await self._tell_sender("acknowledged", self._ack)
        self._stage = "accepted"
        return IntakeResult(inp.transfer_id, "accepted", len(self._done_attempts), self._imported, self._ack)
