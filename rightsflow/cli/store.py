"""``rightsflow store init SERVICE``: an empty store for a catalogued service.

A receiving authority needs somewhere to import a family into before anything else: this creates
the service's tables at its store URL (``RIGHTSFLOW_STORE_<SERVICE>`` or the catalogue's default).
A demo service gets its own schema (``rightsflow/stores``); any other catalogued service gets its
catalogue's shape: every mapped collection as a table, keys and dates typed from the catalogue
(a date where the field's canonical meaning is a date), everything else text. Tables that already
exist are left exactly as they are.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import Column, Date, ForeignKey, MetaData, String, Table, Text, inspect

from rightsflow.catalog import ServiceCatalog

from .common import fail, settings_and_catalog

store_app = typer.Typer(help="Service stores.", no_args_is_help=True)


@store_app.callback()
def store() -> None:
    """Service stores: `rightsflow store init SERVICE` creates an empty one."""


def catalogue_schema(cat: ServiceCatalog) -> MetaData:
    """Tables in the catalogue's shape, for a service with no schema of its own in rightsflow."""
    from rightsflow.canonical import ENTITIES, canonical_map, is_date

    cmap = canonical_map(cat)
    md = MetaData()
    for c in cat.dataset.collections:
        cols = []
        for f in c.fields:
            meta = f.fides_meta
            refs = [r.field for r in (meta.references or [])] if meta else []
            keys = cmap.get(c.name, {}).get(f.name, ())
            dated = any(
                k.partition(".")[0] in ENTITIES and is_date(k.partition(".")[0], k.partition(".")[2])
                for k in keys
            )
            kind = Date if dated else String(64) if (meta and meta.primary_key) or refs else Text
            args = [ForeignKey(refs[0])] if refs else []
            cols.append(
                Column(f.name, kind, *args, primary_key=bool(meta and meta.primary_key), index=bool(refs))
            )
        Table(c.name, md, *cols)
    return md


@store_app.command("init")
def init(
    service: Annotated[str, typer.Argument(help="The catalogued service (e.g. camden_family_support).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an empty store for SERVICE (its tables; existing ones are left as they are)."""
    from rightsflow.db import store_engine
    from rightsflow.stores import SCHEMAS

    settings, catalog = settings_and_catalog()
    if service not in catalog.ids:
        fail(f"no service {service!r} in the catalogue ({', '.join(catalog.ids)})")
    cat = catalog[service]
    metadata = SCHEMAS.get(service) or catalogue_schema(cat)
    engine = store_engine(cat, settings)
    try:
        before = set(inspect(engine).get_table_names())
        metadata.create_all(engine)
    except Exception as exc:  # noqa: BLE001 - a store that cannot be reached: one line, no traceback
        fail(f"the {cat.name} store could not be created ({type(exc).__name__})", code=1)
    created = sorted(t for t in metadata.tables if t not in before)
    kept = sorted(t for t in metadata.tables if t in before)
    shape = "its own schema" if service in SCHEMAS else "the catalogue's shape"
    if as_json:
        typer.echo(
            json.dumps({"service": service, "schema": shape, "created": created, "already_there": kept})
        )
        return
    typer.echo(
        f"{cat.name} ({cat.authority}): {len(created)} table(s) created in {shape}, {len(kept)} already there"
    )
