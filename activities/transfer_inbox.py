"""The receiving authority's inbox scan, for a sender on another Temporal deployment.

A sender delivers to ``inbox/<code>/<transfer id>/attempt-<n>/`` in its bucket: ``package.zip`` and
``notice.json`` (where the package is, its digest, the sender's workflow id; no personal data).
Where both councils share a Temporal namespace the sender also signal-with-starts the receiver's
``TransferIntake``; where they do not, nothing reaches the receiver but the objects. The receiver's
``TransferInboxScan`` (run by a Temporal Schedule, ``rightsflow intake-schedule --authority CODE``)
lists the prefix, and for every notice not yet taken starts ``TransferIntake`` by signal-with-start:

- idempotent: the intake's workflow id is ``intake-<transfer id>`` (deterministic); a running
  intake is only signalled (it ignores an attempt it already has); a closed one is never started
  again (``REJECT_DUPLICATE``: the notice is skipped); a taken notice is recorded in the register
  (``inbox:<code>:<transfer id>:<attempt>``) and not looked at again;
- the notice is checked before use: its key, transfer id, authority, bucket and package key must
  agree, and the transfer id must be an opaque id, since it becomes a workflow id;
- the intake is started with ``notify_sender`` off unless the namespace is shared: it acknowledges
  by leaving a locked copy of its acknowledgement beside the deliveries (``exchange_ack_key``),
  which the sender's ``PortabilityTransfer`` polls for.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import Client

from activities.heartbeat import heartbeats
from rightsflow.catalog import Catalog
from rightsflow.claims import ClaimStore
from rightsflow.config import Settings
from rightsflow.contracts.transfer import (  # noqa: F401 - the scan's input and result are re-exported
    DeliveryNotice,
    InboxScanInput,
    InboxScanResult,
    IntakeInput,
)
from rightsflow.register import Register
from rightsflow.s3 import s3_client
from rightsflow.transfer_exchange import (
    NOTICE_KEY,
    audited,
    inbox_prefix,
    intake_workflow_id,
    notice_problem,
    read_json,
)


class TransferInboxActivities:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        register: Register,
        claims: ClaimStore | None = None,
        client: Client | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.claims = claims or ClaimStore(settings)
        self._client = client

    def _temporal(self) -> Client:
        return self._client or activity.client()

    def _s3(self, bucket: str) -> Any:
        return s3_client(self.settings) if bucket != self.claims.bucket else self.claims.client

    def _list(self, bucket: str, code: str) -> list[str]:
        keys: list[str] = []
        paginator = self._s3(bucket).get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=inbox_prefix(code)):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith("/notice.json")]
        return sorted(keys)

    def _read(self, bucket: str, key: str) -> dict[str, Any] | None:
        # None: removed since it was listed (the sender cleaned up); {}: not JSON (invalid)
        return read_json(self._s3(bucket), bucket, key)

    @activity.defn
    @heartbeats
    async def scan_transfer_inbox(self, inp: InboxScanInput) -> InboxScanResult:
        """Start (or signal) a TransferIntake for every notice in ``inbox/<code>/`` not yet taken."""
        from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
        from temporalio.exceptions import WorkflowAlreadyStartedError

        if not any(s.authority_code == inp.authority for s in self.catalog):
            raise ValueError(f"no service of authority {inp.authority} in this catalogue")
        bucket = inp.bucket or self.claims.bucket
        queue = inp.intake_task_queue or self.settings.task_queue
        out = InboxScanResult()
        keys = await asyncio.to_thread(self._list, bucket, inp.authority)
        out.notices = len(keys)
        for key in keys:
            if len(out.started) >= inp.limit:
                break
            m = NOTICE_KEY.match(key)
            marker = f"inbox:{inp.authority}:{m['tid']}:{m['attempt']}" if m else f"inbox:{key}"
            if await asyncio.to_thread(audited, self.register, marker):
                out.already_taken += 1
                continue
            doc = await asyncio.to_thread(self._read, bucket, key)
            if doc is None:
                continue
            problem = notice_problem(doc, key, inp.authority, bucket)
            if problem:
                out.invalid += 1
                await asyncio.to_thread(
                    self.register.audit,
                    f"{marker}:invalid",
                    actor="rightsflow",
                    action="transfer_intake.notice_invalid",
                    detail={"notice_key": key, "mismatched": problem},
                )
                continue
            tid = doc["transfer_id"]
            notice = DeliveryNotice(
                attempt=doc["attempt"], bucket=bucket, key=doc["key"], sha256=doc["sha256"]
            )
            outcome = "started"
            try:
                await self._temporal().start_workflow(
                    "TransferIntake",  # by its type name: activities never import workflow classes
                    IntakeInput(
                        transfer_id=tid,
                        from_authority=doc["from_authority"],
                        to_authority=inp.authority,
                        sender_workflow_id=doc["sender_workflow_id"],
                        notify_sender=inp.notify_sender,
                    ),
                    id=intake_workflow_id(tid),
                    task_queue=queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    start_signal="deliver",
                    start_signal_args=[notice],
                )
                out.started.append(tid)
            except WorkflowAlreadyStartedError:
                outcome = "intake already closed"
                out.closed += 1
            await asyncio.to_thread(
                self.register.audit,
                marker,
                actor="rightsflow",
                action="transfer_intake.notice_taken",
                request_id=tid,
                detail={"notice_key": key, "attempt": doc["attempt"], "outcome": outcome},
            )
        return out
