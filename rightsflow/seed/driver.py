"""Filling the stores: schemas, the refusal to overwrite, batches of families, the report."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine, MetaData, func, inspect, select
from sqlalchemy.engine import make_url

from ..db import engine_for_url
from ..stores import SCHEMAS
from .childrens_social_care import _childrens_social_care, _professional_rows
from .common import _BATCH, CF, CSC, EH, FT, MAX_FAMILIES, PERSON_TABLES, TF, WFH, Rows
from .context import _context
from .early_help import _early_help
from .family_hub import _family_hub
from .family_support import _family_support
from .family_thrive import _family_thrive
from .people import _staff
from .thriving_families import _thriving_families
from .writer import Method, write_batch

_BUILDERS = {
    FT: _family_thrive,
    CSC: _childrens_social_care,
    EH: _early_help,
    WFH: _family_hub,
    TF: _thriving_families,
    CF: _family_support,
}


# -- driving the stores ---------------------------------------------------------------------------


class StoreNotEmpty(RuntimeError):
    """A store already holds data and ``replace`` was not given."""


@dataclass
class ServiceSeedReport:
    service: str
    families: int
    people: int  # family members (social care staff are counted in rows, not here)
    rows: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass
class SeedReport:
    seed: int
    as_of: date
    services: dict[str, ServiceSeedReport] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(s.total_rows for s in self.services.values())


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _check_services(urls: Mapping[str, str]) -> None:
    unknown = sorted(set(urls) - set(SCHEMAS))
    if unknown:
        raise KeyError(f"no demo schema for service(s) {', '.join(unknown)}; known: {', '.join(SCHEMAS)}")


def create_schemas(urls: Mapping[str, str]) -> None:
    """Create every store's tables where they are missing (several stores may share a database)."""
    _check_services(urls)
    for service, url in urls.items():
        SCHEMAS[service].create_all(engine_for_url(url))


def _rows_in(engine: Engine, metadata: MetaData) -> dict[str, int]:
    present = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in present:
                counts[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return counts


def _person_count(engine: Engine, service: str) -> int:
    table = SCHEMAS[service].tables[PERSON_TABLES[service][0]]
    if not inspect(engine).has_table(table.name):
        return 0
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _seed_service(
    service: str,
    engine: Engine,
    families: int,
    seed: int,
    as_of: date,
    batch_size: int,
    advance,
    method: Method = "bulk",
) -> ServiceSeedReport:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    metadata = SCHEMAS[service]
    person_table = PERSON_TABLES[service][0]
    build = _BUILDERS[service]
    staff = _staff(seed, service)
    totals: dict[str, int] = defaultdict(int)
    people = 0
    if service == CSC:  # staff are people in this system: they must exist before the visits
        professionals = _professional_rows(staff)
        with engine.begin() as conn:
            write_batch(conn, metadata, {"lcs_person": professionals}, method)
        totals["lcs_person"] += len(professionals)
    for start in range(0, families, batch_size):
        stop = min(families, start + batch_size)
        rows: Rows = defaultdict(list)
        for index in range(start, stop):
            build(_context(seed, as_of, service, index, staff), rows)
        with engine.begin() as conn:
            write_batch(conn, metadata, rows, method)
        for name, batch in rows.items():
            totals[name] += len(batch)
        people += len(rows[person_table])
        del rows
        advance(stop - start)
    return ServiceSeedReport(
        service=service,
        families=families,
        people=people,
        rows={t.name: totals.get(t.name, 0) for t in metadata.sorted_tables},
        seconds=time.perf_counter() - started,
    )


def seed_stores(
    urls: Mapping[str, str],
    families: int = 2000,
    seed: int = 7,
    as_of: date | None = None,
    progress: bool = True,
    replace: bool = False,
    batch_size: int = _BATCH,
    method: Method = "bulk",
) -> SeedReport:
    """Create the schemas and fill each store (service id -> SQLAlchemy URL) with ``families`` families.

    Refuses, before writing anything, when a store already holds rows, unless ``replace`` is true,
    which drops and recreates that store's tables (only that service's tables). Same ``seed`` and
    ``as_of`` give the same rows, on any database. ``method`` "bulk" writes each batch with COPY on
    PostgreSQL and multi-row INSERTs on MariaDB (SQLite always uses executemany); "executemany"
    is the one-parameter-set-per-row path, kept to measure against.
    """
    _check_services(urls)
    if not 0 <= families <= MAX_FAMILIES:
        raise ValueError(f"families must be between 0 and {MAX_FAMILIES:,} per service")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    as_of = as_of or date.today()
    started = time.perf_counter()
    engines = {service: engine_for_url(url) for service, url in urls.items()}
    if replace:
        for service, engine in engines.items():
            SCHEMAS[service].drop_all(engine)
    create_schemas(urls)
    for service, engine in engines.items():
        held = {name: n for name, n in _rows_in(engine, SCHEMAS[service]).items() if n}
        if held:
            first = next(iter(held))
            raise StoreNotEmpty(
                f"the {service} store at {_safe_url(urls[service])} already holds data "
                f"({first}: {held[first]:,} rows); no rows were written. To drop its tables and seed it "
                "afresh use `rightsflow seed --replace` (replace=True)"
            )

    report = SeedReport(seed=seed, as_of=as_of)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("families"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    with bar:
        for service, engine in engines.items():
            task = bar.add_task(service, total=families)
            report.services[service] = _seed_service(
                service,
                engine,
                families,
                seed,
                as_of,
                batch_size,
                lambda n, task=task: bar.advance(task, n),
                method,
            )
    report.seconds = time.perf_counter() - started
    return report


def seed_if_empty(settings, families: int = 2000, seed: int = 7, progress: bool = True) -> SeedReport | None:  # type: ignore[no-untyped-def]
    """For ``rightsflow up``: create every catalogued store's tables; seed those with no people yet.

    All the stores seeded in one call share ``as_of`` (today), so the cross-service overlap holds
    between them. Returns None when every store already had people.
    """
    from ..catalog import load_catalog

    catalog = load_catalog(settings.catalog_dir)
    urls = {svc.service: svc.store.resolved_url(settings.home) for svc in catalog if svc.service in SCHEMAS}
    create_schemas(urls)
    empty = {s: u for s, u in urls.items() if _person_count(engine_for_url(u), s) == 0}
    if not empty:
        return None
    return seed_stores(empty, families=families, seed=seed, progress=progress)
