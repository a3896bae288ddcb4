"""``rightsflow intake-schedule --authority CODE``: a receiving authority's inbox scan, on a schedule.

For a receiving authority on its own Temporal deployment (no signal from the sender can reach it):
registers (or updates) a Temporal Schedule that runs ``TransferInboxScan`` every few minutes on
this worker's task queue; each run starts a ``TransferIntake`` for every new delivery notice in
``inbox/<code>/`` of the sender's bucket (``--bucket``; default this deployment's bucket), and the
intake acknowledges through S3. Overlap: skip (a slow scan is never run twice at once).
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Annotated, Any

import typer

from .common import fail, settings_and_catalog

_CODE = re.compile(r"^[a-z][a-z0-9_-]{1,40}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def intake_schedule_id(authority: str, bucket: str) -> str:
    return f"transfer-inbox-{authority}-{bucket}"


async def ensure_intake_schedule(
    client: Any,
    settings: Any,
    *,
    authority: str,
    bucket: str | None = None,
    every: timedelta = timedelta(minutes=15),
    notify_sender: bool = False,
    paused: bool = False,
) -> str:
    """Create or update the inbox-scan schedule for ``authority``; returns its id."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
        ScheduleState,
        ScheduleUpdate,
    )

    from rightsflow.contracts.transfer import InboxScanInput
    from workflows.transfer_inbox_scan import TransferInboxScan

    bucket = bucket or settings.s3_bucket
    schedule_id = intake_schedule_id(authority, bucket)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            TransferInboxScan.run,
            InboxScanInput(
                authority=authority,
                bucket=bucket,
                intake_task_queue=settings.task_queue,
                notify_sender=notify_sender,
            ),
            id=schedule_id,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=every),
        state=ScheduleState(paused=paused, note=f"Transfer inbox scan for {authority} (rightsflow)"),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(lambda _: ScheduleUpdate(schedule=schedule))
    return schedule_id


def intake_schedule(
    authority: Annotated[
        str, typer.Option("--authority", help="This (receiving) authority's code, e.g. camden.")
    ],
    bucket: Annotated[
        str | None,
        typer.Option("--bucket", help="The sender's bucket holding inbox/<code>/ (default: ours)."),
    ] = None,
    every_minutes: Annotated[int, typer.Option("--every-minutes", min=1, help="How often to scan.")] = 15,
    notify_sender: Annotated[
        bool,
        typer.Option(
            "--notify-sender/--no-notify-sender",
            help="Also signal the sender's workflow (only where both share this Temporal namespace).",
        ),
    ] = False,
    paused: Annotated[bool, typer.Option("--paused", help="Register the schedule paused.")] = False,
) -> None:
    """Register (or update) the schedule that scans this authority's transfer inbox."""
    settings, catalog = settings_and_catalog()
    if not _CODE.match(authority):
        fail("--authority must be an authority code (lower case letters, digits, '-' or '_')")
    if not any(s.authority_code == authority for s in catalog):
        fail(f"--authority: no service of authority {authority!r} in this catalogue")
    if bucket is not None and not _BUCKET.match(bucket):
        fail("--bucket must be an S3 bucket name")

    async def go() -> str:
        from rightsflow.codec import connect_client

        client = await connect_client(settings)
        return await ensure_intake_schedule(
            client,
            settings,
            authority=authority,
            bucket=bucket,
            every=timedelta(minutes=every_minutes),
            notify_sender=notify_sender,
            paused=paused,
        )

    try:
        schedule_id = asyncio.run(go())
    except Exception as exc:
        fail(
            f"could not register the schedule: {type(exc).__name__}: is Temporal at "
            f"{settings.temporal_address}?",
            code=1,
        )
    typer.echo(
        f"schedule {schedule_id}: every {every_minutes} minute(s) on task queue {settings.task_queue}, "
        f"overlap skip{' (paused)' if paused else ''}"
    )
