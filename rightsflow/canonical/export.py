"""From one store's rows to the canonical family record (the sending side of a transfer).

Driven by the sending service's catalogue alone: each field's ``canonical:`` key, the primary keys,
the references, the subject and household sections. Rows that reference a person or a household
carry that row's canonical id; an attribute the record has no place for travels as labelled
additional information.
"""

from __future__ import annotations

from typing import Any

from rightsflow.catalog import ServiceCatalog
from rightsflow.nhs import InvalidIdentifier, normalise_nhs_number
from rightsflow.storemap import plain_value

from . import ENTITIES, INTERNAL, SCHEMA_VERSION, canonical_map
from .mapping import LINK_ATTRS, Rows, _pk_fields, _refs


def _identifier(kind: str, value: Any) -> str | None:
    """An NHS number as 10 digits, a UPN in capitals; None where it is not a valid one."""
    from rightsflow.nhs import normalise_upn

    try:
        return normalise_nhs_number(str(value)) if kind == "nhs_number" else normalise_upn(str(value))
    except InvalidIdentifier:
        return None


def _field_label(cat: ServiceCatalog, collection: str, name: str) -> str:
    f = cat.columns.get(collection, {}).get(name)
    text = getattr(f, "label", None) or name.replace("_", " ").capitalize()
    return f"{cat.name}: {text}"


# -- sending ---------------------------------------------------------------------------------------


def export_record(
    cat: ServiceCatalog,
    records: Rows,
    *,
    catalog_dir: Any = None,
    transfer_id: str | None = None,
    transfer_date: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The canonical record of the gathered ``records`` (collection -> rows of the sender's store)."""
    cmap = canonical_map(cat, catalog_dir)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "source": {
            "service": cat.service,
            "service_name": cat.name,
            "authority": cat.authority,
            "authority_code": cat.authority_code,
            "transfer_id": transfer_id,
            "transfer_date": transfer_date,
            "reason": reason,
        },
        **{plural: [] for plural in ENTITIES.values()},
    }
    flags = cat.roles.flags
    for collection in [c.name for c in cat.dataset.collections]:
        rows = records.get(collection) or []
        if not rows:
            continue
        fields = cmap.get(collection, {})
        pks = _pk_fields(cat, collection)
        refs = _refs(cat, collection)
        for row in rows:
            rid = f"{collection}:" + "/".join(str(row.get(k)) for k in pks)
            ents: dict[str, dict[str, Any]] = {}
            for fname, value in row.items():
                value = plain_value(value)
                keys = fields.get(fname)
                if keys == (INTERNAL,):
                    continue
                if not keys:
                    if value not in (None, "") and fname not in pks and fname not in refs:
                        doc["additional_information"].append(
                            {
                                "id": f"{rid}#{fname}",
                                "label": _field_label(cat, collection, fname),
                                "value": str(value),
                                "_link": rid,
                            }
                        )
                    continue
                for key in keys:
                    entity, _, attr = key.partition(".")
                    ent = ents.setdefault(entity, {})
                    if attr == "id":
                        continue
                    if attr in LINK_ATTRS:
                        if value is None:
                            continue
                        # a reference travels as the linked row's id; the row's own key (a person
                        # row is its own membership's person) as this row's id
                        ent[attr] = f"{refs[fname][0]}:{value}" if fname in refs else f"{collection}:{value}"
                        continue
                    if entity == "person" and attr in ("nhs_number", "upn") and value is not None:
                        value = _identifier(attr, value)
                        if value is None:  # not a valid identifier (an erased stub): kept, labelled
                            doc["additional_information"].append(
                                {
                                    "id": f"{rid}#{fname}",
                                    "label": _field_label(cat, collection, fname),
                                    "value": str(row[fname]),
                                    "_link": rid,
                                }
                            )
                            continue
                    if entity == "flag" and collection == flags.collection and fname == flags.code_field:
                        value = flags.codes.get(str(value), value)
                    if value is not None and not isinstance(value, str) and attr != "parental_responsibility":
                        value = str(value)
                    ent[attr] = value
            for entity, attrs in ents.items():
                item = {k: v for k, v in attrs.items()}
                if entity != "membership":
                    item["id"] = rid
                elif not (item.get("household_id") and item.get("person_id")):
                    continue
                doc[ENTITIES[entity]].append(item)
    _link_additional(doc)
    if not doc["households"] and doc["people"]:
        # a store without households (people linked by relationships): the family is the household
        hid = f"family:{transfer_id or cat.service}"
        doc["households"].append({"id": hid})
        doc["memberships"] = [{"household_id": hid, "person_id": p["id"]} for p in doc["people"]]
    return doc


def _link_additional(doc: dict[str, Any]) -> None:
    """Unmapped fields travel attached to the person or household their row belongs to."""
    owner: dict[str, dict[str, Any]] = {}
    for entity, plural in ENTITIES.items():
        for item in doc[plural]:
            if "id" not in item:
                continue
            if entity == "person":
                owner.setdefault(item["id"], {"person_id": item["id"]})
            elif entity == "household":
                owner.setdefault(item["id"], {"household_id": item["id"]})
            else:
                links = {k: item[k] for k in ("person_id", "household_id") if item.get(k)}
                if links:
                    owner.setdefault(item["id"], links)
    for item in doc["additional_information"]:
        link = item.pop("_link", None)
        if link and link in owner:
            item.update(owner[link])


# -- receiving ---------------------------------------------------------------------------------------
