"""From the canonical family record into a receiving store (the sending side is ``export.py``).

Both directions are driven by the service's catalogue alone (``canonical:`` keys, primary keys,
references, the subject and household sections, the flags role's codes); no table name of any
store is written here. The import runs inside the caller's transaction.

Placing, on the receiving side:

* people are matched by NHS number, then UPN, and never inserted twice; a person matching only
  by name and date of birth is inserted and offered for confirmation (``candidates``);
* every entity goes to the receiver's collection that maps most of its attributes; rows of one
  sender row (a session that is both a contact and a case note) stay one row where the receiver
  keeps them together;
* an attribute the receiver has no field for, an entity it has no collection for, and the
  sender's additional information are filed, labelled, in its additional-information collection
  (a generic attachment table) or else as case notes; what could not be filed anywhere is listed.
  ``not_placed`` names every label that did not land in a field of its own, and where it went.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import MetaData, Table, and_, select

from rightsflow.catalog import ServiceCatalog
from rightsflow.nhs import InvalidIdentifier, normalise_nhs_number, spaced
from rightsflow.storemap import column_kind as _kind
from rightsflow.storemap import deterministic_key as _deterministic_key
from rightsflow.storemap import field_references as _refs
from rightsflow.storemap import parents_first

from . import ENTITIES, INTERNAL, attributes, canonical_map, is_date, label

Rows = dict[str, list[dict[str, Any]]]
LINK_ATTRS = ("person_id", "household_id", "related_person_id")  # attributes that link, not describe


# -- the catalogue's shape ----------------------------------------------------------------------------


def _pk_fields(cat: ServiceCatalog, collection: str) -> list[str]:
    return [
        f.name
        for c in cat.dataset.collections
        if c.name == collection
        for f in c.fields
        if f.fides_meta and f.fides_meta.primary_key
    ]


@dataclass
class ImportOutcome:
    people_new: int = 0
    people_matched: int = 0
    candidates: list[dict[str, str]] = field(default_factory=list)  # name + date of birth, to confirm
    inserted: dict[str, int] = field(default_factory=dict)
    already_present: dict[str, int] = field(default_factory=dict)
    not_placed: list[dict[str, Any]] = field(default_factory=list)  # {label, items, filed_as}
    people: dict[str, str] = field(default_factory=dict)  # canonical person id -> receiver's key


@dataclass
class _Target:
    collection: str
    fields: dict[str, str]  # attribute -> receiver field


def _targets(
    cat: ServiceCatalog, cmap: dict[str, dict[str, tuple[str, ...]]], every: bool = False
) -> dict[str, Any]:
    """entity -> the receiver's collection mapping most of its attributes (``every``: entity ->
    collection -> its _Target, for each collection that maps the entity)."""
    per: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for c in cat.dataset.collections:
        for fname, keys in cmap.get(c.name, {}).items():
            for key in keys:
                if key == INTERNAL:
                    continue
                entity, _, attr = key.partition(".")
                per[entity].setdefault(c.name, {}).setdefault(attr, fname)
    out = {}
    for entity, colls in per.items():
        best = max(colls, key=lambda n: (len(colls[n]), -list(colls).index(n)))
        out[entity] = {n: _Target(n, f) for n, f in colls.items()} if every else _Target(best, colls[best])
    return out


def _to_column(table: Table, column: str, value: Any) -> Any:
    if value is None:
        return None
    kind = _kind(table, column)
    if kind is datetime and isinstance(value, str):
        return datetime.fromisoformat(value if len(value) > 10 else value + "T00:00:00")
    if kind is date and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if kind is bool:
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "y")
    if kind is int:
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if kind is str:
        text = str(value)
        length = getattr(table.c[column].type, "length", None)
        return text[:length] if length else text
    return value


def _fill_required(table: Table, row: dict[str, Any], day: date, pk_auto: str | None) -> None:
    """NOT NULL columns the record has nothing for get a visible placeholder, never a guess."""
    for col in table.c:
        if col.name in row and row[col.name] is not None:
            continue
        if col.nullable or col.server_default is not None or col.default is not None or col.name == pk_auto:
            continue
        kind = _kind(table, col.name)
        if kind is str:
            row[col.name] = _to_column(table, col.name, "Not recorded (transferred record)")
        elif kind is date:
            row[col.name] = day
        elif kind is datetime:
            row[col.name] = datetime.combine(day, datetime.min.time())
        elif kind is bool:
            row[col.name] = False
        elif kind is int:
            row[col.name] = 0


def _order(cat: ServiceCatalog, names: list[str]) -> list[str]:
    """Parents before children, to insert; a cycle's collections follow in name order."""
    parents = {n: [t for t, _ in _refs(cat, n).values()] for n in names}
    return parents_first(sorted(names), parents, strict=False)


def import_record(
    cat: ServiceCatalog,
    conn: Any,
    doc: dict[str, Any],
    *,
    transfer_id: str,
    transfer_date: date,
    catalog_dir: Any = None,
) -> ImportOutcome:
    """Map the canonical record into ``cat``'s store on ``conn`` (one transaction, the caller's)."""
    cmap = canonical_map(cat, catalog_dir)
    targets = _targets(cat, cmap)
    # a record from a collection of the same name that maps the entity goes there (two councils
    # running the same system keep their forms apart, not merged into the main notes table)
    same_named = _targets(cat, cmap, every=True)
    out = ImportOutcome()
    md = MetaData()
    tables: dict[str, Table] = {}

    def table(name: str) -> Table:
        if name not in tables:
            tables[name] = Table(name, md, autoload_with=conn)
        return tables[name]

    sender = (doc.get("source") or {}).get("authority") or "the sending authority"
    keymap: dict[str, Any] = {}  # canonical id -> receiver key
    people = {p["id"]: p for p in doc.get("people", [])}
    households = {h["id"]: h for h in doc.get("households", [])}
    member_of: dict[str, list[str]] = defaultdict(list)  # person -> households
    members: dict[str, list[str]] = defaultdict(list)  # household -> people
    roles: dict[tuple[str, str], str | None] = {}
    for m in doc.get("memberships", []):
        member_of[m["person_id"]].append(m["household_id"])
        members[m["household_id"]].append(m["person_id"])
        roles[(m["household_id"], m["person_id"])] = m.get("role")
    extra: list[dict[str, Any]] = list(doc.get("additional_information", []))
    filed: dict[str, list[Any]] = defaultdict(list)  # label -> entity ids

    subj = cat.subject
    hh = subj.household
    ptarget = targets.get("person")

    # 1. people: match by NHS number, then UPN; a name + date of birth match is only offered
    if ptarget:
        t = table(ptarget.collection)
        for pid, p in people.items():
            found = None
            nf = ptarget.fields.get("nhs_number")
            if nf and p.get("nhs_number"):
                try:
                    n10 = normalise_nhs_number(p["nhs_number"])
                    found = conn.execute(
                        select(t.c[subj.key]).where(t.c[nf].in_([n10, spaced(n10)])).limit(1)
                    ).scalar()
                except InvalidIdentifier:
                    found = None
            uf = ptarget.fields.get("upn")
            if found is None and uf and p.get("upn"):
                found = conn.execute(select(t.c[subj.key]).where(t.c[uf] == p["upn"]).limit(1)).scalar()
            if found is not None:
                keymap[pid] = found
                out.people_matched += 1
                continue
            names = [ptarget.fields.get(a) for a in ("forename", "surname", "person_birth_date")]
            if all(names) and all(p.get(a) for a in ("forename", "surname", "person_birth_date")):
                cand = conn.execute(
                    select(t.c[subj.key])
                    .where(
                        t.c[names[0]] == p["forename"],
                        t.c[names[1]] == p["surname"],
                        t.c[names[2]] == _to_column(t, names[2], p["person_birth_date"]),
                    )
                    .limit(1)
                ).scalar()
                if cand is not None:
                    out.candidates.append({"person": pid, "existing_key": str(cand), "match": "name_and_dob"})
        # a household the receiver already knows through a matched member (column-linked stores)
        if hh.via == "column" and hh.collection == ptarget.collection and hh.group_column:
            for hid, ids in members.items():
                for pid in ids:
                    if pid in keymap:
                        g = conn.execute(
                            select(t.c[hh.group_column]).where(t.c[subj.key] == keymap[pid])
                        ).scalar()
                        if g is not None:
                            keymap.setdefault(hid, g)

    # 2. gather the rows for each receiving collection, merged by the sender's row id
    planned: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # collection -> id -> attrs
    entity_of: dict[tuple[str, str], str] = {}

    def first_date(item: dict[str, Any], entity: str) -> str | None:
        if entity in ("person", "household"):  # a date of birth is not the date of a record
            return None
        return next((v for a, v in item.items() if v and is_date(entity, a)), None)

    def owner_links(entity: str, item: dict[str, Any]) -> dict[str, Any]:
        if entity == "person":
            return {"person_id": item["id"]}
        if entity == "household":
            return {"household_id": item["id"]}
        return {k: item[k] for k in ("person_id", "household_id") if item.get(k)}

    for entity, plural in ENTITIES.items():
        if entity in ("membership", "additional"):
            continue
        for item in doc.get(plural, []):
            tgt = targets.get(entity)
            source = str(item.get("id", "")).split(":", 1)[0]
            if (
                tgt is not None
                and source in same_named.get(entity, {})
                and entity not in ("person", "household")
            ):
                tgt = same_named[entity][source]
            if tgt is None:
                values = [
                    f"{label(entity, a).split(': ', 1)[1]}: {v}"
                    for a, v in item.items()
                    if a not in ("id", *LINK_ATTRS) and v not in (None, "")
                ]
                if values:
                    extra.append(
                        {
                            "id": f"{item['id']}#{entity}",
                            "label": label(entity),
                            "value": "; ".join(values),
                            "date": first_date(item, entity),
                            **owner_links(entity, item),
                        }
                    )
                continue
            if entity == "address" and _address_on_owner(
                item, tgt, targets, planned, member_of, members, extra
            ):
                continue
            if entity in ("person", "household") and item["id"] in keymap:
                # matched: the receiver's own record stands, and the acknowledgement says so
                filed[f"{label(entity)}: already known to the receiver (its record kept)"].append(
                    ("not imported", item["id"])
                )
                continue
            row = planned[tgt.collection].setdefault(item["id"], {})
            entity_of.setdefault((tgt.collection, item["id"]), entity)
            for a, v in item.items():
                if a == "id" or v in (None, ""):
                    continue
                if a in tgt.fields or a in LINK_ATTRS:
                    row.setdefault(f"{entity}.{a}", v)
                else:
                    extra.append(
                        {
                            "id": f"{item['id']}#{a}",
                            "label": label(entity, a),
                            "value": str(v),
                            "date": v if is_date(entity, a) else first_date(item, entity),
                            **owner_links(entity, item),
                        }
                    )

    # memberships: merged into the person row (column-linked) or rows of their own
    mtarget = targets.get("membership")
    for m in doc.get("memberships", []):
        if mtarget is None:
            if m.get("role"):
                extra.append(
                    {
                        "id": f"{m['household_id']}+{m['person_id']}#role",
                        "label": label("membership", "role"),
                        "value": str(m["role"]),
                        "person_id": m["person_id"],
                    }
                )
            continue
        if ptarget and mtarget.collection == ptarget.collection:
            if m["person_id"] in planned[ptarget.collection]:
                prow = planned[ptarget.collection][m["person_id"]]
                prow.setdefault("membership.household_id", m["household_id"])
                if m.get("role"):
                    prow.setdefault("membership.role", m["role"])
            continue
        mid = f"{m['household_id']}+{m['person_id']}"
        planned[mtarget.collection][mid] = {
            f"membership.{k}": v for k, v in m.items() if k != "id" and v is not None
        }
        entity_of[(mtarget.collection, mid)] = "membership"

    # additional information: the receiver's attachment table, else its case notes
    atarget = targets.get("additional")
    ntarget = targets.get("case_note")
    for item in extra:
        lbl = item["label"]
        if atarget:
            row = {f"additional.{k}": v for k, v in item.items() if k != "id" and v not in (None, "")}
            row["additional.label"] = f"{lbl} (from {sender})"
            planned[atarget.collection][item["id"]] = row
            entity_of[(atarget.collection, item["id"])] = "additional"
            filed[lbl].append(("Additional information", item["id"]))
        elif ntarget:
            row = {f"case_note.{k}": item[k] for k in ("person_id", "household_id") if item.get(k)}
            row["case_note.note_date"] = item.get("date") or transfer_date.isoformat()
            row["case_note.text"] = f"{lbl}: {item.get('value') or ''} (transferred from {sender})"
            row["case_note.author_role"] = f"Transferred record from {sender}"
            planned[ntarget.collection][item["id"]] = row
            entity_of[(ntarget.collection, item["id"])] = "case_note"
            filed[lbl].append(("Case note", item["id"]))
        else:
            filed[lbl].append((None, item["id"]))

    # 3. insert, parents first; links rewritten to the receiver's keys
    first_person = next(iter(people), None)
    first_household = next(iter(households), None)
    for collection in _order(cat, list(planned)):
        t = table(collection)
        pks = _pk_fields(cat, collection)
        pk = pks[0] if len(pks) == 1 else None
        auto = pk if pk and _kind(t, pk) is int else None
        refs = _refs(cat, collection)
        fields_by_attr: dict[str, str] = {}
        for ent_name, colls in same_named.items():
            if collection in colls:
                for a, f in colls[collection].fields.items():
                    fields_by_attr.setdefault(f"{ent_name}.{a}", f)
        for cid, attrs in planned[collection].items():
            entity = entity_of[(collection, cid)]
            row: dict[str, Any] = {}
            links: dict[str, Any] = {}  # person_id / household_id of the record, whichever entity said it
            for key, v in attrs.items():
                ent_name, _, a = key.partition(".")
                if a in ("person_id", "household_id"):
                    links.setdefault(a, v)
                f = fields_by_attr.get(key)
                if f is None and a in LINK_ATTRS:
                    f = _link_field(cat, collection, refs, a, targets)
                if f is None or f in row:
                    continue
                if a in LINK_ATTRS:
                    row[f] = keymap.get(v)
                    continue
                if ent_name == "flag" and a == "flag_type" and collection == cat.roles.flags.collection:
                    codes = {kind: code for code, kind in reversed(list(cat.roles.flags.codes.items()))}
                    v = codes.get(v, v)
                row[f] = _to_column(t, f, v)
            # a record linked to a person where the receiver links to the household, or the reverse
            for f, (target, _tf) in refs.items():
                if row.get(f) is not None:
                    continue
                tent = next(
                    (e for e in ("household", "person") if e in targets and targets[e].collection == target),
                    None,
                )
                if tent == "household":
                    pid = links.get("person_id")
                    hid = (member_of.get(pid) or [None])[0] if pid else None
                    hid = hid or first_household
                    if hid in keymap:
                        row[f] = keymap[hid]
                elif tent == "person" and (not t.c[f].nullable or not any(row.get(r) for r in refs)):
                    # a family-level record where the receiver files by person: the first member
                    hid = links.get("household_id")
                    pid = (members.get(hid) or [None])[0] if hid else None
                    pid = pid or first_person
                    if pid in keymap:
                        row[f] = keymap[pid]
            if pk and pk not in row and not auto:
                row[pk] = _deterministic_key(t, pk, transfer_id, cid)
            elif pk and auto:
                row.pop(pk, None)
            _fill_required(t, row, transfer_date, auto)
            row = {k: v for k, v in row.items() if k in t.c}
            # present already (a re-run): by its deterministic key, or by every key column
            if pk and not auto:
                exists = conn.execute(select(t.c[pk]).where(t.c[pk] == row[pk])).first() is not None
            elif pks and all(row.get(k) is not None for k in pks):
                exists = (
                    conn.execute(select(t.c[pks[0]]).where(and_(*[t.c[k] == row[k] for k in pks]))).first()
                    is not None
                )
            else:
                exists = False
            # only people and households are linked to; other entities may share their row's id
            # (an address kept on a person row), so they never enter the key map
            linked = entity in ("person", "household")
            if exists:
                out.already_present[collection] = out.already_present.get(collection, 0) + 1
                if pk and linked:
                    keymap[cid] = row[pk]
                continue
            res = conn.execute(t.insert().values(**row))
            if linked:
                keymap[cid] = res.inserted_primary_key[0] if auto else row.get(pk)
            out.inserted[collection] = out.inserted.get(collection, 0) + 1
            if entity == "person":
                out.people_new += 1
    out.people = {pid: str(keymap[pid]) for pid in people if pid in keymap}
    for lbl, items in sorted(filed.items()):
        where = sorted({w or "nowhere" for w, _ in items})
        out.not_placed.append({"label": lbl, "items": len(items), "filed_as": ", ".join(where)})
    return out


def _address_on_owner(
    item: dict[str, Any],
    tgt: _Target,
    targets: dict[str, _Target],
    planned: dict[str, dict[str, dict[str, Any]]],
    member_of: dict[str, list[str]],
    members: dict[str, list[str]],
    extra: list[dict[str, Any]],
) -> bool:
    """Where the receiver keeps the address on its household or person row, put it there.

    True when handled (placed, or filed as additional information because the owner's row is the
    receiver's own, matched record); False when addresses have a collection of their own.
    """
    htarget, ptarget = targets.get("household"), targets.get("person")
    if htarget and tgt.collection == htarget.collection:
        pid = item.get("person_id")
        owners = [
            item.get("household_id") or (member_of.get(pid) or [None])[0] if pid else item.get("household_id")
        ]
    elif ptarget and tgt.collection == ptarget.collection:
        owners = (
            [item["person_id"]] if item.get("person_id") else list(members.get(item.get("household_id"), []))
        )
    else:
        return False
    placed = False
    rows = planned[tgt.collection]
    for oid in owners:
        if oid in rows:
            for a, v in item.items():
                if a in tgt.fields and a != "id" and a not in LINK_ATTRS and v not in (None, ""):
                    rows[oid].setdefault(f"address.{a}", v)
            placed = True
    values = [
        (a, v)
        for a, v in item.items()
        if a != "id" and a not in LINK_ATTRS and v not in (None, "") and (not placed or a not in tgt.fields)
    ]
    for a, v in values:
        extra.append(
            {
                "id": f"{item['id']}#address.{a}",
                "label": label("address", a),
                "value": str(v),
                **{k: item[k] for k in ("person_id", "household_id") if item.get(k)},
            }
        )
    return True


def _link_field(
    cat: ServiceCatalog,
    collection: str,
    refs: dict[str, tuple[str, str]],
    attr: str,
    targets: dict[str, _Target],
) -> str | None:
    """The receiver's field linking ``collection`` to a person or household (by its references)."""
    want = "person" if attr in ("person_id", "related_person_id") else "household"
    tgt = targets.get(want)
    if tgt is None:
        return None
    cands = [f for f, (target, _) in refs.items() if target == tgt.collection]
    if attr == "related_person_id":
        return cands[1] if len(cands) > 1 else None
    return cands[0] if cands else None


__all__ = ["ImportOutcome", "import_record", "attributes"]
