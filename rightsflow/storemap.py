"""Query building blocks derived from a catalogue entry, never from table names in code."""

from __future__ import annotations

from sqlalchemy import ColumnClause, TableClause, column, table

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
        for c in self.service.dataset.collections:
            if c.name != collection:
                continue
            for f in c.fields:
                for ref in (f.fides_meta.references or []) if f.fides_meta else []:
                    target, _, target_field = ref.field.partition(".")
                    if target == to_collection:
                        return f.name, target_field
        return None
