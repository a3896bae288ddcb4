"""Benchmark: a RetentionSweep through Temporal against a raw set-based SQL delete of the same rows.

For each backend (SQLite, PostgreSQL) the column-linked stores (Westminster Family Hub, Lewisham
Family Thrive) are seeded with ``--families`` families each, then copied (file copy / CREATE
DATABASE ... TEMPLATE), so both contenders start from identical data in the same run:

* sweep: the RetentionSweep workflow on the Temporal dev server, with a worker in its own process
  (its peak RSS, VmHWM, is what is reported);
* baseline: hand-rolled set-based SQL: the due households into a table (latest contact more
  than three years before the as-of date, no active hold, no restricted member), then one DELETE
  per table, children first, in one transaction.

Both must leave the same rows behind (checked). Prints people assessed per second, rows deleted,
the ratio of wall times, and the worker's peak memory. Run:

    python bench/retention_sweep.py --families 20000 --backend sqlite --backend postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rightsflow.catalog import load_catalog  # noqa: E402
from rightsflow.retention import build_plan  # noqa: E402
from rightsflow.seed import seed_stores  # noqa: E402
from rightsflow.stores import SCHEMAS  # noqa: E402

AS_OF = date(2026, 11, 1)
SERVICES = ("westminster_family_hub", "lewisham_family_thrive")
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
from activities.retention import RetentionActivities
from workflows.retention_sweep import RetentionSweep, ServiceSweep

async def main():
    import logging
    logging.basicConfig(level=logging.WARNING)
    s = load_settings()
    client = await Client.connect(sys.argv[1], data_converter=data_converter(s))
    a = RetentionActivities(s, load_catalog(s.catalog_dir), Register(s))
    with ThreadPoolExecutor(4) as pool:
        async with Worker(client, task_queue=s.task_queue, workflows=[RetentionSweep, ServiceSweep],
                          activities=[a.retention_services, a.count_people, a.sweep_batches,
                                      a.finish_service], activity_executor=pool):
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


def baseline(url: str, service: str) -> tuple[float, int]:
    """Raw set-based SQL: the due households into a table, then one DELETE per table."""
    cat = load_catalog(REPO / "catalog")[service]
    plan = build_plan(cat)
    r, s = cat.roles, cat.subject
    g, gk = plan.group_table, plan.group_key
    cutoff = date(AS_OF.year - 3, AS_OF.month, AS_OF.day)  # last + 3y < as_of  <=>  last < as_of - 3y
    codes = ", ".join(f"'{c}'" for c in r.flags.codes)
    flag_link = (
        f"f.{r.flags.group_column} = d.k"
        if r.flags.group_column
        else f"f.{r.flags.person_column} IN (SELECT {s.key} FROM {s.collection} m "
        f"WHERE m.{plan.person_group_column} = d.k)"
    )
    cg = r.contacts.group_column
    engine = create_engine(url)
    started = time.perf_counter()
    deleted = 0
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_due"))
        conn.execute(
            text(  # CREATE TABLE AS: the key keeps the store's own type
                f"CREATE TABLE bench_due AS SELECT c.{cg} AS k FROM {r.contacts.collection} c "
                f"GROUP BY c.{cg} HAVING max(c.{r.contacts.date_field}) < :cutoff"
            ),
            {"cutoff": cutoff},
        )
        conn.execute(text("CREATE UNIQUE INDEX ix_bench_due ON bench_due (k)"))
        conn.execute(
            text(
                f"DELETE FROM bench_due WHERE EXISTS (SELECT 1 FROM {r.flags.collection} f, bench_due d "
                f"WHERE d.k = bench_due.k AND {flag_link} AND f.{r.flags.code_field} IN ({codes}) AND "
                f"(f.{r.flags.ended_field} IS NULL OR f.{r.flags.ended_field} > :as_of)) OR EXISTS ("
                f"SELECT 1 FROM {s.collection} m WHERE m.{plan.person_group_column} = bench_due.k "
                f"AND m.{s.restricted_field} IS NOT NULL)"
            ),
            {"as_of": AS_OF},
        )
        pg = plan.person_group_column
        people = f"SELECT {s.key} FROM {s.collection} WHERE {pg} IN (SELECT k FROM bench_due)"
        for c in plan.delete_order:
            if c == g:
                where = f"{gk} IN (SELECT k FROM bench_due)"
            elif c == s.collection:
                where = f"{plan.person_group_column} IN (SELECT k FROM bench_due)"
            else:
                parts = []
                for col, parent, _ in plan.parents[c]:
                    parts.append(
                        f"{col} IN (SELECT k FROM bench_due)" if parent == g else f"{col} IN ({people})"
                    )
                where = " OR ".join(parts)
            deleted += conn.execute(text(f"DELETE FROM {c} WHERE {where}")).rowcount or 0
        conn.execute(text("DROP TABLE bench_due"))
    return time.perf_counter() - started, deleted


def table_counts(url: str, service: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in SCHEMAS[service].sorted_tables
            if t.name != "bench_due"
        }


async def run_sweep(home: Path, urls: dict[str, str], families: int, batch: int) -> tuple[float, int, dict]:
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment

    from rightsflow.codec import data_converter
    from rightsflow.config import load_settings
    from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file
    from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

    queue = f"bench-{uuid.uuid4().hex[:6]}"
    from moto.server import ThreadedMotoServer

    s3_port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()  # certificates go to S3 (moto: an S3 server with Object Lock)
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
    try:
        assert proc.stdout and proc.stdout.readline().startswith(b"ready")
        client = Client(**{**server.client.config(), "data_converter": data_converter(settings)})
        started = time.perf_counter()
        result = await client.execute_workflow(
            RetentionSweep.run,
            RetentionSweepInput(
                as_of=AS_OF.isoformat(), services=list(urls), dry_run=False, batch_size=batch
            ),
            id=f"bench-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        elapsed = time.perf_counter() - started
        peak = vm_hwm_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        await server.shutdown()
        moto.stop()
    counts = {s.service: s.counts for s in result.services}
    return elapsed, peak, counts


def backend_urls(backend: str, tmp: Path, tag: str) -> tuple[dict[str, str], object]:
    if backend == "sqlite":
        return {s: f"sqlite:///{tmp / tag / s}.db" for s in SERVICES}, None
    name = f"rf_bench_{tag}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    return {s: PG_ADMIN.rsplit("/", 1)[0] + f"/{name}" for s in SERVICES}, (admin, name)


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
    return {s: PG_ADMIN.rsplit("/", 1)[0] + f"/{copy}" for s in SERVICES}, (admin, copy)


def drop(handle: object) -> None:
    if handle is None:
        return
    from rightsflow.db import dispose_all

    dispose_all()
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--families", type=int, action="append", help="families per store (repeat for a size series)"
    )
    ap.add_argument("--backend", action="append", choices=("sqlite", "postgres"))
    ap.add_argument("--batch-size", type=int, default=1000)
    args = ap.parse_args()
    sizes = args.families or [20_000]
    backends = args.backend or ["sqlite", "postgres"]
    print(
        f"{'backend':9} {'families':>9} {'households':>10} {'people':>8} {'rows del':>9} {'sweep s':>8} "
        f"{'base s':>7} {'ratio':>6} {'hh/s':>8} {'rows/s':>8} {'worker MB':>9}"
    )
    for backend in backends:
        for n in sizes:
            with tempfile.TemporaryDirectory() as td:
                tmp = Path(td)
                (tmp / "a").mkdir()
                urls, handle = backend_urls(backend, tmp, "a")
                seed_stores(urls, families=n, seed=7, as_of=AS_OF, progress=False)
                urls_b, handle_b = copy_store(backend, urls, tmp, handle)
                try:
                    elapsed, peak, counts = asyncio.run(run_sweep(tmp / "home", urls, n, args.batch_size))
                    base, deleted = 0.0, 0
                    for s in SERVICES:
                        t, d = baseline(urls_b[s], s)
                        base += t
                        deleted += d
                    same = all(table_counts(urls[s], s) == table_counts(urls_b[s], s) for s in SERVICES)
                    people = sum(c.people_disposed for c in counts.values())
                    households = sum(c.households for c in counts.values())
                    print(
                        f"{backend:9} {n:>9} {households:>10} {people:>8} {deleted:>9} {elapsed:>8.2f} "
                        f"{base:>7.2f} {elapsed / base:>6.2f} {households / elapsed:>8.0f} "
                        f"{deleted / elapsed:>8.0f} {peak / 1024:>9.1f}  same_rows={same}",
                        flush=True,
                    )
                finally:
                    drop(handle_b)
                    drop(handle)


if __name__ == "__main__":
    main()
