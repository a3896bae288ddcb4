"""Benchmark: how SubjectSearch latency grows with the stores (it should not).

For each ``--families`` size (repeatable; default 2,000 and 20,000 families per store), on the
embedded stack (Temporal CLI dev server, moto S3, SQLite stores and register, a worker process):

* every catalogued store is seeded with that many families (seed 11, as of 1 November 2026);
* ``--searches`` different children of Lewisham Family Thrive are each looked for twice through
  the request service, as ``rightsflow search`` does (the SubjectSearch workflow over every
  store): by NHS number, name and date of birth, and by name and date of birth only (the
  candidate path: date of birth + family name, then the given name);
* the same lookups are timed in this process straight against each store
  (``activities.discovery.find_in_store``), so the store's part is seen without Temporal's;
* every statement the lookups send is run under SQLite's ``EXPLAIN QUERY PLAN`` and any step that
  scans a whole table (``SCAN`` without an index) is printed.

``--backend postgres`` puts the stores in a PostgreSQL database of their own instead (seeded the
same way, then ``ANALYZE``) and times the per-store lookups only, with ``EXPLAIN`` flagging any
``Seq Scan``.

Prints the median and p95 of each, per size, side by side, with the ratio of the largest size to
the smallest: flat is about 1x. Run small on a shared machine:

    nice -n 10 python bench/search_latency.py --families 2000 --families 20000 --searches 10
    nice -n 10 python bench/search_latency.py --families 2000 --families 20000 --backend postgres
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.sar_load import subjects  # noqa: E402 - after the path is set
from tests.fault_support import DevServer, FaultRig, Worker, free_port  # noqa: E402

PG_ADMIN = os.environ.get("RIGHTSFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, {platform.machine()}"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def by_name(subject: dict[str, Any]) -> dict[str, Any]:
    return {"name": subject["name"], "dob": subject["dob"]}


async def through_temporal(s: Any, people: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Seconds of each search through the request service (SubjectSearch over every store)."""
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.request_service import RequestService

    out: dict[str, list[float]] = {"by NHS number, name, date of birth": [], "by name and date of birth": []}
    async with RequestService(s) as rs:
        await rs.search(actor="bench", subject=SubjectIdentifiers.parse(**people[0]))  # warm the worker
        for person in people:
            for label, ids in zip(out, (person, by_name(person)), strict=True):
                started = time.perf_counter()
                await rs.search(actor="bench", subject=SubjectIdentifiers.parse(**ids))
                out[label].append(time.perf_counter() - started)
    return out


def in_stores(
    engines: dict[str, Any], catalog: Any, people: list[dict[str, Any]]
) -> tuple[dict[str, list[float]], list[str]]:
    """Milliseconds of each store's lookups for each person (both ways), and the full-table scans."""
    from sqlalchemy import event

    from activities.discovery import find_in_store
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.storemap import StoreMap

    timings: dict[str, list[float]] = {}
    scans: set[str] = set()
    for svc in catalog:
        if svc.service not in engines:
            continue
        engine = engines[svc.service]
        service_map = StoreMap(svc)
        sent: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany, sent=sent) -> None:  # type: ignore[no-untyped-def]
            sent.append((statement, parameters))

        find_in_store(service_map, engine, SubjectIdentifiers.parse(**people[0]))  # warm the cache
        times = timings.setdefault(svc.service, [])
        event.listen(engine, "before_cursor_execute", capture)
        try:
            for person in people:
                for ids in (person, by_name(person)):
                    started = time.perf_counter()
                    find_in_store(service_map, engine, SubjectIdentifiers.parse(**ids))
                    times.append((time.perf_counter() - started) * 1000)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        scans.update(f"{svc.service}: {step}" for step in full_scans(engine, sent))
    return timings, sorted(scans)


def full_scans(engine: Any, sent: list[tuple[str, Any]]) -> list[str]:
    """Each plan step of the statements sent that reads a whole table (SQLite SCAN without an index,
    PostgreSQL Seq Scan), with the start of its statement."""
    out = []
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in {st: (st, p) for st, p in sent}.values():
            plan = raw.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
            for row in plan:
                step = str(row[-1] if sqlite else row[0]).strip()
                scan = (step.startswith("SCAN") and "USING" not in step) if sqlite else "Seq Scan" in step
                if scan:
                    out.append(f"{step} in: {' '.join(statement.split())[:160]}")
    return out


def postgres_stores(families: int, admin_url: str) -> tuple[dict[str, Any], Any]:
    """Every demo store in a PostgreSQL database of its own, seeded like the embedded ones and
    analysed; returns the engines and a function that drops the database."""
    import uuid
    from datetime import date

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from rightsflow.db import dispose_all, engine_for_url
    from rightsflow.seed import PERSON_TABLES, seed_stores

    name = f"rf_search_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    seed_stores(
        dict.fromkeys(PERSON_TABLES, url), families=families, seed=11, as_of=date(2026, 11, 1), progress=False
    )
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("ANALYZE"))  # as a store in service would be: the planner's statistics

    def drop() -> None:
        dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return {service: engine_for_url(url) for service in PERSON_TABLES}, drop


def run_postgres(families: int, searches: int, admin_url: str) -> dict[str, Any]:
    from bench.sar_load import FT, subjects_in
    from rightsflow.catalog import load_catalog
    from rightsflow.config import load_settings

    seeded = time.perf_counter()
    engines, drop = postgres_stores(families, admin_url)
    seeded = time.perf_counter() - seeded
    try:
        people = subjects_in(engines[FT].url.render_as_string(hide_password=False), searches)
        stores, scans = in_stores(engines, load_catalog(load_settings().catalog_dir), people)
    finally:
        drop()
    return {"seeded": seeded, "stores": stores, "temporal": {}, "scans": scans}


def run_size(families: int, searches: int, root: Path, s3: str, temporal: str) -> dict[str, Any]:
    seeded = time.perf_counter()
    rig = FaultRig(root / f"families-{families}", s3, temporal, families=families)
    seeded = time.perf_counter() - seeded
    s, env = rig.home("search")
    people = subjects(rig, searches)
    from rightsflow.catalog import load_catalog
    from rightsflow.db import store_engine

    catalog = load_catalog(s.catalog_dir)
    stores, scans = in_stores({svc.service: store_engine(svc, s) for svc in catalog}, catalog, people)
    worker = Worker(env, s.home / "worker.log")
    try:
        worker.ready()
        temporal_times = asyncio.run(through_temporal(s, people))
    finally:
        worker.stop()
    return {"seeded": seeded, "stores": stores, "temporal": temporal_times, "scans": scans}


def report(results: dict[int, dict[str, Any]], sizes: list[int], searches: int, backend: str) -> None:
    small, large = sizes[0], sizes[-1]
    print(
        f"\nSubjectSearch latency, stores on {backend}: {', '.join(f'{n:,}' for n in sizes)} families per "
        f"store, {searches} people each searched two ways; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{machine()}, load average {os.getloadavg()[0]:.1f}"
    )
    print("seeding: " + ", ".join(f"{n:,} families {results[n]['seeded']:.0f} s" for n in sizes))
    head = "".join(f" {f'{n:,} median / p95':>22}" for n in sizes)
    for title, part, digits in (
        ("through Temporal (seconds)", "temporal", 3),
        ("one store, in process (milliseconds)", "stores", 2),
    ):
        if not results[small][part]:
            continue
        print(f"\n{title:44}{head} {'ratio':>7}")
        for label in results[small][part]:
            values = {n: results[n][part][label] for n in sizes}
            cells = "".join(
                f" {statistics.median(values[n]):10.{digits}f} / {p95(values[n]):7.{digits}f}" for n in sizes
            )
            ratio = statistics.median(values[large]) / statistics.median(values[small])
            print(f"{label:44}{cells} {ratio:6.2f}x")
    scans = results[large]["scans"]
    print(f"\nfull-table scans in the lookups' plans at {large:,} families: {len(scans) or 'none'}")
    for line in scans:
        print(f"  {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", type=int, action="append", help="families per store (repeatable)")
    ap.add_argument("--searches", type=int, default=10, help="people looked for, each two ways")
    ap.add_argument(
        "--backend",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="sqlite: the embedded stack, through Temporal and per store; postgres: per store only",
    )
    ap.add_argument("--postgres", default=PG_ADMIN, help="PostgreSQL to create the stores' database in")
    args = ap.parse_args()
    sizes = sorted(args.families or [2000, 20000])
    if args.backend == "postgres":
        report(
            {n: run_postgres(n, args.searches, args.postgres) for n in sizes},
            sizes,
            args.searches,
            "PostgreSQL",
        )
        return

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    root = Path(tempfile.mkdtemp(prefix="rightsflow-search-"))
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    server = DevServer(root)
    server.start()
    try:
        s3_url = f"http://127.0.0.1:{port}"
        results = {n: run_size(n, args.searches, root, s3_url, server.address) for n in sizes}
    finally:
        server.stop()
        s3.stop()
    report(results, sizes, args.searches, "SQLite")


if __name__ == "__main__":
    main()
