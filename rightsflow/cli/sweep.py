"""``rightsflow sweep`` and ``rightsflow schedule``: retention sweeps now, and every day.

``ensure_retention_schedule(client, settings)`` registers (or updates) the daily schedule; the
embedded stack calls it from ``rightsflow up``, production runs ``rightsflow schedule``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any

import typer

from rightsflow.contracts.retention import BATCH_PEOPLE

from .common import fail, is_terminal, settings_and_catalog

SCHEDULE_ID = "retention-sweep-daily"
SWEEP_WORKFLOW_ID = "retention-sweep"
MAX_BATCH_PEOPLE = 200_000  # past this a batch holds a store's locks for most of a sweep
BatchSize = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=100,
        max=MAX_BATCH_PEOPLE,
        help=(
            f"People per store transaction (default {BATCH_PEOPLE:,}); "
            "fewer hold each store's locks for less time."
        ),
    ),
]
REPORT_KEYS = (
    "service",
    "disposed",
    "anonymised",
    "archived",
    "retained_hold",
    "retained_linked",
    "retained_open_request",
)


async def ensure_retention_schedule(
    client: Any,
    settings: Any,
    *,
    hour: int = 2,
    minute: int = 30,
    catchup_window: timedelta = timedelta(days=3),
    paused: bool = False,
    batch_size: int = BATCH_PEOPLE,
) -> str:
    """Create or update the daily RetentionSweep schedule (overlap: skip; catch-up window). Returns its id.

    ``batch_size``: people per store transaction."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleCalendarSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleRange,
        ScheduleSpec,
        ScheduleState,
        ScheduleUpdate,
    )

    from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionSweep.run,
            RetentionSweepInput(approved_by="retention schedule", batch_size=batch_size),
            id=SWEEP_WORKFLOW_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])],
            time_zone_name="Europe/London",
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catchup_window),
        state=ScheduleState(paused=paused, note="Daily retention sweep (rightsflow)"),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(SCHEDULE_ID)
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
    return SCHEDULE_ID


def _report(result: Any) -> list[dict[str, Any]]:
    out = []
    for s in result.services:
        c = asdict(s.counts) if not isinstance(s.counts, dict) else s.counts
        row = {"service": s.service, **{k: c[k] for k in REPORT_KEYS[1:]}}
        row.update(
            retained_restricted=c["retained_restricted"],
            retained_not_due=c["retained_not_due"],
            retained_no_rule=c["retained_no_rule"],
            awaiting_review=c["awaiting_review"],
            households=c["households"],
            by_rule=c["by_rule"],
        )
        if not result.dry_run:
            row["certificate"] = s.certificate_key
            row["archives_purged"] = s.archives_purged
        out.append(row)
    return out


async def _run_sweep(
    settings: Any,
    as_of: str,
    services: list[str] | None,
    dry_run: bool,
    show: bool,
    approved_by: str,
    batch_size: int,
) -> Any:
    from rightsflow.codec import connect_client
    from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

    client = await connect_client(settings)
    wf_id = f"retention-{'dry-run' if dry_run else 'sweep'}-{as_of}-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        RetentionSweep.run,
        RetentionSweepInput(
            as_of=as_of, services=services, dry_run=dry_run, approved_by=approved_by, batch_size=batch_size
        ),
        id=wf_id,
        task_queue=settings.task_queue,
    )
    if not show:
        return await _result(settings, handle, wf_id)
    from rich.progress import Progress

    task = asyncio.ensure_future(_result(settings, handle, wf_id))
    with Progress(transient=True) as progress:
        bars: dict[str, Any] = {}
        while not task.done():
            for svc in services or []:
                try:
                    p = await client.get_workflow_handle(f"{wf_id}--{svc}").query("progress")
                except Exception:  # noqa: BLE001 - the child may not have started yet
                    continue
                if svc not in bars:
                    bars[svc] = progress.add_task(svc, total=max(p["people"], 1))
                progress.update(bars[svc], completed=min(p["households"], p["people"]))
            await asyncio.wait([task], timeout=0.5)
    return task.result()


async def _result(settings: Any, handle: Any, wf_id: str, patience: float = 900) -> Any:
    """The sweep's result, reconnecting when Temporal restarts mid-wait: the sweep carries on in
    the server, so losing the connection is no reason to report it failed."""
    import time

    from temporalio.service import RPCError

    from rightsflow.codec import connect_client

    give_up = time.monotonic() + patience
    while True:
        try:
            return await handle.result()
        except (RPCError, OSError) as exc:
            if "not found" in str(exc).lower() or time.monotonic() > give_up:
                raise
        await asyncio.sleep(2)
        try:
            handle = (await connect_client(settings)).get_workflow_handle(wf_id)
        except (RPCError, OSError, RuntimeError):
            continue  # still restarting


def sweep(
    as_of: Annotated[str, typer.Option("--as-of", help="Assess retention as of this date (YYYY-MM-DD).")],
    service: Annotated[
        list[str] | None, typer.Option("--service", help="Only this service (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be disposed; change nothing.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Run the sweep now and wait for it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    approved_by: Annotated[
        str, typer.Option("--approved-by", help="Named on the certificates.")
    ] = "records manager (rightsflow sweep)",
    batch_size: BatchSize = BATCH_PEOPLE,
) -> None:
    """Run a retention sweep now (--wait) or rehearse it (--dry-run); prints per-service counts."""
    if dry_run == wait:
        fail("give exactly one of --dry-run or --wait")
    from rightsflow.identity import EARLIEST_DATE, parse_day
    from rightsflow.keys import KeyMaterialError
    from rightsflow.nhs import InvalidIdentifier

    try:
        when = parse_day(as_of, "--as-of")
    except InvalidIdentifier as exc:
        fail(str(exc))
    # A sweep dated ahead would dispose of records before their time; a dry run changes nothing, so
    # a records manager may rehearse a later day's disposals (within the bank-holiday calendar).
    # Before 2000 is a typo.
    if when > date.today() and not dry_run:
        fail(
            "--as-of is in the future: a sweep disposes as of today or an earlier day "
            "(rehearse a later day with --dry-run)"
        )
    if when.year > 2099:
        fail("--as-of is after 2099: check the date")
    if when < EARLIEST_DATE:
        fail(f"--as-of is before {EARLIEST_DATE.isoformat()}: check the date")
    settings, catalog = settings_and_catalog()
    for s in service or []:
        if s not in catalog.ids:
            fail(f"no service {s!r} in the catalogue ({', '.join(catalog.ids)})")
    services = list(service) if service else catalog.ids
    try:
        result = asyncio.run(
            _run_sweep(
                settings,
                when.isoformat(),
                services,
                dry_run,
                is_terminal() and not as_json,
                approved_by,
                batch_size,
            )
        )
    except KeyMaterialError as exc:  # production keys not provided: say which and how
        fail(str(exc), code=1)
    except Exception as exc:  # the message names only the address
        fail(
            f"the sweep did not complete: {type(exc).__name__}: is the worker running at "
            f"{settings.temporal_address}?",
            code=1,
        )
    rows = _report(result)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "sweep_id": result.sweep_id,
                    "as_of": result.as_of,
                    "dry_run": result.dry_run,
                    "services": rows,
                },
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Retention {'dry run' if dry_run else 'sweep'} as of {result.as_of}")
    cols = [
        "service",
        "disposed",
        "anonymised",
        "archived",
        "retained_hold",
        "retained_linked",
        "retained_open_request",
        "retained_restricted",
        "awaiting_review",
        "retained_not_due",
    ]
    for c in cols:
        table.add_column(c.replace("retained_", "kept: ").replace("_", " "))
    for r in rows:
        table.add_row(*(str(r[c]) for c in cols))
    Console().print(table)


def schedule(
    hour: Annotated[
        int, typer.Option("--hour", min=0, max=23, help="Hour of the daily run (Europe/London).")
    ] = 2,
    minute: Annotated[int, typer.Option("--minute", min=0, max=59)] = 30,
    catchup_days: Annotated[int, typer.Option("--catchup-days", min=0, help="Catch-up window in days.")] = 3,
    paused: Annotated[bool, typer.Option("--paused", help="Register the schedule paused.")] = False,
    batch_size: BatchSize = BATCH_PEOPLE,
) -> None:
    """Register (or update) the daily retention sweep schedule on the Temporal cluster."""
    settings, _ = settings_and_catalog()

    async def go() -> str:
        from rightsflow.codec import connect_client

        client = await connect_client(settings)
        return await ensure_retention_schedule(
            client,
            settings,
            hour=hour,
            minute=minute,
            batch_size=batch_size,
            catchup_window=timedelta(days=catchup_days),
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
        f"schedule {schedule_id}: daily at {hour:02d}:{minute:02d} Europe/London, overlap skip, "
        f"catch-up {catchup_days} day(s){' (paused)' if paused else ''}"
    )
