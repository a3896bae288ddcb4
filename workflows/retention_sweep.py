"""RetentionSweep: dispose of what the retention schedule says is due, one child workflow per service.

The parent picks the services and the as-of date (the workflow's own clock when not given) and
waits for a ServiceSweep child per service. Each child counts the people (for progress), then
calls ``sweep_batches`` until the store is done — each call works for a bounded time, heartbeating
its cursor so a killed worker resumes where it stopped — and continues as new every
CONTINUE_EVERY calls so its history stays small. A real sweep ends with ``finish_service``
(reconcile, purge expired archives, certificate, audit). Ids, inputs and results carry service
ids, dates, counts and opaque store keys only.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.kit import HEARTBEAT

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import LONDON
    from rightsflow.contracts.retention import (
        FinishServiceInput,
        FinishServiceResult,
        RetentionSweepInput,
        RetentionSweepResult,
        ReviewRemindersInput,
        ReviewRemindersResult,
        ServiceSweepInput,
        ServiceSweepResult,
        SweepBatchesInput,
        SweepBatchesResult,
        SweepCounts,
    )

CONTINUE_EVERY = 40  # sweep_batches calls per run: ~250 events, far below Temporal's limits
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    backoff_coefficient=2.0,
    non_retryable_error_types=["RetentionPlanError"],
)


# Reminders: a few tries, then tomorrow's sweep; a worker that lacks the activity is not retried.
REMINDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
    non_retryable_error_types=["NotFoundError"],
)










def sweep_id_for(as_of: str, dry_run: bool, run_id: str | None = None) -> str:
    """``sweep-2026-11-21-<12 hex of the run id>`` (without a run id: the day's id of older sweeps)."""
    base = f"{'dry-run' if dry_run else 'sweep'}-{as_of}"
    return f"{base}-{run_id.replace('-', '')[:12]}" if run_id else base


@workflow.defn
class ServiceSweep:
    def __init__(self) -> None:
        self._seen = 0
        self._people = 0

    @workflow.query
    def progress(self) -> dict[str, int]:
        return {"households": self._seen, "people": self._people}

    @workflow.run
    async def run(self, inp: ServiceSweepInput) -> ServiceSweepResult:
        counts = inp.counts or SweepCounts()
        if inp.people is None:
            inp.people = await workflow.execute_activity(
                "count_people",
                inp.service,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=HEARTBEAT,
                result_type=int,
                retry_policy=STORE_RETRY,
            )
        self._people, self._seen = inp.people, counts.households
        cursor = inp.cursor
        for _ in range(CONTINUE_EVERY):
            res = await workflow.execute_activity(
                "sweep_batches",
                SweepBatchesInput(
                    sweep_id=inp.sweep_id,
                    service=inp.service,
                    as_of=inp.as_of,
                    dry_run=inp.dry_run,
                    cursor=cursor,
                    batch_size=inp.batch_size,
                    batch_pause_seconds=inp.batch_pause_seconds,
                ),
                start_to_close_timeout=timedelta(hours=1),
                result_type=SweepBatchesResult,
                heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_seconds),
                retry_policy=STORE_RETRY,
            )
            counts.add(res.counts)
            cursor = res.cursor
            self._seen = counts.households
            if res.done:
                break
        else:
            workflow.continue_as_new(
                ServiceSweepInput(
                    **{**inp.__dict__, "cursor": cursor, "counts": counts, "runs": inp.runs + 1}
                )
            )
        result = ServiceSweepResult(
            service=inp.service, dry_run=inp.dry_run, counts=counts, runs=inp.runs + 1
        )
        if not inp.dry_run:
            fin: FinishServiceResult = await workflow.execute_activity(
                "finish_service",
                FinishServiceInput(
                    sweep_id=inp.sweep_id,
                    service=inp.service,
                    as_of=inp.as_of,
                    approved_by=inp.approved_by,
                    counts=counts,
                ),
                start_to_close_timeout=timedelta(minutes=30),
                # the certificate step renders PDFs and uploads: a dead worker's is retried in seconds
                heartbeat_timeout=HEARTBEAT,
                result_type=FinishServiceResult,
                retry_policy=STORE_RETRY,
            )
            result.certificate_key, result.archives_purged = fin.certificate_key, fin.archives_purged
        return result


@workflow.defn
class RetentionSweep:
    @workflow.run
    async def run(self, inp: RetentionSweepInput) -> RetentionSweepResult:
        # Versioned: sweeps started before this change replay with the UTC date and a per-day id.
        per_run = workflow.patched("retention-sweep-per-run-id")
        today = workflow.now().astimezone(LONDON) if per_run else workflow.now()
        as_of = inp.as_of or today.date().isoformat()
        services = inp.services or await workflow.execute_activity(
            "retention_services", start_to_close_timeout=timedelta(seconds=30), result_type=list[str]
        )
        # Each run its own id, so its own certificate and audit entry: a second sweep on the same
        # day (after review decisions, say) certifies what it disposed of instead of finding the
        # first run's certificate already locked under the day's id.
        sweep_id = sweep_id_for(as_of, inp.dry_run, workflow.info().run_id if per_run else None)
        parent = workflow.info().workflow_id

        async def one(service: str) -> ServiceSweepResult:
            return await workflow.execute_child_workflow(
                ServiceSweep.run,
                ServiceSweepInput(
                    sweep_id=sweep_id,
                    service=service,
                    as_of=as_of,
                    dry_run=inp.dry_run,
                    approved_by=inp.approved_by,
                    batch_size=inp.batch_size,
                    batch_pause_seconds=inp.batch_pause_seconds,
                    heartbeat_timeout_seconds=inp.heartbeat_timeout_seconds,
                ),
                id=f"{parent}--{service}",
            )

        results = await asyncio.gather(*(one(s) for s in services))
        result = RetentionSweepResult(
            sweep_id=sweep_id, as_of=as_of, dry_run=inp.dry_run, services=list(results)
        )
        # Versioned: sweeps started before reminders existed replay without the activity.
        if not inp.dry_run and workflow.patched("retention-review-reminders"):
            try:
                sent: ReviewRemindersResult = await workflow.execute_activity(
                    "review_reminders",
                    ReviewRemindersInput(as_of=as_of, services=inp.services),
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=HEARTBEAT,
                    result_type=ReviewRemindersResult,
                    retry_policy=REMINDER_RETRY,
                )
                result.review_reminders = sent.sent
            except ActivityError:
                # The disposals are done and recorded; reminders are worked out from dates, so
                # tomorrow's sweep sends any missed today. A worker without the activity must not
                # keep a finished sweep open.
                workflow.logger.warning("retention %s: review reminders not sent", sweep_id)
        return result
