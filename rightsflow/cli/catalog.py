"""``rightsflow catalog [--check]``: list the services; check the map against the live stores."""

from __future__ import annotations

import json
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
                found += [
                    f"column {collection}.{f} is mapped but not in the store" for f in fields if f not in live
                ]
        except SQLAlchemyError as exc:
            found.append(f"store unreachable ({type(exc).__name__})")
        problems[svc.service] = found
    return problems


def slow_references(settings: Settings, catalog: Catalog) -> dict[str, list[str]]:
    """service -> warnings: reference columns the retention sweep deletes by that have no index."""
    from rightsflow.retention import build_plan, unindexed_references

    out: dict[str, list[str]] = {}
    for svc in catalog:
        try:
            found = unindexed_references(build_plan(svc), store_engine(svc, settings))
        except SQLAlchemyError:
            found = []  # unreachable: check_stores says so
        out[svc.service] = [
            f"{ref} has no index: each retention delete by it scans the table"
            for ref in found
        ]
    return out


def no_canonical_meaning(catalog: Catalog) -> dict[str, list[str]]:
    """Mapped fields with no ``canonical:`` key: they travel in a transfer only as labelled notes."""
    from rightsflow.canonical import unmapped_fields

    return {
        svc.service: [
            f"{svc.collection_label(f.split('.')[0])}: {svc.field_label(*f.split('.'))} ({f}) has no "
            "canonical meaning: a transfer carries it only as a labelled note (add canonical: to the field)"
            for f in unmapped_fields(svc, catalog.folder)
        ]
        for svc in catalog
    }


def catalog(
    check: Annotated[
        bool, typer.Option("--check", help="Check every mapped table and column in the stores.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the catalogued services (validated at start-up)."""
    settings, cat = settings_and_catalog()
    if as_json:
        problems = check_stores(settings, cat) if check else {}
        for service, found in (cat.controller_problems() if check else {}).items():
            problems[service] = found + problems[service]
        warnings = slow_references(settings, cat) if check else {}
        for service, found in (no_canonical_meaning(cat) if check else {}).items():
            warnings[service] = warnings.get(service, []) + found
        out = [
            {
                "service": svc.service,
                "name": svc.name,
                "authority": svc.authority,
                "authority_code": svc.authority_code,
                "controller": svc.controller,
                "consent_based": svc.lawful_basis.consent_based,
                "basis": basis_label(svc.lawful_basis.article_6),
                "collections": sorted(svc.columns),
                "retention_rules": [r.rule_id for r in svc.retention],
                **({"problems": problems[svc.service], "warnings": warnings[svc.service]} if check else {}),
            }
            for svc in cat
        ]
        typer.echo(json.dumps(out, indent=2))
        if any(problems.values()):
            raise typer.Exit(1)
        return
    console = Console()
    table = Table(title=f"Catalogue: {cat.folder}")
    for col in ("service", "authority", "basis", "collections", "retention rules"):
        table.add_column(col)
    for svc in cat:
        basis = basis_label(svc.lawful_basis.article_6)
        table.add_row(svc.service, svc.authority, basis, str(len(svc.columns)), str(len(svc.retention)))
    console.print(table)
    if not check:
        return
    problems = check_stores(settings, cat)
    for service, found in cat.controller_problems().items():
        problems[service] = found + problems[service]
    bad = False
    for service, found in problems.items():
        if found:
            bad = True
            for p in found:
                typer.echo(f"✗ {service}: {p}")
        else:
            typer.echo(f"✓ {service}: every mapped table and column is in the store")
    for service, found in slow_references(settings, cat).items():
        for w in found:
            typer.echo(f"! {service}: {w}")
    for service, found in no_canonical_meaning(cat).items():
        for w in found:
            typer.echo(f"! {service}: {w}")
    if bad:
        raise typer.Exit(1)


# Article 6(1) points, in the words a DPO uses for them.
_ARTICLE_6 = {
    "a": "consent",
    "b": "contract",
    "c": "legal obligation",
    "d": "vital interests",
    "e": "public task",
    "f": "legitimate interests",
}


def basis_label(article_6: str) -> str:
    """The lawful bases the catalogue's Article 6 text cites, e.g. "public task / legal obligation";
    only what it cites (Manchester's is public task alone)."""
    import re

    points = dict.fromkeys(re.findall(r"6\(1\)\(([a-f])\)", article_6))
    return " / ".join(_ARTICLE_6[p] for p in points) or article_6.split(":")[0].strip()
