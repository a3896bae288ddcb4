"""A worker killed mid-sweep loses nothing and does nothing twice.

The real worker (``python -m rightsflow.worker``) runs as its own OS process against the test's
Temporal dev server and a moto S3 server; it is SIGKILLed while a RetentionSweep is disposing of
households, and a second worker process finishes the sweep. The outcome is compared with what an
uninterrupted run does to an identical copy of the stores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select

from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts
from rightsflow.catalog import load_catalog
from rightsflow.config import REPO_ROOT, Settings
from rightsflow.db import dispose_all, engine_for_url
from rightsflow.register import Register
from rightsflow.retention import RetentionDisposal
from rightsflow.retention.batches import run_batches
from rightsflow.seed import seed_stores
from tests.support import AS_OF, codec_client, store_urls, worker_process_env
from tests.test_retention_sweep import COUNT_KEYS
from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

SERVICES = ["westminster_family_hub", "manchester_thriving_families"]  # destroy; destroy + anonymise
FAMILIES = 150


def _predict(s: Settings, service: str, *, dry_run: bool, sweep_id: str) -> SweepCounts:
    acts = RetentionActivities(s, load_catalog(s.catalog_dir), Register(s))
    inp = SweepBatchesInput(
        sweep_id=sweep_id,
        service=service,
        as_of=AS_OF.isoformat(),
        dry_run=dry_run,
        batch_size=50,
        max_seconds=600,
    )
    res = run_batches(acts, inp, None, SweepCounts())
    assert res.done
    return res.counts


def _store_contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = engine_for_url(url)
    md = MetaData()
    md.reflect(engine)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as c:
        for name, t in sorted(md.tables.items()):
            out[name] = sorted((tuple(r) for r in c.execute(select(t))), key=repr)
    return out


def _disposals(s: Settings) -> list[tuple[str, str, str, str, str]]:
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    with Register(s).engine.connect() as c:
        rows = c.execute(select(t.c.service, t.c.household_ref, t.c.rule_id, t.c.action, t.c.status)).all()
    return sorted(tuple(r) for r in rows)  # type: ignore[misc]


def _copy_home(s: Settings, dest: Path) -> Settings:
    """The same stores, register and keys in another home (the uninterrupted reference)."""
    dispose_all()
    shutil.copytree(s.home, dest)
    return dataclasses.replace(
        s,
        home=dest,
        register_url=f"sqlite:///{dest / 'register.db'}",
        codec_key_file=dest / "keys" / "codec.key",
        hash_key_file=dest / "keys" / "hash.key",
    )


class WorkerProcess:
    """``python -m rightsflow.worker`` in its own process, output to a log file."""

    def __init__(self, env: dict[str, str], log: Path, command: list[str] | None = None) -> None:
        self.log = log
        self._fh = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, *(command or ["-m", "rightsflow.worker"])],
            env=env,
            cwd=REPO_ROOT,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, timeout: float = 30) -> None:
        for _ in range(int(timeout * 20)):
            if b"task queue" in self.log.read_bytes():
                return
            assert self.proc.poll() is None, self.log.read_text()
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker not ready: {self.log.read_text()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()


def _env_for(s: Settings, dev_server_env: Any) -> dict[str, str]:
    """The environment of a worker process for the settings, on the test's dev server."""
    target = dev_server_env.client.service_client.config.target_host
    return worker_process_env(s.home, target, s, s.s3_endpoint or "")


@pytest.fixture
def worker_env(rs: Settings, dev_server_env: Any) -> Iterator[dict[str, str]]:
    yield _env_for(rs, dev_server_env)


@pytest.mark.devserver
async def test_a_killed_worker_process_loses_nothing_and_does_nothing_twice(
    rs: Settings,
    dev_server_env: Any,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    urls = store_urls(rs)
    seed_stores({s: urls[s] for s in SERVICES}, families=FAMILIES, seed=5, as_of=AS_OF, progress=False)
    predicted = {s: _predict(rs, s, dry_run=True, sweep_id="dry-run-check") for s in SERVICES}
    assert all(predicted[s].disposed + predicted[s].anonymised > 20 for s in SERVICES)

    # The uninterrupted reference: the same sweep, in process, on a copy of everything.
    ref = _copy_home(rs, tmp_path / "reference")
    ref_urls = store_urls(ref)
    sweep_id = f"sweep-{AS_OF.isoformat()}"
    for s in SERVICES:
        done = _predict(ref, s, dry_run=False, sweep_id=sweep_id)
        assert {k: getattr(done, k) for k in COUNT_KEYS} == {k: getattr(predicted[s], k) for k in COUNT_KEYS}

    client = codec_client(dev_server_env.client, rs)
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    reg = Register(rs).engine
    first = WorkerProcess(worker_env, tmp_path / "worker-1.log")
    second: WorkerProcess | None = None
    try:
        await first.ready()
        handle = await client.start_workflow(
            RetentionSweep.run,
            RetentionSweepInput(
                as_of=AS_OF.isoformat(),
                services=SERVICES,
                batch_size=4,
                batch_pause_seconds=0.05,
                heartbeat_timeout_seconds=2,
            ),
            id=f"retention-durability-{uuid.uuid4().hex[:8]}",
            task_queue=rs.task_queue,
        )
        # Kill once both services have disposed of some households (batches committed, heartbeats sent).
        for _ in range(600):
            with reg.connect() as c:
                per = dict(
                    c.execute(
                        select(t.c.service, func.count()).where(t.c.status == "done").group_by(t.c.service)
                    ).all()
                )
            if all(per.get(s, 0) >= 6 for s in SERVICES):
                break
            await asyncio.sleep(0.05)
        first.kill()
        with reg.connect() as c:
            at_kill = c.execute(select(func.count()).select_from(t)).scalar_one()
        expected_total = sum(predicted[s].disposed + predicted[s].anonymised for s in SERVICES)
        assert 0 < at_kill < expected_total, "the kill must come mid-sweep"

        second = WorkerProcess(worker_env, tmp_path / "worker-2.log")
        await second.ready()
        result = await asyncio.wait_for(handle.result(), timeout=60)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    # The counts the sweep reports are the counts the dry run predicted.
    got = {r.service: {k: getattr(r.counts, k) for k in (*COUNT_KEYS, "households")} for r in result.services}
    want = {s: {k: getattr(predicted[s], k) for k in (*COUNT_KEYS, "households")} for s in SERVICES}
    assert got == want
    assert all(r.certificate_key for r in result.services)
    # The disposal register holds each household once, all done, the same as the reference run's.
    rows = _disposals(rs)
    assert len({(r[0], r[1]) for r in rows}) == len(rows) == expected_total
    assert {r[4] for r in rows} == {"done"}
    assert [r[:4] for r in rows] == [r[:4] for r in _disposals(ref)]
    # Every store holds exactly what the uninterrupted run left: nothing that should stay was
    # deleted, nothing due was left behind, nothing was anonymised twice.
    for s in SERVICES:
        assert _store_contents(urls[s]) == _store_contents(ref_urls[s]), s


class _Died(Exception):
    """The worker process dies here (raised from inside the sweep)."""


@pytest.mark.parametrize("dies", ["after_store_commit", "inside_store_transaction"])
@pytest.mark.parametrize("service", ["westminster_family_hub", "manchester_thriving_families"])
def test_a_batch_interrupted_around_its_store_commit_is_counted_once(
    rs: Settings,
    monkeypatch: pytest.MonkeyPatch,
    dies: str,
    service: str,
) -> None:
    """The narrow window the kill test rarely hits: the store transaction has (or has not)
    committed, the register's record of the batch has not. Thriving Families anonymises: its
    interrupted batch is run again, and finds households already cleared but still pending."""
    import rightsflow.retention.batches as retention

    seed_stores({service: store_urls(rs)[service]}, families=40, seed=5, as_of=AS_OF, progress=False)
    predicted = _predict(rs, service, dry_run=True, sweep_id="dry-run-check")
    acts = RetentionActivities(rs, load_catalog(rs.catalog_dir), Register(rs))
    inp = SweepBatchesInput(
        sweep_id="sweep-window",
        service=service,
        as_of=AS_OF.isoformat(),
        dry_run=False,
        batch_size=5,
        max_seconds=600,
    )
    anonymises = predicted.anonymised > 0
    store_step = "anonymise_rows" if anonymises else "destroy_rows"
    target = "record_done" if dies == "after_store_commit" else store_step
    real = getattr(retention, target)

    def die(*args: Any, **kw: Any) -> Any:
        raise _Died

    monkeypatch.setattr(retention, target, die)
    with pytest.raises(_Died):
        run_batches(acts, inp, None, SweepCounts(), progress_key="attempt-key")
    monkeypatch.setattr(retention, target, real)

    # What sweep_batches does on the retry: resume from the register, else from the start.
    resumed = retention.resume_progress(acts, inp, "attempt-key")
    cursor, counts, finished = resumed or (None, SweepCounts(), False)
    if anonymises:
        # An anonymising batch is run again either way: its pending rows make that safe.
        assert counts.anonymised == 0
    elif dies == "after_store_commit":
        assert counts.disposed > 0  # the committed batch is counted ...
    else:
        assert counts.disposed == 0  # ... an uncommitted one is not
    res = run_batches(acts, inp, cursor, counts, progress_key="attempt-key")
    assert res.done and not finished
    assert {k: getattr(res.counts, k) for k in (*COUNT_KEYS, "households", "by_rule")} == {
        k: getattr(predicted, k) for k in (*COUNT_KEYS, "households", "by_rule")
    }
    rows = _disposals(rs)
    # Each household is recorded under the rule the dry run named, finished or not.
    disposing = ("disposed", "anonymised", "archived")
    want_rules = {rule: sum(t.get(k, 0) for k in disposing) for rule, t in predicted.by_rule.items()}
    assert Counter(r[2] for r in rows) == Counter({rule: n for rule, n in want_rules.items() if n})
    assert len(rows) == predicted.disposed + predicted.anonymised and {r[4] for r in rows} == {"done"}


# -- a subject access request whose worker dies mid-activity --------------------------------------

# The first worker: the real worker, except that the step under test never finishes (it writes a
# marker, then sleeps while the activity's heartbeats go on), so the test can kill it right there.
STALLING_WORKER = """
import os, pathlib, time
import activities.subject_access as sar
step = os.environ["RF_STALL_STEP"]
marker = pathlib.Path(os.environ["RF_STALL_MARKER"])
name = {"gather": "gather_records", "pack": "pack_files"}[step]
def stall(*args, **kwargs):
    marker.write_text(step)
    time.sleep(3600)
setattr(sar, name, stall)
from rightsflow.worker import main
main()
"""


@pytest.mark.devserver
@pytest.mark.parametrize("step", ["gather", "pack"])
async def test_a_sar_whose_worker_is_killed_mid_activity_resumes_within_a_minute_of_a_new_worker(
    step: str, sar_settings: Settings, dev_server_env: Any, tmp_path: Path
) -> None:
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.s3 import s3_client
    from rightsflow.seed import shared_child_example
    from workflows.subject_access import ApproveInput, SarInput, SubjectAccessRequest, VerifyInput

    s = sar_settings
    child = shared_child_example(store_urls(s))
    client = codec_client(dev_server_env.client, s)
    register = Register(s)
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=child.nhs_number))
    today = date.today()
    controller = load_catalog(s.catalog_dir)[child.services[0]].controller
    req = register.create_request(
        "subject_access", ref, received_on=today, requester="self", controller=controller
    )
    marker = tmp_path / "stalled"
    env = _env_for(s, dev_server_env)
    first = WorkerProcess(
        {**env, "RF_STALL_STEP": step, "RF_STALL_MARKER": str(marker)},
        tmp_path / "worker-1.log",
        ["-c", STALLING_WORKER],
    )
    second: WorkerProcess | None = None
    try:
        await first.ready()
        handle = await client.start_workflow(
            SubjectAccessRequest.run,
            SarInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=today.isoformat(),
                services=list(child.services),
            ),
            id=f"sar-{req.request_id}",
            task_queue=s.task_queue,
        )
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        if step == "pack":
            for _ in range(600):
                if (await handle.query(SubjectAccessRequest.status)).stage == "awaiting_review":
                    break
                await asyncio.sleep(0.1)
            await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        for _ in range(600):
            if marker.exists():
                break
            await asyncio.sleep(0.1)
        assert marker.exists(), first.log.read_text()
        await asyncio.sleep(1)  # a heartbeat or two reach the server before the worker dies
        first.kill()

        second = WorkerProcess(env, tmp_path / "worker-2.log")
        await second.ready()

        async def finish() -> Any:
            if step == "gather":
                for _ in range(1200):
                    if (await handle.query(SubjectAccessRequest.status)).stage == "awaiting_review":
                        break
                    await asyncio.sleep(0.05)
                await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
            return await handle.result()

        # Heartbeats stop with the killed worker: its activity runs again on the new worker after
        # the heartbeat timeout (about 30 s), not after the ten-minute start-to-close timeout.
        result = await asyncio.wait_for(finish(), timeout=60)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert result.outcome == "delivered" and result.pack is not None
    trail = [e.action for e in register.audit_trail(req.request_id)]
    assert trail.count("subject_access.pack_sent") == 1 and trail.count("subject_access.delivered") == 1
    gathered = [
        e.service for e in register.audit_trail(req.request_id) if e.action == "subject_access.gathered"
    ]
    assert len(gathered) == len(set(gathered)) and set(child.services) <= set(gathered)
    listed = s3_client(s).list_objects_v2(Bucket=s.s3_bucket, Prefix="packs/").get("Contents", [])
    assert [o["Key"] for o in listed] == [result.pack.pack_key]
