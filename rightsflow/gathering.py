"""Gathering a subject's records from a service's store through the catalogue, and redacting them.

``gather_records`` reads, for the confirmed store keys, the subject's own rows, the rows that
reference them, and their household's rows (by the catalogue's household linkage: a group column,
a membership table or person-to-person relationships), and names the other members. Where the
request comes from a parent, ``requester_own_names`` lets their own name through; ``redact_dossiers``
withholds third parties (household members, related people, professionals where the catalogue
says so, and what the DPO adds) under their DPA 2018 bases. Pure domain: no Temporal; the subject
access, portability and transfer activities call it and keep the results in the claim check.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import and_, func, or_, select

from .catalog import ServiceCatalog
from .contracts.subject_access import AddedRedaction
from .redaction import BASES, DPO_ADDED, HOUSEHOLD_MEMBER, MASK, RELATED_PERSON, Redaction, Redactor
from .register import Register
from .storemap import StoreMap, TypedKeys, plain_value, primary_key
from .storemap import field_references as _references


def _fields_with_category(cat: ServiceCatalog, collection: str, prefix: str) -> list[str]:
    return [
        f
        for f in cat.columns[collection]
        if any(c.startswith(prefix) for c in cat.field_categories(collection, f))
    ]


NAMES_KEPT_SECONDS = 300.0  # how long a store's list of held names is reused before it is read again
_names: dict[tuple[str, str, tuple[str, ...]], tuple[float, Any, list[str]]] = {}
_names_lock = threading.Lock()


def held_names(conn: Any, smap: StoreMap, collection: str, key_field: str, fields: list[str]) -> list[str]:
    """Every distinct value of ``fields`` in the store (its held given or family names), sorted.

    Reading them is a scan of the person table that grows with the store (a quarter of a second
    at 200,000 families), the same for every request: each worker process keeps the list while
    the table's highest key is unchanged (one indexed lookup: a person added since is read
    again at once), for at most NAMES_KEPT_SECONDS. A name corrected within that time is known
    by its new spelling only after it; the household's and related people's own names are
    withheld whatever the list says, and the DPO reviews every pack before release.
    """
    if not fields:
        return []
    key = (str(conn.engine.url), collection, tuple(fields))
    newest = conn.execute(select(func.max(smap.c(collection, key_field)))).scalar()
    now = time.monotonic()
    with _names_lock:
        hit = _names.get(key)
    if hit is not None and hit[1] == newest and now - hit[0] < NAMES_KEPT_SECONDS:
        return hit[2]
    found: set[str] = set()
    for f in fields:
        found |= {str(v) for (v,) in conn.execute(select(smap.c(collection, f)).distinct()) if v}
    names = sorted(found)
    with _names_lock:
        _names[key] = (now, newest, names)
    return names


def gather_records(cat: ServiceCatalog, engine: Any, record_keys: list[str]) -> dict[str, Any]:
    """Everything the catalogue maps about the subject in one store, plus the third parties' names.

    person rows (the subject key), family links (the household link collection), household-level
    collections (rows referencing the household/case, when not about another member) and
    person-level collections (rows referencing the subject). Other members' rows are never
    included: they give only the names and identifiers to withhold.
    """
    smap = StoreMap(cat)
    typed = TypedKeys(engine)
    subj = cat.subject
    person, pkey = subj.collection, subj.key
    hh = subj.household
    records: list[dict[str, Any]] = []
    third: list[dict[str, Any]] = []
    keep: set[str] = set()
    professionals: set[str] = set()

    def rows(q: Any, conn: Any) -> list[dict[str, Any]]:
        return [{k: plain_value(v) for k, v in r._mapping.items()} for r in conn.execute(q)]

    with engine.connect() as conn:
        keys = typed.values(person, pkey, record_keys)
        pcol = smap.c(person, pkey)
        subject_rows = rows(select(smap.t(person)).where(pcol.in_(keys)), conn)
        names_first = [f for f in _fields_with_category(cat, person, "user.name.first")]
        names_last = [f for f in _fields_with_category(cat, person, "user.name.last")]
        for r in subject_rows:
            for f in names_first + names_last:
                if r.get(f):
                    keep.add(str(r[f]).casefold())
            full = " ".join(str(r[f]) for f in names_first[:1] + names_last[:1] if r.get(f))
            if full:
                keep.add(full.casefold())
        records.append({"collection": person, "level": "person", "key_field": pkey, "rows": subject_rows})

        # the household / family
        groups: list[Any] = []
        group_target: tuple[str, str] | None = None
        others: set[Any] = set()
        link = smap.t(hh.collection)
        if hh.via in ("column", "membership"):
            assert hh.group_column
            group_target = _references(cat, hh.collection).get(hh.group_column)
            groups = [
                r[0]
                for r in conn.execute(
                    select(link.c[hh.group_column]).where(link.c[hh.person_column].in_(keys)).distinct()
                )
            ]
            if groups:
                others = {
                    r[0]
                    for r in conn.execute(
                        select(link.c[hh.person_column]).where(link.c[hh.group_column].in_(groups)).distinct()
                    )
                }
            if hh.collection != person:
                link_rows = rows(select(link).where(link.c[hh.person_column].in_(keys)), conn)
                records.append(
                    {
                        "collection": hh.collection,
                        "level": "family_link",
                        "key_field": primary_key(cat, hh.collection),
                        "rows": link_rows,
                    }
                )
        else:
            assert hh.related_column
            link_rows = rows(
                select(link).where(
                    or_(link.c[hh.person_column].in_(keys), link.c[hh.related_column].in_(keys))
                ),
                conn,
            )
            for r in link_rows:
                others.add(r[hh.person_column])
                others.add(r[hh.related_column])
            records.append(
                {
                    "collection": hh.collection,
                    "level": "family_link",
                    "key_field": primary_key(cat, hh.collection),
                    "rows": link_rows,
                    "person_fields": [hh.person_column, hh.related_column],
                }
            )
        others -= set(keys)
        other_rows = rows(select(smap.t(person)).where(pcol.in_(list(others))), conn) if others else []
        if subj.professional_field:
            other_rows = [r for r in other_rows if not r.get(subj.professional_field)]
        relation_fields = _fields_with_category(cat, person, "user.childrens.family_relationships")
        identifier_fields = [
            f
            for f in cat.columns[person]
            if any(
                c.startswith(("user.government_id", "user.contact.phone_number", "user.contact.email"))
                for c in cat.field_categories(person, f)
            )
        ]
        kind = RELATED_PERSON if hh.via == "relationship" else HOUSEHOLD_MEMBER
        members_summary = []
        for r in other_rows:
            given = next((str(r[f]) for f in names_first if r.get(f)), None)
            family = next((str(r[f]) for f in names_last if r.get(f)), None)
            third.append({"text": f"{given} {family}" if given and family else None, "kind": kind})
            third.append({"text": given, "kind": kind})
            for f in identifier_fields:
                third.append({"text": r.get(f), "kind": kind, "identifier": True})
            if relation_fields:
                members_summary.append({"relationship": r.get(relation_fields[0]), "name": MASK})
        if members_summary and hh.via == "column":
            records.append(
                {
                    "collection": f"{person} (other household members)",
                    "level": "family_link",
                    "key_field": None,
                    "rows": members_summary,
                }
            )

        # every other mapped collection, by its references to the subject or the household
        for collection in cat.columns:
            if collection in (person, hh.collection):
                continue
            table = smap.t(collection)
            refs = _references(cat, collection)
            person_refs = [f for f, tgt in refs.items() if tgt == (person, pkey)]
            group_refs = [f for f, tgt in refs.items() if group_target and tgt == group_target]
            if group_target and collection == group_target[0]:
                if not groups:
                    continue
                q = select(table).where(table.c[group_target[1]].in_(groups))
                level = "household"
            elif person_refs and group_refs and groups:
                q = select(table).where(
                    or_(
                        *(table.c[f].in_(keys) for f in person_refs),
                        and_(
                            or_(*(table.c[f].in_(groups) for f in group_refs)),
                            *(table.c[f].is_(None) for f in person_refs),
                        ),
                    )
                )
                level = "person_or_household"
            elif person_refs:
                q = select(table).where(or_(*(table.c[f].in_(keys) for f in person_refs)))
                level = "person"
            elif group_refs and groups:
                q = select(table).where(or_(*(table.c[f].in_(groups) for f in group_refs)))
                level = "household"
            else:
                continue
            found = rows(q, conn)
            entry = {
                "collection": collection,
                "level": level,
                "key_field": primary_key(cat, collection),
                "rows": found,
                "person_fields": person_refs,
            }
            records.append(entry)

        # people referenced from gathered rows who are not the subject: staff are named, others withheld
        referenced: set[Any] = set()
        for entry in records:
            for r in entry["rows"]:
                for f in entry.get("person_fields", []):
                    if r.get(f) is not None and r[f] not in keys:
                        referenced.add(r[f])
        if referenced:
            ref_rows = rows(select(smap.t(person)).where(pcol.in_(list(referenced))), conn)
            staff = {
                r[pkey]: " ".join(str(r[f]) for f in names_first[:1] + names_last[:1] if r.get(f))
                for r in ref_rows
                if subj.professional_field and r.get(subj.professional_field)
            }
            professionals.update(staff.values())
            for entry in records:
                for r in entry["rows"]:
                    for f in entry.get("person_fields", []):
                        v = r.get(f)
                        if v is None or v in keys:
                            continue
                        if v in staff:
                            r[f"{f} (name)"] = staff[v]
                        else:
                            r[f] = MASK
                            entry.setdefault("masked_ids", 0)
                            entry["masked_ids"] += 1

        # the names this store holds: a held given name alone in free text is a private individual
        given_vocab = held_names(conn, smap, person, pkey, names_first)
        family_vocab = held_names(conn, smap, person, pkey, names_last)

    return {
        "service": cat.service,
        "name": cat.name,
        "authority": cat.authority,
        "records": records,
        "third_parties": [t for t in third if t.get("text")],
        "keep": sorted(keep),
        "professionals": sorted(professionals),
        "given_names": given_vocab,
        "family_names": family_vocab,
    }


def requester_own_names(register: Register, request_id: str) -> set[str]:
    """The names of a parent who asks for their child's records (casefolded), else nothing."""
    try:
        details = register.requester_details(request_id) or {}
    except LookupError:
        return set()
    name = " ".join(str(details.get("name") or "").split())
    if details.get("kind") != "parent" or " " not in name:
        return set()
    parts = name.split()
    # "Grace Okafor" and "Grace": in notes families are written about by first name
    return {name.casefold(), " ".join(parts[:-1]).casefold(), *(p.casefold() for p in parts[:-1])}


def redact_dossiers(
    dossiers: list[dict[str, Any]],
    released: set[str],
    added: list[AddedRedaction],
    requester_names: set[str] | None = None,
) -> tuple[list[dict[str, Any]], list[Redaction]]:
    """Apply third-party redaction across every service's records (names travel across services).

    ``requester_names``: a parent asking for their child's records; their own name in the records
    is theirs to see, not a third party's (casefolded full name and given names)."""
    red = Redactor(released=released)
    red.keep |= requester_names or set()
    for d in dossiers:
        red.keep |= set(d["keep"])
        red.given_names |= set(d["given_names"])
        red.family_names |= set(d["family_names"])
    for d in dossiers:
        for t in d["third_parties"]:
            red.add(t["text"], t["kind"], identifier=bool(t.get("identifier")))
    for a in added:
        red.add(a.text, DPO_ADDED, basis=BASES[a.basis], overrides_professional=True)
    found: dict[str, Redaction] = {}
    out = []
    for d in dossiers:
        collections = []
        for entry in d["records"]:
            key_field = entry.get("key_field")
            new_rows = []
            for i, r in enumerate(entry["rows"]):
                record_key = str(r.get(key_field)) if key_field and r.get(key_field) is not None else str(i)
                new_rows.append(
                    {
                        k: red.redact_value(
                            v,
                            service=d["service"],
                            collection=entry["collection"],
                            record_key=record_key,
                            field_name=k,
                            found=found,
                        )
                        if isinstance(v, str) and k != key_field
                        else v
                        for k, v in r.items()
                    }
                )
            collections.append(
                {
                    "collection": entry["collection"],
                    "level": entry["level"],
                    "key_field": key_field,
                    "rows": new_rows,
                }
            )
        out.append(
            {
                "service": d["service"],
                "name": d["name"],
                "authority": d["authority"],
                "collections": collections,
            }
        )
    return out, sorted(found.values(), key=lambda r: (r.service, r.collection, r.record_key, r.field))
