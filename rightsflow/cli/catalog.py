"""``rightsflow catalog [--check]``: list the services; check the map against the live stores."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from rightsflow.catalog import Catalog
from rightsflow.config import Settings
from rightsflow.db import store_engine

from .common import settings_and_catalog


def check_stores(settings: Settings, catalog: Catalog) -> dict[str, list[str]]:
    """service -> problems: every mapped collection and field must exist in the store."""
    problems: dict[str, list[str]] = {}
    for svc in catalog:
        found: list[str] = []
        try:
            insp = inspect(store_engine(svc, settings))
            tables = set(insp.get_table_names())
            for collection, fields in svc.columns.items():
                if collection not in tables:
                    found.append(f"table {collection} is mapped but not in the store")
                    continue
                live = {c["name"] for c in insp.get_columns(collection)}
                found += [f"column {collection}.{f} is mapped but not in the store" for f in fields if f not in live]
        except SQLAlchemyError as exc:
            found.append(f"store unreachable ({type(exc).__name__})")
        problems[svc.service] = found
    return problems


def catalog(
    check: Annotated[bool, typer.Option("--check", help="Check every mapped table and column in the stores.")] = False,
) -> None:
    """List the catalogued services (validated at start-up)."""
    settings, cat = settings_and_catalog()
    console = Console()
    table = Table(title=f"Catalogue: {cat.folder}")
    for col in ("service", "authority", "basis", "collections", "retention rules"):
        table.add_column(col)
    for svc in cat:
        basis = "consent" if svc.lawful_basis.consent_based else "public task / legal obligation"
        table.add_row(svc.service, svc.authority, basis, str(len(svc.columns)), str(len(svc.retention)))
    console.print(table)
    if not check:
        return
    problems = check_stores(settings, cat)
    bad = False
    for service, found in problems.items():
        if found:
            bad = True
            for p in found:
                console.print(f"[red]✗[/red] {service}: {p}")
        else:
            console.print(f"[green]✓[/green] {service}: every mapped table and column is in the store")
    if bad:
        raise typer.Exit(1)
