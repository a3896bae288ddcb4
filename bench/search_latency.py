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

Prints the median and p95 of each, per size, side by side, with the ratio of the largest size to
the smallest: flat is about 1x. Run small on a shared machine:

    nice -n 10 python bench/search_latency.py --families 2000 --families 20000 --searches 10
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


def in_stores(s: Any, people: list[dict[str, Any]]) -> tuple[dict[str, list[float]], list[str]]:
    """Milliseconds of each store's lookups for each person (both ways), and the full-table scans."""
    from sqlalchemy import event

    from activities.discovery import find_in_store
    from rightsflow.catalog import load_catalog
    from rightsflow.db import store_engine
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.storemap import StoreMap

    timings: dict[str, list[float]] = {}
    scans: set[str] = set()
    for svc in load_catalog(s.catalog_dir):
        engine = store_engine(svc, s)
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
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                raw = conn.connection.driver_connection
                for statement, parameters in {st: (st, p) for st, p in sent}.values():
                    for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters):
                        step = str(row[-1])
                        if step.startswith("SCAN") and "USING" not in step:
                            scans.add(f"{svc.service}: {step} in: {' '.join(statement.split())[:160]}")
    return timings, sorted(scans)


def run_size(families: int, searches: int, root: Path, s3: str, temporal: str) -> dict[str, Any]:
    seeded = time.perf_counter()
    rig = FaultRig(root / f"families-{families}", s3, temporal, families=families)
    seeded = time.perf_counter() - seeded
    s, env = rig.home("search")
    people = subjects(rig, searches)
    stores, scans = in_stores(s, people)
    worker = Worker(env, s.home / "worker.log")
    try:
        worker.ready()
        temporal_times = asyncio.run(through_temporal(s, people))
    finally:
        worker.stop()
    return {"seeded": seeded, "stores": stores, "temporal": temporal_times, "scans": scans}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", type=int, action="append", help="families per store (repeatable)")
    ap.add_argument("--searches", type=int, default=10, help="people looked for, each two ways")
    args = ap.parse_args()
    sizes = sorted(args.families or [2000, 20000])

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    root = Path(tempfile.mkdtemp(prefix="rightsflow-search-"))
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    server = DevServer(root)
    server.start()
    try:
        results = {
            n: run_size(n, args.searches, root, f"http://127.0.0.1:{port}", server.address) for n in sizes
        }
    finally:
        server.stop()
        s3.stop()

    small, large = sizes[0], sizes[-1]
    print(
        f"\nSubjectSearch latency: {', '.join(f'{n:,}' for n in sizes)} families per store, "
        f"{args.searches} people each searched two ways; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{machine()}, load average {os.getloadavg()[0]:.1f}"
    )
    print("seeding: " + ", ".join(f"{n:,} families {results[n]['seeded']:.0f} s" for n in sizes))
    head = "".join(f" {f'{n:,} median / p95':>22}" for n in sizes)
    for title, part, digits in (
        ("through Temporal (seconds)", "temporal", 3),
        ("one store, in process (milliseconds)", "stores", 2),
    ):
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


if __name__ == "__main__":
    main()
