"""``rightsflow seed``: fill the catalogued service stores with synthetic demo families."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from rightsflow.seed import MAX_FAMILIES, SeedReport, StoreNotEmpty, seed_stores
from rightsflow.stores import SCHEMAS

from .common import fail, settings_and_catalog

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    if _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    fail(f"invalid --as-of date {value!r}: expected a real date as YYYY-MM-DD")


def _summary(report: SeedReport) -> Table:
    table = Table(title=f"Seeded (seed {report.seed}, as of {report.as_of.isoformat()})")
    table.add_column("service", no_wrap=True)
    for col in ("families", "people", "rows", "seconds", "rows/s"):
        table.add_column(col, justify="right", no_wrap=True)
    for s in report.services.values():
        table.add_row(
            s.service,
            f"{s.families:,}",
            f"{s.people:,}",
            f"{s.total_rows:,}",
            f"{s.seconds:.1f}",
            _rate(s.total_rows, s.seconds),
        )
    table.add_section()
    table.add_row(
        "total",
        f"{sum(s.families for s in report.services.values()):,}",
        f"{sum(s.people for s in report.services.values()):,}",
        f"{report.total_rows:,}",
        f"{report.seconds:.1f}",
        _rate(report.total_rows, report.seconds),
    )
    return table


def _rate(rows: int, seconds: float) -> str:
    # How fast the store took the rows: what a council sizing a demo or test store wants to know.
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def seed(
    families: Annotated[
        int,
        typer.Option(
            "--families", min=1, max=MAX_FAMILIES, help="Families to create in each service's store."
        ),
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same data.")] = 7,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="YYYY-MM-DD", help="Date the data is generated relative to (default today)."
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Drop and recreate stores that already hold data.")
    ] = False,
) -> None:
    """Fill every catalogued store with synthetic families (invented people, valid-format identifiers)."""
    when = _as_of(as_of)
    settings, catalog = settings_and_catalog()
    console = Console()
    urls = {svc.service: svc.store.resolved_url(settings.home) for svc in catalog if svc.service in SCHEMAS}
    for svc in catalog:
        if svc.service not in SCHEMAS:
            console.print(f"[yellow]skipped {svc.service}: no demo schema for it[/yellow]")
    if not urls:
        fail("no catalogued service has a demo store to seed")
    try:
        report = seed_stores(urls, families=families, seed=seed, as_of=when, replace=replace)
    except StoreNotEmpty as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(
            f"a store could not be seeded ({type(exc).__name__}); "
            "check the store URLs and that the database servers are running"
        )
    console.print(_summary(report))
