"""How a transfer waits for the receiving authority's written acknowledgement.

``AwaitsAcknowledgement`` is the part of ``PortabilityTransfer`` (workflows/portability_transfer.py)
between delivery and hand-off: delivering (again from the locked master copy after a rejection),
the working-day timer with its reminders and escalation to the sending council's DPO (and the
service's lead), and, for a receiver on another Temporal deployment that cannot signal, looking
in S3 every ``ack_poll_hours`` and before each reminder for the acknowledgement or rejection it
left beside the deliveries. The sending authority stays responsible, and waiting, until then.

Kept apart so each module stays readable; the workflow's steps are unchanged (the same activities
in the same order, behind the same patches), so transfers in flight and the recorded history replay.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.kit import HEARTBEAT

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import LONDON, end_of_day, reminder_dates
    from rightsflow.contracts.correspondence import StaffNoticeInput
    from rightsflow.contracts.transfer import (
        AckNotice,
        CheckAckInput,
        CheckRejectionInput,
        Delivered,
        DeliverInput,
        PackageResult,
        RejectionNotice,
        TransferEvent,
    )

if TYPE_CHECKING:
    from workflows.portability_transfer import TransferInput

REMINDER_HOUR = time(9, 0)
QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


class AwaitsAcknowledgement:
    """The transfer's state the waiting reads and changes (set in ``PortabilityTransfer.__init__``)."""

    _inp: TransferInput
    _package: PackageResult | None
    _deliveries: list[Delivered]
    _rejections: list[RejectionNotice]
    _handled_rejections: int
    _ack: AckNotice | None
    _ack_by: date | None
    _fired: list[str]
    _escalated: bool
    _poll: timedelta | None

    # -- the register and staff notices ---------------------------------------------------------------

    async def _record(
        self, key: str, action: str, detail: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        await workflow.execute_activity(
            "record_transfer_event",
            TransferEvent(
                transfer_id=self._inp.transfer_id, key=key, action=action, detail=detail or {}, **extra
            ),
            start_to_close_timeout=timedelta(seconds=20),  # one register write: retried soon if killed
            retry_policy=QUICK,
        )

    async def _tell_staff(self, name: str, why: str = "") -> None:
        """Email a reminder to the sending controller's DPO; an escalation also to the service's lead.

        References and dates only. Sent once per transfer, event and deadline (the mail is keyed);
        a mail server that stays down is logged, not fatal: the audit entry is already recorded.
        """
        if not workflow.patched("transfer-reminders-emailed"):
            return
        tid, inp = self._inp.transfer_id, self._inp
        by = self._ack_by.isoformat() if self._ack_by else "(no deadline)"
        overdue = name.startswith("escalation")
        if overdue:
            subject = f"Overdue: transfer {tid} to {inp.to_authority} has no acknowledgement"
            lead = why or f"{inp.to_authority} has not acknowledged it; it was due by {by}."
        else:
            left = name.partition("_")[2]
            subject = f"Reminder: transfer {tid} to {inp.to_authority} is to be acknowledged by {by}"
            lead = f"{inp.to_authority} (receiving) has {left} working days left to acknowledge it."
        body = (
            f"Transfer {tid} of a family from {inp.service} to {inp.to_authority}.\n{lead}\n"
            + ("We remain responsible for the records until it is acknowledged.\n" if overdue else "")
            + f"\nSee it with: rightsflow transfer-status {tid}\n"
        )
        try:
            await workflow.execute_activity(
                "notify_staff",
                StaffNoticeInput(
                    key=f"{tid}:{name}:{by}",
                    controller=inp.from_authority,
                    roles=["dpo", "service_lead"] if overdue else ["dpo"],
                    subject=subject,
                    body=body,
                    request_id=tid,
                    service=inp.service,
                ),
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(minutes=5)),
            )
        except ActivityError:
            workflow.logger.warning("transfer %s: the %s email was not sent", tid, name)

    # -- delivering and waiting -----------------------------------------------------------------------

    async def _deliver(self) -> None:
        assert self._package is not None
        attempt = len(self._deliveries) + 1
        d = await workflow.execute_activity(
            "deliver",
            DeliverInput(
                transfer_id=self._inp.transfer_id,
                attempt=attempt,
                package_key=self._package.package_key,
                sha256=self._package.sha256,
                from_authority=self._inp.from_authority,
                to_authority=self._inp.to_authority,
                to_task_queue=self._inp.to_task_queue,
                lock_days=self._inp.lock_days,
            ),
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            result_type=Delivered,
            retry_policy=QUICK,
            activity_id=f"deliver-{attempt}",
        )
        self._deliveries.append(d)

    def _timer_events(self) -> list[tuple[datetime, str]]:
        assert self._ack_by is not None
        events = [
            (datetime.combine(d, REMINDER_HOUR, tzinfo=LONDON), f"reminder_{n}")
            for n, d in zip(
                self._inp.reminder_working_days,
                reminder_dates(self._ack_by, self._inp.reminder_working_days),
                strict=True,
            )
        ]
        events.append((end_of_day(self._ack_by) + timedelta(microseconds=1), "escalation"))
        return sorted(e for e in events if e[1] not in self._fired)

    async def _look_for_ack(self) -> None:
        """The acknowledgement left in S3 by a receiver that cannot signal (another deployment)."""
        assert self._package is not None
        found = await workflow.execute_activity(
            "check_acknowledgement",
            CheckAckInput(
                transfer_id=self._inp.transfer_id,
                to_authority=self._inp.to_authority,
                sha256=self._package.sha256,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT,
            result_type=AckNotice | None,
            retry_policy=QUICK,
        )
        if found is not None and self._ack is None:
            self._ack = found
        # a receiver on another deployment leaves its rejection of the latest delivery the same way
        if self._ack is None and self._deliveries and workflow.patched("transfer-rejection-s3-poll"):
            attempt = self._deliveries[-1].attempt
            if all(r.attempt != attempt for r in self._rejections):
                rejection = await workflow.execute_activity(
                    "check_rejection",
                    CheckRejectionInput(
                        transfer_id=self._inp.transfer_id,
                        to_authority=self._inp.to_authority,
                        attempt=attempt,
                    ),
                    start_to_close_timeout=timedelta(minutes=2),
                    heartbeat_timeout=HEARTBEAT,
                    result_type=RejectionNotice | None,
                    retry_policy=QUICK,
                )
                if rejection is not None and all(r.attempt != rejection.attempt for r in self._rejections):
                    self._rejections.append(rejection)

    async def _wait_or_poll(self, woken: Any, until: datetime | None) -> bool:
        """Wait until woken or ``until`` (None: no limit), looking in S3 every poll interval.

        True when woken (or an acknowledgement was found in S3); False when ``until`` has come.
        """
        while True:
            delay = None if until is None else until - workflow.now()
            if delay is not None and delay <= timedelta(0):
                return False
            if self._poll is None or (delay is not None and delay <= self._poll):
                try:
                    await workflow.wait_condition(woken, timeout=delay)
                    return True
                except TimeoutError:
                    return False
            try:
                await workflow.wait_condition(woken, timeout=self._poll)
                return True
            except TimeoutError:
                await self._look_for_ack()
                if woken():  # an acknowledgement, or a rejection, was found in S3
                    return True

    async def _await_acknowledgement(self) -> None:
        """Wait for the ack on the working-day timer; resend on a rejection; remind and escalate."""
        if workflow.patched("transfer-ack-s3-poll") and self._inp.ack_poll_hours > 0:
            self._poll = timedelta(hours=self._inp.ack_poll_hours)
        while self._ack is None:
            if self._handled_rejections < len(self._rejections):
                rej = self._rejections[self._handled_rejections]
                self._handled_rejections += 1
                await self._record(
                    f"rejected:{rej.attempt}",
                    "transfer.rejected_by_receiver",
                    {"attempt": rej.attempt, "reasons": rej.reasons[:20]},
                )
                if len(self._deliveries) < self._inp.max_deliveries:
                    await self._deliver()
                else:
                    self._escalated = True
                    await self._record(
                        "escalation:deliveries",
                        "transfer.escalated",
                        {"why": "every delivery was rejected", "deliveries": len(self._deliveries)},
                        actor="rightsflow",
                    )
                    await self._tell_staff(
                        "escalation_deliveries",
                        f"The receiving authority rejected every delivery ({len(self._deliveries)}).",
                    )
                continue
            pending = self._timer_events()
            seen = len(self._rejections)

            def woken(seen: int = seen) -> bool:
                return self._ack is not None or len(self._rejections) > seen

            if not pending:
                if self._poll is None:
                    await workflow.wait_condition(woken)
                else:
                    await self._wait_or_poll(woken, None)
                continue
            when, name = pending[0]
            delay = when - workflow.now()
            if delay > timedelta(0):
                if self._poll is None:
                    try:
                        await workflow.wait_condition(woken, timeout=delay)
                        continue
                    except TimeoutError:
                        pass
                elif await self._wait_or_poll(woken, when):
                    continue
            if self._poll is not None:  # look once more before reminding anyone
                await self._look_for_ack()
                if woken():
                    continue
            self._fired.append(name)
            if name == "escalation":
                self._escalated = True
                await self._record(
                    "escalation",
                    "transfer.escalated",
                    {
                        "acknowledge_by": self._ack_by.isoformat() if self._ack_by else None,
                        "why": "no acknowledgement from the receiving authority",
                        "responsibility": "the sending authority remains responsible",
                    },
                )
                await self._tell_staff(name)
            else:
                await self._record(
                    name,
                    "transfer.reminder",
                    {
                        "acknowledge_by": self._ack_by.isoformat() if self._ack_by else None,
                        "working_days_left": name.partition("_")[2],
                    },
                )
                await self._tell_staff(name)
