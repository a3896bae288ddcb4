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
import json
import re
from typing import Any

from botocore.exceptions import ClientError
from temporalio import activity
from temporalio.client import Client

from activities.subject_access import ClaimStore
from activities.transfer import (
    DeliveryNotice,
    IntakeInput,
    _audited,
    intake_workflow_id,
)
from rightsflow.catalog import Catalog
from rightsflow.config import Settings
from rightsflow.contracts.transfer import InboxScanInput, InboxScanResult  # noqa: F401 - re-exported
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, s3_client

_OPAQUE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NOTICE = re.compile(r"^inbox/(?P<code>[^/]+)/(?P<tid>[^/]+)/attempt-(?P<attempt>[0-9]{1,4})/notice\.json$")


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

    def _list(self, bucket: str, code: str) -> list[str]:
        s3 = s3_client(self.settings) if bucket != self.claims.bucket else self.claims.client
        keys: list[str] = []
        prefix = opaque_key("inbox", code) + "/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith("/notice.json")]
        return sorted(keys)

    def _read(self, bucket: str, key: str) -> dict[str, Any] | None:
        s3 = s3_client(self.settings) if bucket != self.claims.bucket else self.claims.client
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None  # removed since it was listed (the sender cleaned up)
            raise
        except ValueError:
            return {}

    @staticmethod
    def _check(doc: dict[str, Any], key: str, code: str, bucket: str) -> str | None:
        """None when the notice agrees with where it lies; else what is wrong (no values)."""
        m = _NOTICE.match(key)
        if not m or m["code"] != code:
            return "key"
        tid, attempt = m["tid"], int(m["attempt"])
        if not _OPAQUE_ID.match(tid) or doc.get("transfer_id") != tid:
            return "transfer_id"
        if doc.get("to_authority") != code:
            return "to_authority"
        if doc.get("attempt") != attempt:
            return "attempt"
        if doc.get("bucket") != bucket or doc.get("key") != key.rsplit("/", 1)[0] + "/package.zip":
            return "package location"
        if not re.fullmatch(r"[0-9a-f]{64}", str(doc.get("sha256", ""))):
            return "sha256"
        if not _OPAQUE_ID.match(str(doc.get("from_authority", ""))):
            return "from_authority"
        if not _OPAQUE_ID.match(str(doc.get("sender_workflow_id", ""))):
            return "sender_workflow_id"
        return None

    @activity.defn
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
            m = _NOTICE.match(key)
            marker = f"inbox:{inp.authority}:{m['tid']}:{m['attempt']}" if m else f"inbox:{key}"
            if await asyncio.to_thread(_audited, self.register, marker):
                out.already_taken += 1
                continue
            doc = await asyncio.to_thread(self._read, bucket, key)
            if doc is None:
                continue
            problem = self._check(doc, key, inp.authority, bucket)
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
