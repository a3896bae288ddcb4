"""PortabilityToPerson: Article 20 data portability, a person's own records delivered to them.

check the service's lawful basis (consent or contract; a public-task service is refused and the
request closed with the reason) and find the person by an exact identifier -> gather their own
records with third parties withheld (as for a subject access request) -> the DPO approves or
refuses (updates with validators) -> the BagIt package (JSON + CSV per record type, manifest)
under Object Lock and an expiring presigned download link; the register records what was sent and
when, and the request is closed -> after a configurable period the package is removed.

There is no acknowledgement to wait for: the person downloads the package within the link's life.
The statutory deadline (one calendar month from receipt) is set on the register's request.
Everything that crosses Temporal is an opaque id, a store key, a count, an object key or the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.kit import HEARTBEAT, acknowledge

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import LONDON, compute_deadline
    from rightsflow.contracts.portability import (
        ART20_BASIS,
        CheckInput,
        GatheredOwn,
        GatherOwnInput,
        PortabilityCheck,
        SendInput,
        SentPackage,
    )
    from rightsflow.contracts.transfer import RemoveInput, TransferEvent

QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
STORE = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5))
REMOVAL = RetryPolicy(initial_interval=timedelta(minutes=1), maximum_interval=timedelta(hours=1))


@dataclass
class PortabilityInput:
    request_id: str
    subject_ref: str
    service: str
    received_on: str  # ISO date the request was received (starts the one-month clock)
    lock_days: float = 7.0  # Object Lock on the package (at least the link's life)
    link_expiry_hours: float = 168.0  # the presigned link's life (S3 caps it at 7 days)
    remove_after_days: float = 30.0  # after delivery, the package is removed


@dataclass
class ApprovePortability:
    decided_by: str = "dpo"


@dataclass
class RefusePortability:
    reason: str
    decided_by: str = "dpo"


@dataclass
class PortabilityStatus:
    request_id: str
    stage: str
    service: str
    deadline: str | None = None
    eligible: bool | None = None
    refusal: str | None = None
    records: int = 0
    collections: dict[str, int] | None = None
    withheld: int = 0
    masked_references: int = 0
    decision: str | None = None
    package_key: str | None = None
    sha256: str | None = None
    link: str | None = None
    link_expires_at: str | None = None
    sent_at: str | None = None


@dataclass
class PortabilityResult:
    request_id: str
    outcome: str  # sent | refused | not_applicable
    package_key: str | None = None
    sha256: str | None = None
    sent_at: str | None = None
    link_expires_at: str | None = None


@workflow.defn
class PortabilityToPerson:
    @workflow.init
    def __init__(self, inp: PortabilityInput) -> None:
        self._inp = inp
        self._stage = "filed"
        self._deadline: date | None = None
        self._check: PortabilityCheck | None = None
        self._gathered: GatheredOwn | None = None
        self._decision: str | None = None
        self._refusal: str | None = None
        self._sent: SentPackage | None = None

    async def _record(
        self, key: str, action: str, detail: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        await workflow.execute_activity(
            "record_transfer_event",
            TransferEvent(
                transfer_id=self._inp.request_id, key=key, action=action, detail=detail or {}, **extra
            ),
            start_to_close_timeout=timedelta(seconds=20),  # one register write: retried soon if killed
            retry_policy=QUICK,
        )

    async def _set_stage(self, stage: str, **extra: Any) -> None:
        self._stage = stage
        await self._record(f"stage:{stage}", f"portability.{stage}", {}, stage=stage, **extra)

    async def _purge(self) -> None:
        await workflow.execute_activity(
            "purge_transfer_work",
            self._inp.request_id,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            result_type=int,
            retry_policy=QUICK,
        )

    @workflow.run
    async def run(self, inp: PortabilityInput) -> PortabilityResult:
        self._inp = inp
        await acknowledge(inp.request_id, inp.received_on, [inp.service], {})
        self._deadline = compute_deadline(date.fromisoformat(inp.received_on)).deadline
        await self._set_stage("checking", deadline=self._deadline.isoformat() if self._deadline else None)
        self._check = await workflow.execute_activity(
            "check_portability",
            CheckInput(request_id=inp.request_id, subject_ref=inp.subject_ref, service=inp.service),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT,
            result_type=PortabilityCheck,
            retry_policy=STORE,
        )
        if not self._check.eligible:
            self._refusal = self._check.reason
            await self._record(
                "not_applicable",
                "portability.refused",
                {"why": "Article 20 does not apply or no exact match"},
                decision="refused",
                legal_basis=(self._check.reason or ART20_BASIS)[:200],
            )
            await self._set_stage("not_applicable", status="closed")
            return PortabilityResult(inp.request_id, "not_applicable")
        self._gathered = await workflow.execute_activity(
            "gather_own_records",
            GatherOwnInput(
                request_id=inp.request_id, service=inp.service, record_keys=self._check.record_keys
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            result_type=GatheredOwn,
            retry_policy=STORE,
        )
        await self._set_stage("awaiting_approval")
        await workflow.wait_condition(lambda: self._decision is not None)
        if self._decision == "refused":
            await self._purge()
            await self._set_stage("refused", status="closed")
            await workflow.wait_condition(workflow.all_handlers_finished)
            return PortabilityResult(inp.request_id, "refused")

        await self._set_stage("packaging")
        today = workflow.now().astimezone(LONDON).date()
        self._sent = await workflow.execute_activity(
            "send_portability_package",
            SendInput(
                request_id=inp.request_id,
                service=inp.service,
                claim_key=self._gathered.claim_key,
                sent_on=today.isoformat(),
                lock_days=inp.lock_days,
                link_expiry_seconds=max(1, min(int(inp.link_expiry_hours * 3600), 7 * 24 * 3600)),
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            result_type=SentPackage,
            retry_policy=QUICK,
        )
        await self._purge()
        # Answered: the person has the link. The package stays (locked) only for the removal period.
        await self._set_stage("sent", status="closed")
        sent = self._sent
        await workflow.sleep(timedelta(days=inp.remove_after_days))
        await workflow.execute_activity(
            "remove_package",
            RemoveInput(transfer_id=inp.request_id, keys=[sent.package_key]),
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            result_type=int,
            schedule_to_close_timeout=timedelta(days=7),
            retry_policy=REMOVAL,
        )
        self._stage = "removed"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return PortabilityResult(
            inp.request_id, "sent", sent.package_key, sent.sha256, sent.sent_at, sent.link_expires_at
        )

    @workflow.query
    def status(self) -> PortabilityStatus:
        c, g, s = self._check, self._gathered, self._sent
        return PortabilityStatus(
            request_id=self._inp.request_id,
            stage=self._stage,
            service=self._inp.service,
            deadline=self._deadline.isoformat() if self._deadline else None,
            eligible=c.eligible if c else None,
            refusal=self._refusal,
            records=g.records if g else 0,
            collections=dict(g.collections) if g else None,
            withheld=g.withheld if g else 0,
            masked_references=g.masked_references if g else 0,
            decision=self._decision,
            package_key=s.package_key if s else None,
            sha256=s.sha256 if s else None,
            link=s.link if s else None,
            link_expires_at=s.link_expires_at if s else None,
            sent_at=s.sent_at if s else None,
        )

    @workflow.update
    async def approve(self, inp: ApprovePortability) -> str:
        self._decision = "approved"
        await self._record(
            "approved",
            "portability.approved",
            {"withheld": self._gathered.withheld if self._gathered else 0},
            actor=inp.decided_by,
            decision="approved",
            legal_basis=ART20_BASIS,
        )
        return "approved"

    @approve.validator
    def _validate_approve(self, inp: ApprovePortability) -> None:
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        if self._stage != "awaiting_approval":
            raise ValueError(f"the records are not ready for approval (stage: {self._stage})")

    @workflow.update
    async def refuse(self, inp: RefusePortability) -> str:
        self._decision = "refused"
        self._refusal = inp.reason
        await self._record(
            "refused",
            "portability.refused",
            {},
            actor=inp.decided_by,
            decision="refused",
            legal_basis=inp.reason[:200],
        )
        return "refused"

    @refuse.validator
    def _validate_refuse(self, inp: RefusePortability) -> None:
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        if self._stage != "awaiting_approval":
            raise ValueError(f"the request cannot be refused now (stage: {self._stage})")
        if not inp.reason or not inp.reason.strip():
            raise ValueError("a refusal must state its reason (and the exemption relied on)")
