"""RetentionSweep on real Temporal servers, seeded stores and an S3 server (moto) with Object Lock."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date, timedelta

import typer
from sqlalchemy import func, select, text
from temporalio.client import Client
from temporalio.worker import Worker
from typer.testing import CliRunner

from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts
from rightsflow.catalog import load_catalog
from rightsflow.config import Settings
from rightsflow.db import engine_for_url
from rightsflow.register import Register
from rightsflow.retention import RetentionDisposal
from rightsflow.retention.batches import run_batches
from rightsflow.s3 import object_lock_of, s3_client
from rightsflow.seed import PERSON_TABLES, seed_stores
from tests.support import AS_OF, codec_client, seed_demo, store_urls
from workflows.retention_sweep import RetentionSweep, RetentionSweepInput, ServiceSweep

COUNT_KEYS = (
    "disposed",
    "anonymised",
    "archived",
    "retained_hold",
    "retained_linked",
    "retained_open_request",
    "retained_restricted",
    "retained_not_due",
    "awaiting_review",
)


def _people(s: Settings) -> tuple[set[str], set[str]]:
    """Every NHS number and full name in the stores (to look for in what the sweep writes)."""
    nhs, names = set(), set()
    for service, url in store_urls(s).items():
        table, _, nhs_col, _, given, family = PERSON_TABLES[service]
        with engine_for_url(url).connect() as c:
            for n, g, f in c.execute(text(f"SELECT {nhs_col}, {given}, {family} FROM {table}")):
                if n:
                    nhs.add(str(n).replace(" ", ""))
                names.add(f"{g} {f}")
    return nhs, names


def _activities(s: Settings) -> list:
    acts = RetentionActivities(s, load_catalog(s.catalog_dir), Register(s))
    return [acts.retention_services, acts.count_people, acts.sweep_batches, acts.finish_service]


@asynccontextmanager
async def _worker(client: Client, s: Settings) -> AsyncIterator[Client]:
    client = codec_client(client, s)
    with ThreadPoolExecutor(8) as pool:
        async with Worker(
            client,
            task_queue=s.task_queue,
            workflows=[RetentionSweep, ServiceSweep],
            activities=_activities(s),
            activity_executor=pool,
        ):
            yield client


async def _run(client: Client, s: Settings, **kw) -> object:  # type: ignore[no-untyped-def]
    return await client.execute_workflow(
        RetentionSweep.run,
        RetentionSweepInput(as_of=AS_OF.isoformat(), batch_size=25, **kw),
        id=f"retention-test-{uuid.uuid4().hex[:8]}",
        task_queue=s.task_queue,
    )


def _counts(result) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    return {r.service: {k: getattr(r.counts, k) for k in COUNT_KEYS} for r in result.services}


async def test_dry_run_and_sweep_agree_certificates_are_locked_and_hold_no_personal_data(
    rs, time_skipping_env
):
    seed_demo(store_urls(rs), families=60)
    nhs, names = _people(rs)
    async with _worker(time_skipping_env.client, rs) as client:
        dry = await _run(client, rs, dry_run=True)
        after_dry = _people(rs)
        real = await _run(client, rs)
        again = await _run(client, rs)
    assert after_dry == (nhs, names)  # the dry run changed nothing
    assert _counts(dry) == _counts(real)
    total = sum(c["disposed"] + c["anonymised"] + c["archived"] for c in _counts(real).values())
    assert total > 50 and sum(c["retained_hold"] for c in _counts(real).values()) > 0
    assert all(c["disposed"] == c["anonymised"] == 0 for c in _counts(again).values())  # nothing twice
    s3 = s3_client(rs)
    for r in real.services:
        if r.counts.disposed + r.counts.anonymised == 0:
            continue
        assert r.certificate_key and re.fullmatch(
            r"retention/certificates/[a-z_]+/sweep-2026-11-01-[0-9a-f]{12}\.html", r.certificate_key
        )
        lock = object_lock_of(s3, rs.s3_bucket, r.certificate_key)
        assert lock["mode"] == "COMPLIANCE" and lock["retain_until"].year >= 2050
        html = s3.get_object(Bucket=rs.s3_bucket, Key=r.certificate_key)["Body"].read().decode()
        manifest = s3.get_object(
            Bucket=rs.s3_bucket, Key=r.certificate_key.replace(".html", ".manifest.json")
        )
        body = html + manifest["Body"].read().decode()
        assert r.service in html
        assert all(
            rid in html for rid, t in r.counts.by_rule.items() if t.get("disposed") or t.get("anonymised")
        )
        digits = set(re.findall(r"\d{10}", re.sub(r"[0-9a-f]{64}", "", body)))
        assert not digits & nhs
        assert not any(n in body for n in names)
    # The register holds keyed-hash references only, all done.
    with Register(rs).engine.connect() as c:
        rows = c.execute(select(RetentionDisposal.__table__)).mappings().all()  # type: ignore[attr-defined]
    assert len(rows) == total and all(r["status"] == "done" and r["household_key"] is None for r in rows)


def test_archive_then_destroy_writes_a_locked_bagit_package(rs):
    from sqlalchemy.orm import Session

    from rightsflow.stores import SCHEMAS
    from rightsflow.stores import children_social_care as csc

    url = store_urls(rs)["lewisham_childrens_social_care"]
    engine = engine_for_url(url)
    SCHEMAS["lewisham_childrens_social_care"].create_all(engine)
    with Session(engine) as s, s.begin():
        s.add(csc.Person(person_id=1, forename="Test", surname="Person", date_of_birth=date(1995, 3, 1)))
        s.flush()
        s.add(
            csc.Episode(
                episode_id=1,
                person_id=1,
                episode_type="LAC",
                start_date=date(2000, 1, 1),
                end_date=date(2013, 3, 1),
            )
        )
        s.add(
            csc.CaseNote(
                note_id=1,
                person_id=1,
                recorded_at=date(2001, 1, 1),
                author_name="A",
                author_role="SW",
                note_text="note",
            )
        )
    acts = RetentionActivities(rs, load_catalog(rs.catalog_dir), Register(rs))
    inp = SweepBatchesInput(
        sweep_id="sweep-2026-11-01",
        service="lewisham_childrens_social_care",
        as_of=AS_OF.isoformat(),
        dry_run=False,
    )
    res = run_batches(acts, inp, None, SweepCounts())
    assert res.counts.archived == 1
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(csc.Person)).scalar() == 0
    with Register(rs).engine.connect() as c:
        row = c.execute(select(RetentionDisposal.__table__)).mappings().one()  # type: ignore[attr-defined]
    assert row["archive_until"] == date(2070, 3, 1)
    s3 = s3_client(rs)
    lock = object_lock_of(s3, rs.s3_bucket, row["archive_key"])
    assert lock["mode"] == "COMPLIANCE" and lock["retain_until"].date() == date(2070, 3, 2)
    bag = zipfile.ZipFile(
        io.BytesIO(s3.get_object(Bucket=rs.s3_bucket, Key=row["archive_key"])["Body"].read())
    )
    names = bag.namelist()
    assert any(n.endswith("bagit.txt") for n in names) and any(
        n.endswith("manifest-sha256.txt") for n in names
    )
    notes = json.loads(bag.read(next(n for n in names if n.endswith("data/lcs_case_note.json"))))
    assert notes[0]["note_text"] == "note"


_WORKER = """
import asyncio, dataclasses, sys
from concurrent.futures import ThreadPoolExecutor
from temporalio.client import Client
from temporalio.worker import Worker
from rightsflow.config import load_settings
from rightsflow.codec import data_converter
from rightsflow.catalog import load_catalog
from rightsflow.register import Register
from activities.retention import RetentionActivities
from workflows.retention_sweep import RetentionSweep, ServiceSweep

async def main():
    s = load_settings()
    client = await Client.connect(sys.argv[1], data_converter=data_converter(s))
    a = RetentionActivities(s, load_catalog(s.catalog_dir), Register(s))
    with ThreadPoolExecutor(4) as pool:
        async with Worker(client, task_queue=s.task_queue, workflows=[RetentionSweep, ServiceSweep],
                          activities=[a.retention_services, a.count_people, a.sweep_batches,
                                      a.finish_service],
                          activity_executor=pool):
            print("ready", flush=True)
            await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_killed_worker_resumes_without_double_disposal_or_loss(rs, dev_server_env):
    urls = store_urls(rs)
    hub = {"westminster_family_hub": urls["westminster_family_hub"]}
    seed_stores(hub, families=300, seed=5, as_of=AS_OF, progress=False)
    acts = RetentionActivities(rs, load_catalog(rs.catalog_dir), Register(rs))
    expected = run_batches(
        acts,
        SweepBatchesInput(
            sweep_id="dry",
            service="westminster_family_hub",
            as_of=AS_OF.isoformat(),
            dry_run=True,
            max_seconds=600,
        ),
        None,
        SweepCounts(),
    ).counts
    address = dev_server_env.client.service_client.config.target_host
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER, address],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    client = codec_client(dev_server_env.client, rs)
    try:
        assert proc.stdout and (await asyncio.to_thread(proc.stdout.readline)).startswith(b"ready")
        handle = await client.start_workflow(
            RetentionSweep.run,
            RetentionSweepInput(
                as_of=AS_OF.isoformat(),
                services=["westminster_family_hub"],
                batch_size=5,
                batch_pause_seconds=0.05,
                heartbeat_timeout_seconds=3,
            ),
            id=f"retention-kill-{uuid.uuid4().hex[:8]}",
            task_queue=rs.task_queue,
        )
        reg = Register(rs).engine
        t = RetentionDisposal.__table__  # type: ignore[attr-defined]
        for _ in range(400):
            with reg.connect() as c:
                n = c.execute(select(func.count()).select_from(t).where(t.c.status == "done")).scalar()
            if n and n >= 10:
                break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-sweep, mid-batch perhaps
        proc.wait()
        with reg.connect() as c:
            at_kill = c.execute(select(func.count()).select_from(t)).scalar()
        assert 0 < at_kill < expected.disposed
        async with _worker(dev_server_env.client, rs):
            result = await asyncio.wait_for(handle.result(), timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    with reg.connect() as c:
        rows = c.execute(select(t.c.household_ref, t.c.status)).all()
    assert len(rows) == expected.disposed  # each household once (the primary key), none lost
    assert {r[1] for r in rows} == {"done"}
    svc = result.services[0]
    assert svc.certificate_key
    # Nothing due is left in the store: a fresh dry run finds nothing to dispose.
    left = run_batches(
        acts,
        SweepBatchesInput(
            sweep_id="dry2",
            service="westminster_family_hub",
            as_of=AS_OF.isoformat(),
            dry_run=True,
            max_seconds=600,
        ),
        None,
        SweepCounts(),
    ).counts
    assert left.disposed == 0 and left.retained_hold == expected.retained_hold
    assert left.retained_not_due == expected.retained_not_due


async def test_the_daily_schedule_is_registered_once_with_overlap_skip(rs, dev_server_env):
    from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy

    from rightsflow.cli.sweep import ensure_retention_schedule

    client = codec_client(dev_server_env.client, rs)
    first = await ensure_retention_schedule(client, rs, paused=True)
    second = await ensure_retention_schedule(client, rs, hour=3, paused=True)  # updates, no duplicate
    assert first == second == "retention-sweep-daily"
    desc = await client.get_schedule_handle(first).describe()
    sched = desc.schedule
    assert sched.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert sched.policy.catchup_window == timedelta(days=3)
    assert isinstance(sched.action, ScheduleActionStartWorkflow) and sched.action.workflow == "RetentionSweep"
    cal = sched.spec.calendars[0]
    assert cal.hour[0].start == 3 and sched.spec.time_zone_name == "Europe/London"
    await client.get_schedule_handle(first).delete()


async def test_the_sweep_command_dry_run_prints_json_per_service(rs, time_skipping_env, monkeypatch):
    from rightsflow.cli.sweep import sweep

    seed_stores(store_urls(rs), families=30, seed=3, as_of=AS_OF, progress=False)
    app = typer.Typer()
    app.command()(sweep)
    app.command("noop")(lambda: None)
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_skipping_env.client.service_client.config.target_host)
    async with _worker(time_skipping_env.client, rs):
        out = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["sweep", "--as-of", "2026-11-01", "--service", "westminster_family_hub", "--dry-run", "--json"],
        )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["dry_run"] is True and [s["service"] for s in doc["services"]] == ["westminster_family_hub"]
    row = doc["services"][0]
    assert set(
        ("disposed", "anonymised", "archived", "retained_hold", "retained_linked", "retained_open_request")
    ) <= set(row)
    assert row["disposed"] > 0
    bad = CliRunner().invoke(app, ["sweep", "--as-of", "2026-11-01", "--dry-run", "--wait"])
    assert bad.exit_code == 2
