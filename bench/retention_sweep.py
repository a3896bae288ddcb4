"""Benchmark: a RetentionSweep through Temporal against a raw set-based SQL disposal of the same rows.

For each backend (SQLite, PostgreSQL) the chosen stores (``--service``, repeatable; default: every
store with a baseline) are seeded with ``--families`` families each, then copied (SQLite backup /
CREATE DATABASE ... TEMPLATE), so both contenders start from identical data in the same run:

* sweep: one RetentionSweep workflow per store on the Temporal dev server, stores one after the
  other, with a worker in its own process (its peak RSS, VmHWM, reset before each store, is what
  is reported), certificates and archives to SeaweedFS (``--s3 moto``: a moto server in this
  process);
* baseline: hand-written set-based SQL (bench/retention_baseline.py), one transaction per store:
  households (the group column; for Lewisham Early Help and children's social care, connected
  components of the membership or relationship graph by a recursive CTE), the due test of every
  rule of the store's schedule, holds and restrictions, then one DELETE (or UPDATE, for the
  anonymised) per table, children first. SQLite connections use the store engine's pragmas (WAL,
  foreign_keys=ON), so both enforce the same foreign keys (PostgreSQL always does).

Stores covered: westminster_family_hub and lewisham_family_thrive (destroy after three years from
the last contact); manchester_thriving_families (anonymise after three years from the last
intervention, the tie with the destroy rule going to the more careful action; households whose
evaluation extract review runs as late or later are kept awaiting review); lewisham_early_help
(households are cases joined through shared members); lewisham_childrens_social_care (date of birth
+ 25 years, closure + 35 years, 6-year contact and pre-birth rules; review households are kept;
archive_then_destroy households are archived to S3 by the sweep and then deleted: the baseline just
deletes them, it archives nothing).

Both must leave the same rows behind: every table's row count and an order-independent digest of
its rows' contents are compared, and both must have disposed of as many households and people
(``same_rows``). Prints, per store and in total: households
assessed, households disposed, people disposed, rows deleted or updated by the baseline, wall
times, their ratio, households assessed per second by the sweep and the worker's peak memory. Run:

    python bench/retention_sweep.py --families 20000 --backend sqlite --backend postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.retention_baseline import BaselineResult, baseline  # noqa: E402
from rightsflow.catalog import load_catalog  # noqa: E402
from rightsflow.seed import seed_stores  # noqa: E402
from workflows.retention_sweep import RetentionSweepInput  # noqa: E402

SHIPPED_BATCH_SIZE = RetentionSweepInput.batch_size
from rightsflow.stores import SCHEMAS  # noqa: E402

AS_OF = date(2026, 11, 1)
SERVICES = (  # the stores with a baseline
    "westminster_family_hub",
    "lewisham_family_thrive",
    "manchester_thriving_families",
    "lewisham_early_help",
    "lewisham_childrens_social_care",
)
PG_ADMIN = os.environ.get("RIGHTSFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent

WORKER = """
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from temporalio.client import Client
from temporalio.worker import Worker
from rightsflow.config import load_settings
from rightsflow.codec import data_converter
from rightsflow.catalog import load_catalog
from rightsflow.register import Register
from rightsflow.memory import limit_malloc_arenas
from activities.retention import RetentionActivities
from workflows.retention_sweep import RetentionSweep, ServiceSweep

async def main():
    import logging
    logging.basicConfig(level=logging.WARNING)
    limit_malloc_arenas()  # as rightsflow.worker does, before any thread starts
    s = load_settings()
    client = await Client.connect(sys.argv[1], data_converter=data_converter(s))
    a = RetentionActivities(s, load_catalog(s.catalog_dir), Register(s))
    with ThreadPoolExecutor(4) as pool:
        async with Worker(client, task_queue=s.task_queue, workflows=[RetentionSweep, ServiceSweep],
                          activities=[a.retention_services, a.count_people, a.sweep_batches,
                                      a.finish_service, a.review_reminders], activity_executor=pool):
            print("ready", flush=True)
            await asyncio.Event().wait()

asyncio.run(main())
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def table_digests(url: str, service: str) -> dict[str, tuple[int, int]]:
    """Per table: (rows, order-independent digest of the rows' contents)."""
    engine = create_engine(url)
    out: dict[str, tuple[int, int]] = {}
    with engine.connect() as conn:
        for t in SCHEMAS[service].sorted_tables:
            n = acc = 0
            for row in conn.execute(select(t)).yield_per(20_000):
                n += 1
                acc = (acc + hash(tuple(row))) & 0xFFFFFFFFFFFFFFFF
            out[t.name] = (n, acc)
    engine.dispose()
    return out


def reset_vm_hwm(pid: int) -> None:
    """Start the peak-RSS count afresh (Linux: 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class SweepRun:
    seconds: float
    peak_kb: int
    counts: Any  # SweepCounts


async def run_sweeps(home: Path, urls: dict[str, str], batch: int, s3_server: str) -> dict[str, SweepRun]:
    """One RetentionSweep per store, one after the other, on one server and worker."""
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment

    from rightsflow.codec import data_converter
    from rightsflow.config import load_settings
    from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file
    from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

    queue = f"bench-{uuid.uuid4().hex[:6]}"
    from moto.server import ThreadedMotoServer

    s3_port = _free_port()
    # Certificates and archives go to S3 with Object Lock: SeaweedFS in its own process, as the
    # embedded stack runs it, or moto in this one (whose interpreter then serves every upload).
    if s3_server == "seaweedfs":
        from rightsflow.embedded.seaweedfs import start_seaweedfs

        s3: Any = start_seaweedfs(home / "s3-server", s3_port, access_key="bench", secret_key="bench")
    else:
        s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        s3.start()
    env = dict(
        os.environ,
        RIGHTSFLOW_HOME=str(home),
        RIGHTSFLOW_TASK_QUEUE=queue,
        RIGHTSFLOW_S3_ENDPOINT=f"http://127.0.0.1:{s3_port}",
        RIGHTSFLOW_S3_ACCESS_KEY="bench",
        RIGHTSFLOW_S3_SECRET_KEY="bench",
        RIGHTSFLOW_S3_BUCKET=f"bench-{uuid.uuid4().hex[:8]}",
    )
    for svc in load_catalog(REPO / "catalog"):
        env[svc.store.url_env] = urls.get(svc.service, f"sqlite:///{home}/unused_{svc.service}.db")
    os.environ.update(env)
    settings = load_settings()
    ensure_codec_key_file(settings)
    ensure_hash_key_file(settings)
    server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), ui=False, dev_server_log_level="error"
    )
    address = server.client.service_client.config.target_host
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, address], env=env, cwd=REPO, stdout=subprocess.PIPE
    )
    out: dict[str, SweepRun] = {}
    try:
        assert proc.stdout and proc.stdout.readline().startswith(b"ready")
        client = Client(**{**server.client.config(), "data_converter": data_converter(settings)})
        for service in urls:
            reset_vm_hwm(proc.pid)
            started = time.perf_counter()
            result = await client.execute_workflow(
                RetentionSweep.run,
                RetentionSweepInput(
                    as_of=AS_OF.isoformat(), services=[service], dry_run=False, batch_size=batch
                ),
                id=f"bench-{service}-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
            )
            elapsed = time.perf_counter() - started
            out[service] = SweepRun(elapsed, vm_hwm_kb(proc.pid), result.services[0].counts)
    finally:
        proc.kill()
        proc.wait()
        await server.shutdown()
        s3.stop()
    return out


def backend_urls(backend: str, tmp: Path, tag: str, services: list[str]) -> tuple[dict[str, str], object]:
    if backend == "sqlite":
        return {s: f"sqlite:///{tmp / tag / s}.db" for s in services}, None
    name = f"rf_bench_{tag}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    return {s: PG_ADMIN.rsplit("/", 1)[0] + f"/{name}" for s in services}, (admin, name)


def copy_store(
    backend: str, urls: dict[str, str], tmp: Path, handle: object
) -> tuple[dict[str, str], object]:
    if backend == "sqlite":
        (tmp / "b").mkdir(exist_ok=True)
        out = {}
        for s, u in urls.items():
            src = Path(u.removeprefix("sqlite:///"))
            dst = tmp / "b" / src.name
            with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
                a.backup(b)  # the WAL's content too
            out[s] = f"sqlite:///{dst}"
        return out, None
    admin, name = handle  # type: ignore[misc]
    from rightsflow.db import dispose_all

    dispose_all()
    copy = f"{name}_b"
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"CREATE DATABASE {copy} TEMPLATE {name}"))
    return {s: PG_ADMIN.rsplit("/", 1)[0] + f"/{copy}" for s in urls}, (admin, copy)


CSC_SERVICE = "lewisham_childrens_social_care"


def analyze(urls: dict[str, str]) -> None:
    """Statistics for the planner: a server with autovacuum off (as during bulk loads) has none."""
    for url in set(urls.values()):
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()


def explain_walk(url: str, keys: int = 50) -> None:
    """The plans of one level of the social-care household walk for ``keys`` people: both ends of
    each relationship asked for at once (``OR``, as before) and as two indexed queries (now)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        first = text(f"SELECT person_id FROM lcs_person ORDER BY person_id LIMIT {keys}")
        people = list(conn.execute(first).scalars())
        # The shape the sweep sends: the keys as one array parameter, unnested.
        ids = "(SELECT unnest(CAST(:keys AS bigint[])))"
        pairs = "SELECT person_id, related_person_id FROM lcs_relationship WHERE"
        queries = {
            "before (a IN ... OR b IN ...)": f"{pairs} person_id IN {ids} OR related_person_id IN {ids}",
            "after (a IN ...)": f"{pairs} person_id IN {ids}",
            "after (b IN ...)": f"{pairs} related_person_id IN {ids}",
        }
        for label, q in queries.items():
            plan = [r[0] for r in conn.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {q}"), {"keys": people})]
            skip = ("Planning", "Recheck", "Index Cond", "Filter:", "Hash Cond", "Heap Blocks")
            shown = [p.strip() for p in plan if not p.strip().startswith(skip)]
            print(f"# EXPLAIN {label}, {keys} people: " + " | ".join(shown), flush=True)
    engine.dispose()


def drop(handle: object) -> None:
    if handle is None:
        return
    from rightsflow.db import dispose_all

    dispose_all()
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


SHORT = {
    "westminster_family_hub": "westminster_hub",
    "lewisham_family_thrive": "lewisham_thrive",
    "manchester_thriving_families": "manchester_tf",
    "lewisham_early_help": "lewisham_eh",
    "lewisham_childrens_social_care": "lewisham_csc",
}
HEADER = (
    f"{'backend':9} {'store':16} {'families':>8} {'households':>10} {'disposed':>8} {'people':>7} "
    f"{'rows chg':>9} {'sweep s':>8} {'base s':>7} {'ratio':>6} {'hh/s':>7} {'worker MB':>9}"
)


def line(
    backend: str,
    store: str,
    n: int,
    counts: list[Any],
    sweep_s: float,
    base: list[BaselineResult],
    peak_kb: int,
    same: bool,
) -> str:
    households = sum(c.households for c in counts)
    disposed = sum(c.disposed + c.anonymised + c.archived for c in counts)
    people = sum(c.people_disposed for c in counts)
    rows = sum(b.rows for b in base)
    base_s = sum(b.seconds for b in base)
    return (
        f"{backend:9} {store:16} {n:>8} {households:>10} {disposed:>8} {people:>7} {rows:>9} "
        f"{sweep_s:>8.2f} {base_s:>7.2f} {sweep_s / base_s:>6.2f} {households / sweep_s:>7.0f} "
        f"{peak_kb / 1024:>9.1f}  same_rows={same}"
    )


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--families", type=int, action="append", help="families per store (repeat for a size series)"
    )
    ap.add_argument("--backend", action="append", choices=("sqlite", "postgres"))
    ap.add_argument(
        "--service", action="append", choices=SERVICES, help="a store to cover (repeat; default: all)"
    )
    ap.add_argument(
        "--batch-size", type=int, default=SHIPPED_BATCH_SIZE, help="people per batch (default: as shipped)"
    )
    ap.add_argument(
        "--s3", choices=("seaweedfs", "moto"), default="seaweedfs", help="S3 server (default: SeaweedFS)"
    )
    args = ap.parse_args()
    sizes = args.families or [20_000]
    backends = args.backend or ["sqlite", "postgres"]
    services = [s for s in SERVICES if s in (args.service or SERVICES)]
    print(HEADER)
    for backend in backends:
        peaks: dict[int, int] = {}  # families per store -> the worker's highest peak over the stores
        for n in sizes:
            with tempfile.TemporaryDirectory() as td:
                tmp = Path(td)
                (tmp / "a").mkdir()
                urls, handle = backend_urls(backend, tmp, "a", services)
                t0 = time.monotonic()
                seed_stores(urls, families=n, seed=7, as_of=AS_OF, progress=False)
                if backend == "postgres":
                    analyze(urls)
                took = time.monotonic() - t0
                print(f"# {backend} {n:,} families per store seeded in {took:.0f} s", flush=True)
                if backend == "postgres" and CSC_SERVICE in urls:
                    explain_walk(urls[CSC_SERVICE])
                urls_b, handle_b = copy_store(backend, urls, tmp, handle)
                try:
                    sweeps = asyncio.run(run_sweeps(tmp / "home", urls, args.batch_size, args.s3))
                    bases: list[BaselineResult] = []
                    all_same = True
                    for s in services:
                        b = baseline(urls_b[s], s, AS_OF)
                        same = table_digests(urls[s], s) == table_digests(urls_b[s], s)
                        sw = sweeps[s]
                        disposed = sw.counts.disposed + sw.counts.anonymised + sw.counts.archived
                        same = same and disposed == b.households and sw.counts.people_disposed == b.people
                        bases.append(b)
                        all_same = all_same and same
                        print(
                            line(backend, SHORT[s], n, [sw.counts], sw.seconds, [b], sw.peak_kb, same),
                            flush=True,
                        )
                    print(
                        line(
                            backend,
                            "total",
                            n,
                            [sweeps[s].counts for s in services],
                            sum(sweeps[s].seconds for s in services),
                            bases,
                            max(sweeps[s].peak_kb for s in services),
                            all_same,
                        ),
                        flush=True,
                    )
                    peaks[n] = max(sweeps[s].peak_kb for s in services)
                finally:
                    drop(handle_b)
                    drop(handle)
        if len(peaks) > 1:
            small, large = min(peaks), max(peaks)
            growth = (peaks[large] / peaks[small] - 1) * 100
            print(
                f"# {backend}: worker peak RSS {peaks[small] / 1024:.0f} MB at {small:,} families per store, "
                f"{peaks[large] / 1024:.0f} MB at {large:,} ({growth:+.1f}%)",
                flush=True,
            )


if __name__ == "__main__":
    main()
