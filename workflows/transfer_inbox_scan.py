"""TransferInboxScan: one pass over a receiving authority's inbox (run by a Temporal Schedule).

For receivers on another Temporal deployment than the sender's: every ``notice.json`` under
``inbox/<code>/`` not yet taken starts that transfer's ``TransferIntake`` (deterministic id
``intake-<transfer id>``; a running intake is only signalled, a finished one never restarted). See
``activities/transfer_inbox.py``. Registered by ``rightsflow intake-schedule --authority CODE``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.kit import HEARTBEAT

with workflow.unsafe.imports_passed_through():
    from rightsflow.contracts.transfer import InboxScanInput, InboxScanResult

QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class TransferInboxScan:
    @workflow.run
    async def run(self, inp: InboxScanInput) -> InboxScanResult:
        return await workflow.execute_activity(
            "scan_transfer_inbox",
            inp,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            result_type=InboxScanResult,
            retry_policy=QUICK,
        )
