"""Query building blocks derived from a catalogue entry, never from table names in code."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnClause, Engine, MetaData, Table, TableClause, column, table

from .catalog import ServiceCatalog


class StoreMap:
    """Lightweight SQLAlchemy table constructs for every collection the catalogue maps."""

    def __init__(self, service: ServiceCatalog) -> None:
        self.service = service
        self.tables: dict[str, TableClause] = {
            name: table(name, *(column(f) for f in fields)) for name, fields in service.columns.items()
        }

    def t(self, collection: str) -> TableClause:
        return self.tables[collection]

    def c(self, collection: str, field: str) -> ColumnClause:
        return self.tables[collection].c[field]

    def first(self, identity: str, category_prefix: str | None = None) -> tuple[str, str] | None:
        """The (collection, field) marked with an identity, optionally of a data category."""
        for ref in self.service.identity_fields(identity):
            cats = self.service.field_categories(ref.collection, ref.field)
            if category_prefix is None or any(c.startswith(category_prefix) for c in cats):
                return ref.collection, ref.field
        return None

    def reference_from(self, collection: str, to_collection: str) -> tuple[str, str] | None:
        """(field in collection, field in to_collection) for a declared reference, if any."""
        for name, _, target, target_field in declared_references(self.service, collection):
            if target == to_collection:
                return name, target_field
        return None


def declared_references(cat: ServiceCatalog, collection: str) -> Iterator[tuple[str, str, str, str]]:
    """(field, target dataset, target collection, target field) for every reference the catalogue
    declares on a field of ``collection`` (``fides_meta.references``), in the file's order."""
    for c in cat.dataset.collections:
        if c.name != collection:
            continue
        for f in c.fields:
            for ref in (f.fides_meta.references or []) if f.fides_meta else []:
                target, _, target_field = ref.field.partition(".")
                yield f.name, ref.dataset, target, target_field


def field_references(cat: ServiceCatalog, collection: str) -> dict[str, tuple[str, str]]:
    """field -> (target collection, target field) for the fields of ``collection`` with references."""
    return {name: (target, tf) for name, _, target, tf in declared_references(cat, collection)}


def references(cat: ServiceCatalog) -> dict[str, list[tuple[str, str, str]]]:
    """collection -> [(column, target collection, target column)] inside this dataset: the links
    erasure and retention both walk, read from the catalogue's ``fides_meta.references``."""
    refs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for c in cat.dataset.collections:
        for name, dataset, target, target_field in declared_references(cat, c.name):
            if dataset == cat.service and target != c.name:
                refs[c.name].append((name, target, target_field))
    return refs


def parents_first(
    names: Iterable[str], parents: Mapping[str, Iterable[str]], *, strict: bool = True
) -> list[str]:
    """``names`` ordered so every collection comes after the collections it references (insert in
    this order; delete in reverse, children first, so foreign keys hold). Round by round, ties in
    the order given. A cycle raises ValueError, or with ``strict=False`` its collections follow in
    the order given (an insert that the store will refuse, named then by the store)."""
    pending = list(dict.fromkeys(names))
    deps = {n: {p for p in parents.get(n, ()) if p in pending and p != n} for n in pending}
    done: list[str] = []
    while pending:
        ready = [n for n in pending if deps[n] <= set(done)]
        if not ready:
            if strict:
                raise ValueError(f"references form a cycle among {', '.join(sorted(pending))}")
            ready = pending[:1]
        done += ready
        pending = [n for n in pending if n not in ready]
    return done


def plain_value(value: Any) -> Any:
    """A value read from a store, JSON-ready: dates as ISO text, decimals as text, binary left out."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def json_default(value: Any) -> Any:
    """``json.dumps`` default for stored records (packs, bags, claim-check copies): what
    :func:`plain_value` converts, and a clear error for anything else."""
    if isinstance(value, datetime | date | Decimal | bytes):
        return plain_value(value)
    raise TypeError(f"cannot store a {type(value).__name__}")


# -- typed keys: store keys travel as text; each store compares them in its own column type ---------


def primary_key(cat: ServiceCatalog, collection: str) -> str | None:
    """The field the catalogue marks as the collection's primary key, if any."""
    for c in cat.dataset.collections:
        if c.name == collection:
            for f in c.fields:
                if f.fides_meta and f.fides_meta.primary_key:
                    return f.name
    return None


def column_kind(table: Table, column: str) -> type:
    """The Python type of a reflected column; text where the dialect cannot say."""
    try:
        return table.c[column].type.python_type
    except NotImplementedError:
        return str


def is_int_key(table: Table, column: str) -> bool:
    return column_kind(table, column) is int


class TypedKeys:
    """Keys as text turned into each store column's Python type, so an integer-keyed store's index
    is used; the columns' types are read once per engine and table. A value the column cannot
    hold (text in an integer column) is left out, not an error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tables: dict[str, Table] = {}

    def values(self, table_name: str, column: str, values: list[Any]) -> list[Any]:
        if table_name not in self._tables:
            self._tables[table_name] = Table(table_name, MetaData(), autoload_with=self.engine)
        kind = column_kind(self._tables[table_name], column)
        out = []
        for v in values:
            try:
                out.append(kind(v) if kind in (int, str) else v)
            except (TypeError, ValueError):
                continue
        return out


def typed_keys(engine: Engine, table_name: str, column: str, values: list[str]) -> list[Any]:
    """``values`` (keys as text) in the column's Python type (see ``TypedKeys``)."""
    return TypedKeys(engine).values(table_name, column, values)


def deterministic_key(table: Table, column: str, *parts: str) -> str:
    """A text key derived from ``parts`` (a transfer and a source key): the same row gets the same
    key on a re-run, so an insert repeated after a crash finds its row. Sized to the column."""
    length = getattr(table.c[column].type, "length", None) or 24
    digest = hashlib.sha256(":".join(parts).encode()).hexdigest().upper()
    return "T" + digest[: max(6, min(length, 24) - 1)]


def as_column_day(table: Table, column: str, day: date) -> date | datetime:
    """A day as the column stores it: midnight for a timestamp column, else the date."""
    try:
        kind = table.c[column].type.python_type
    except NotImplementedError:
        return day
    return datetime.combine(day, datetime.min.time()) if kind is datetime else day
