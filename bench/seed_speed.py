"""Benchmark: seeding the demo stores row by row (executemany) against in bulk (COPY / multi-row INSERT).

For each backend (``--backend`` postgres, mariadb, sqlite; repeatable) every demo store is seeded
with ``--families`` families twice, into two fresh databases: once with ``method="executemany"``
(one parameter set per row, as seeding was) and once with ``method="bulk"`` (PostgreSQL: COPY;
MariaDB: INSERT ... VALUES of 500 rows; SQLite: executemany either way). Prints rows per second of
each, the speed-up, and whether both wrote the same rows: every table's row count and a digest of
its rows in primary-key order must match. Run small (the machine is shared):

    nice -n 10 python bench/seed_speed.py --families 2000 --backend postgres --backend mariadb
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rightsflow.seed import SERVICES, seed_stores  # noqa: E402
from rightsflow.stores import SCHEMAS  # noqa: E402

AS_OF = date(2026, 11, 1)
PG_ADMIN = os.environ.get("RIGHTSFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN = os.environ.get("RIGHTSFLOW_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, {platform.machine()}, load {load:.1f}"


def fresh_database(backend: str, folder: Path) -> tuple[str, object]:
    """A URL to an empty database and a function that drops it."""
    name = f"rf_seed_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{folder / name}.db"
        return url, lambda: None
    admin_url = PG_ADMIN if backend == "postgres" else MARIADB_ADMIN
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        from rightsflow.db import dispose_all

        dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()

    return url, drop


def digests(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url)
    out: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for service in SERVICES:
            for t in SCHEMAS[service].sorted_tables:
                h = hashlib.sha256()
                n = 0
                for row in conn.execute(select(t).order_by(*t.primary_key.columns)).yield_per(20_000):
                    h.update(repr(tuple(row)).encode())
                    n += 1
                out[f"{service}.{t.name}"] = (n, h.hexdigest())
    engine.dispose()
    return out


def run(backend: str, families: int, folder: Path) -> None:
    results = {}
    for method in ("executemany", "bulk"):
        url, drop = fresh_database(backend, folder)
        try:
            started = time.perf_counter()
            report = seed_stores(
                dict.fromkeys(SERVICES, url), families=families, as_of=AS_OF, progress=False, method=method
            )
            seconds = time.perf_counter() - started
            results[method] = (report, seconds, digests(url))
        finally:
            drop()
    slow, fast = results["executemany"], results["bulk"]
    same = slow[2] == fast[2]
    print(
        f"\n{backend}: {families:,} families per store, {len(SERVICES)} stores, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}"
    )
    print(f"{'store':34} {'rows':>10} {'executemany rows/s':>19} {'bulk rows/s':>12} {'speed-up':>9}")
    for service in SERVICES:
        a, b = slow[0].services[service], fast[0].services[service]
        print(
            f"{service:34} {a.total_rows:>10,} {a.total_rows / a.seconds:>19,.0f} "
            f"{b.total_rows / b.seconds:>12,.0f} {a.seconds / b.seconds:>8.2f}x"
        )
    rows = slow[0].total_rows
    print(
        f"{'all stores':34} {rows:>10,} {rows / slow[1]:>19,.0f} {rows / fast[1]:>12,.0f} "
        f"{slow[1] / fast[1]:>8.2f}x   ({slow[1]:.1f} s -> {fast[1]:.1f} s)"
    )
    print(f"same rows (counts and content digest of every table): {same}")
    if not same:
        for key in sorted(slow[2]):
            if slow[2][key] != fast[2].get(key):
                print(f"  differs: {key} executemany={slow[2][key][0]} bulk={fast[2].get(key, (None,))[0]}")
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", type=int, default=2000, help="families per store")
    parser.add_argument("--backend", action="append", choices=("postgres", "mariadb", "sqlite"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backend or ["postgres"]:
            run(backend, args.families, Path(folder))


if __name__ == "__main__":
    main()
