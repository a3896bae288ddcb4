"""The canonical family record: what a family's records look like between two councils' case systems.

Every council's system differs (a family hub keys households by string refs, children's social
care links people by typed relationships, early help joins people to cases through a membership
table). A transfer therefore never carries one store's tables to another store: the sender maps
its rows to this record through its catalogue (each field's ``canonical:`` key), and the receiver
maps the record into its own tables through its own catalogue.

The record is published as JSON Schema (``family_record-<version>.schema.json`` beside this file)
and validated with the ``jsonschema`` library. Names follow the DfE children in need census, the
SSDA903 looked-after children return and the Working Together transfer-in conference items where
they exist (see the schema's descriptions and the README).

A ``canonical:`` key is ``<entity>.<attribute>``, or a list of them where one native row is two
things at once (a hub session is a contact and a case note). ``<entity>.id`` marks the key of the
row, ``<entity>.person_id`` / ``<entity>.household_id`` the fields that link it to a person or a
household (the value travels as the linked row's canonical id). ``internal`` marks a field of the
sender's own bookkeeping that does not travel.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the catalogue validates canonical keys with check_key: no import cycle
    from rightsflow.catalog import ServiceCatalog

SCHEMA_VERSION = "1.0"
SCHEMA_FILE = Path(__file__).with_name(f"family_record-{SCHEMA_VERSION}.schema.json")
RECORD_FILE = "canonical/family_record.json"  # where the record sits in a transfer bag's data/

# entity name used in catalogue keys -> the record's list holding it
ENTITIES: dict[str, str] = {
    "person": "people",
    "household": "households",
    "membership": "memberships",
    "relationship": "relationships",
    "address": "addresses",
    "contact": "contacts",
    "episode": "episodes",
    "referral": "referrals",
    "assessment": "assessments",
    "plan": "plans",
    "case_note": "case_notes",
    "consent": "consents",
    "flag": "flags",
    "share": "sharing_log",
    "additional": "additional_information",
}
ENTITY_LABELS: dict[str, str] = {
    "person": "Person",
    "household": "Household",
    "membership": "Household membership",
    "relationship": "Relationship",
    "address": "Address",
    "contact": "Contact",
    "episode": "Episode",
    "referral": "Referral",
    "assessment": "Assessment",
    "plan": "Plan",
    "case_note": "Case note",
    "consent": "Consent",
    "flag": "Flag",
    "share": "Sharing log entry",
    "additional": "Additional information",
}
LINKS = ("person_id", "household_id", "related_person_id")
# ``canonical: internal``: a field of the sender's own bookkeeping (a restriction marker, a staff
# flag, a key to a staff row) that deliberately does not travel.
INTERNAL = "internal"


class CanonicalMappingError(ValueError):
    """A catalogue's ``canonical:`` key names no entity or attribute of the record."""


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def attributes(entity: str) -> dict[str, dict[str, Any]]:
    """The attributes of ``entity`` and their schema (with ``id`` and the links)."""
    return schema()["properties"][ENTITIES[entity]]["items"]["properties"]


def is_date(entity: str, attribute: str) -> bool:
    return attributes(entity).get(attribute, {}).get("$ref") == "#/$defs/date"


def label(entity: str, attribute: str | None = None) -> str:
    """A plain-English label: "Person: Religion or belief"."""
    if attribute is None:
        return ENTITY_LABELS[entity]
    desc = str(attributes(entity).get(attribute, {}).get("description") or attribute.replace("_", " "))
    return f"{ENTITY_LABELS[entity]}: {desc.split(' (')[0]}"


def check_key(key: str) -> str | None:
    """Why ``key`` is not a canonical key, or None."""
    if key == INTERNAL:
        return None
    entity, _, attr = key.partition(".")
    if entity not in ENTITIES:
        return f"{key!r}: unknown entity {entity!r} (one of {', '.join(ENTITIES)})"
    if attr not in attributes(entity):
        return f"{key!r}: {entity} has no attribute {attr!r} (one of {', '.join(attributes(entity))})"
    return None


def validate_record(doc: Any) -> list[str]:
    """Schema violations as reasons naming the place in the record only, never a value."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    reasons = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        reasons.append(
            f"canonical record {where}: {err.validator} check failed ({err.validator_value!s:.60})"
        )
        if len(reasons) >= 50:
            break
    return reasons


@lru_cache(maxsize=64)
def _raw_keys(path: str, mtime: float) -> dict[str, dict[str, tuple[str, ...]]]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for c in (raw.get("dataset") or {}).get("collections") or []:
        for f in c.get("fields") or []:
            keys = f.get("canonical")
            if keys is None:
                continue
            keys = (keys,) if isinstance(keys, str) else tuple(keys)
            for k in keys:
                problem = check_key(str(k))
                if problem:
                    where = f"dataset.collections[{c.get('name')}].fields[{f.get('name')}]"
                    raise CanonicalMappingError(f"{path}: {where}.canonical: {problem}")
            out.setdefault(c["name"], {})[f["name"]] = keys
    return out


def canonical_map(
    cat: ServiceCatalog, catalog_dir: Path | None = None
) -> dict[str, dict[str, tuple[str, ...]]]:
    """collection -> field -> canonical keys, from the catalogue's ``canonical:`` keys.

    Read from the field model where it carries them, else from the service's catalogue file.
    """
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for c in cat.dataset.collections:
        for f in c.fields:
            keys = getattr(f, "canonical", None)
            if keys:
                out.setdefault(c.name, {})[f.name] = (keys,) if isinstance(keys, str) else tuple(keys)
    if out or catalog_dir is None:
        return out
    path = Path(catalog_dir) / f"{cat.service}.yaml"
    if not path.exists():
        return {}
    return _raw_keys(str(path), path.stat().st_mtime)


def unmapped_fields(cat: ServiceCatalog, catalog_dir: Path | None = None) -> list[str]:
    """``collection.field`` of every mapped field with no canonical meaning (``catalog --check``).

    Such a field still travels, as labelled additional information, but the receiver can only
    file it as a note.
    """
    cmap = canonical_map(cat, catalog_dir)
    return [
        f"{c.name}.{f.name}"
        for c in cat.dataset.collections
        for f in c.fields
        if f.name not in cmap.get(c.name, {})
    ]


from .export import export_record  # noqa: E402
from .mapping import ImportOutcome, import_record  # noqa: E402

__all__ = [
    "ENTITIES",
    "RECORD_FILE",
    "SCHEMA_VERSION",
    "CanonicalMappingError",
    "ImportOutcome",
    "canonical_map",
    "export_record",
    "import_record",
    "label",
    "schema",
    "unmapped_fields",
    "validate_record",
]
