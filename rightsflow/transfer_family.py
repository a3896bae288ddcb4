"""A family in the sending service's store: who belongs to it, what holds it, what travels, and
the record of the hand-off.

Read through the catalogue (``subject.household``, ``roles``), never through table names:

* ``family_seeds`` and ``household_members``: the people of the family a transfer is about, by
  the household link the service has (a group column, a membership table, or typed relationships
  a few hops out, staff left out);
* ``family_flags``: restrictions, active hold flags and consents on any member or household, which
  the transfer workflow weighs before anything leaves;
* ``family_rows``: the family's own records, whole (nobody is redacted from their own family's
  records), from what subject access gathering read;
* ``mark_handed_off``: after the receiver acknowledges, a contact dated the transfer day (retention
  runs from it) and a sharing-log entry naming the receiver (Article 19 knows the recipient), each
  written once however often it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, MetaData, Table, and_, or_, select

from .catalog import ServiceCatalog
from .storemap import StoreMap, as_column_day, deterministic_key, is_int_key, primary_key, typed_keys
from .transfer_package import mapped_rows

RELATIONSHIP_HOPS = 4  # how far out typed relationships are followed to find the family


def family_seeds(
    conn: Any, engine: Engine, cat: ServiceCatalog, smap: StoreMap, family_ref: str
) -> list[Any]:
    """The person keys of the family named by ``family_ref``: a person's key where the service
    links people by relationships, else the household's group key."""
    subj = cat.subject
    hh = subj.household
    if hh.via == "relationship":
        return typed_keys(engine, subj.collection, subj.key, [family_ref])
    assert hh.group_column
    link = smap.t(hh.collection)
    groups = typed_keys(engine, hh.collection, hh.group_column, [family_ref])
    return [
        r[0]
        for r in conn.execute(select(link.c[hh.person_column]).where(link.c[hh.group_column].in_(groups)))
    ]


def household_members(conn: Any, cat: ServiceCatalog, smap: StoreMap, seeds: list[Any]) -> tuple[list, list]:
    """(group keys, member keys) of the families the ``seeds`` (person keys) belong to."""
    hh = cat.subject.household
    link = smap.t(hh.collection)
    if hh.via in ("column", "membership"):
        assert hh.group_column
        groups = [
            r[0]
            for r in conn.execute(
                select(link.c[hh.group_column]).where(link.c[hh.person_column].in_(seeds)).distinct()
            )
            if r[0] is not None
        ]
        members = [
            r[0]
            for r in conn.execute(
                select(link.c[hh.person_column]).where(link.c[hh.group_column].in_(groups)).distinct()
            )
        ]
        return groups, sorted(set(members) | set(seeds), key=str)
    # relationship: the connected family, a few hops out (people linked by typed relationships)
    assert hh.related_column
    members = set(seeds)
    frontier = set(seeds)
    for _ in range(RELATIONSHIP_HOPS):
        if not frontier:
            break
        q = select(link.c[hh.person_column], link.c[hh.related_column]).where(
            or_(link.c[hh.person_column].in_(list(frontier)), link.c[hh.related_column].in_(list(frontier)))
        )
        if hh.professional_column:
            q = q.where(or_(link.c[hh.professional_column].is_(None), link.c[hh.professional_column] == 0))
        found = {v for row in conn.execute(q) for v in row if v is not None}
        frontier = found - members
        members |= found
    if cat.subject.professional_field:
        person = smap.t(cat.subject.collection)
        staff = {
            r[0]
            for r in conn.execute(
                select(person.c[cat.subject.key]).where(
                    person.c[cat.subject.key].in_(list(members)),
                    person.c[cat.subject.professional_field] == 1,
                )
            )
        }
        members -= staff
    return [], sorted(members, key=str)


@dataclass
class FamilyFlags:
    """What restricts or holds a family: counts and hold names, no keys."""

    restricted: int
    holds: list[str]
    consents_active: int
    consents_withdrawn: int


def family_flags(conn: Any, cat: ServiceCatalog, smap: StoreMap, groups: list, members: list) -> FamilyFlags:
    """Members under a restriction, the active hold flags (by the catalogue's name for each code) on
    any member or household, and the family's consents still given and withdrawn."""
    subj = cat.subject
    person = smap.t(subj.collection)
    restricted = conn.execute(
        select(person.c[subj.key]).where(
            person.c[subj.key].in_(members), person.c[subj.restricted_field].is_not(None)
        )
    ).all()
    fl = cat.roles.flags
    ft = smap.t(fl.collection)
    conds = []
    if fl.group_column and groups:
        conds.append(ft.c[fl.group_column].in_(groups))
    if fl.person_column:
        conds.append(ft.c[fl.person_column].in_(members))
    holds: set[str] = set()
    if conds:
        for (code,) in conn.execute(
            select(ft.c[fl.code_field]).where(or_(*conds), ft.c[fl.ended_field].is_(None)).distinct()
        ):
            if str(code) in fl.codes:
                holds.add(fl.codes[str(code)])
    active = withdrawn = 0
    if cat.roles.consents:
        cr = cat.roles.consents
        ct = smap.t(cr.collection)
        cconds = []
        if cr.person_column:
            cconds.append(ct.c[cr.person_column].in_(members))
        if cr.group_column and groups:
            cconds.append(ct.c[cr.group_column].in_(groups))
        for (w,) in conn.execute(select(ct.c[cr.withdrawn_field]).where(or_(*cconds))):
            if w is None:
                active += 1
            else:
                withdrawn += 1
    return FamilyFlags(
        restricted=len(restricted), holds=sorted(holds), consents_active=active, consents_withdrawn=withdrawn
    )


def family_rows(cat: ServiceCatalog, dossier: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every mapped record of the family (collection -> rows) from a subject access gathering of all
    its members (``gather_records``), nothing withheld: the family's own records travel whole."""
    return mapped_rows(cat, dossier["records"], blank_withheld=True)


# -- the hand-off, recorded in the sender's store ---------------------------------------------------


def _cut(table: Table, column: str, text: str, default: int | None = None) -> str:
    """``text`` cut to the column's length."""
    return text[: getattr(table.c[column].type, "length", None) or default or len(text)]


def insert_role_row(
    conn: Any,
    table: Table,
    pk: str | None,
    values: dict[str, Any],
    note_field: str | None,
    note: str,
    seed: str,
) -> bool:
    """Insert one row into a role collection once (False: it was there). Other required text
    columns get ``note``; a text key is derived from ``seed``, so a re-run finds its row."""
    row = dict(values)
    for col in table.c:
        if col.name in row or col.nullable or col.primary_key or col.server_default is not None:
            continue
        try:
            kind = col.type.python_type
        except NotImplementedError:
            kind = str
        if kind is str:
            row[col.name] = _cut(table, col.name, note)
        elif kind is date:
            row[col.name] = next((v for v in values.values() if isinstance(v, date)), date.today())
        elif kind in (int, bool):
            # A required flag or count the store sets only in its own application (Family Thrive's
            # "shared with consent" is a Python-side default, lost on reflection): 0 / no, as the
            # transfer records nothing more (its basis is in the note), rather than failing the insert.
            row[col.name] = kind(0)
    if note_field and note_field in table.c and note_field not in row:
        row[note_field] = _cut(table, note_field, note)
    if pk and not is_int_key(table, pk):
        row[pk] = deterministic_key(table, pk, seed)
        if conn.execute(select(table.c[pk]).where(table.c[pk] == row[pk])).first():
            return False
    else:
        conds = [table.c[k] == v for k, v in row.items() if k != pk and v is not None]
        if conn.execute(select(table).where(and_(*conds)).limit(1)).first():
            return False
    conn.execute(table.insert().values(**row))
    return True


def mark_handed_off(
    conn: Any,
    engine: Engine,
    cat: ServiceCatalog,
    *,
    group_keys: list[str],
    member_keys: list[str],
    to_authority: str,
    transfer_id: str,
    day: date,
) -> tuple[int, int]:
    """(contacts added, sharing-log entries added) for a family handed to ``to_authority`` on ``day``,
    inside the caller's transaction ``conn``. Each row once: a repeat adds nothing."""
    note = f"Records transferred to {to_authority} (transfer {transfer_id})"
    contacts = shares = 0
    role = cat.roles.contacts
    t = Table(role.collection, MetaData(), autoload_with=conn)
    pk = primary_key(cat, role.collection)
    if role.group_column and group_keys:
        targets = [
            (role.group_column, g) for g in typed_keys(engine, role.collection, role.group_column, group_keys)
        ]
    else:
        col = role.person_column or role.group_column
        assert col
        targets = [(col, m) for m in typed_keys(engine, role.collection, col, member_keys)]
    for col, value in targets:
        contacts += insert_role_row(
            conn,
            t,
            pk,
            {col: value, role.date_field: as_column_day(t, role.date_field, day)},
            None,
            note,
            f"{transfer_id}:contact:{value}",
        )
    sl = cat.roles.sharing_log
    st = Table(sl.collection, MetaData(), autoload_with=conn)
    spk = primary_key(cat, sl.collection)
    col = sl.person_column or sl.group_column
    assert col
    keys = member_keys if sl.person_column else group_keys
    for value in typed_keys(engine, sl.collection, col, keys):
        shares += insert_role_row(
            conn,
            st,
            spk,
            {
                col: value,
                sl.date_field: as_column_day(st, sl.date_field, day),
                sl.recipient_field: _cut(st, sl.recipient_field, to_authority, 200),
            },
            sl.what_field,
            note,
            f"{transfer_id}:share:{value}",
        )
    return contacts, shares
