"""Holds on a family's records, as a records manager sees and changes them in the console.

A hold is what a retention sweep honours: an active row in the service's own flags collection (the
catalogue's ``roles.flags``) whose code maps to a hold kind. The list reads those rows from every
store, so a hold raised in the service's own system shows too. A hold placed here writes that row
(the same writer a review decision uses) and records who placed it, when and why in the register's
``retention_hold`` table; lifting it ends the store's row (its ended date) and records who lifted
it. The audit log gets the hold's opaque id only: the case reference and the reason stay in the
register table, where only staff of the council read them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import String, Text, and_, inspect, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from rightsflow.catalog import Catalog, ServiceCatalog
from rightsflow.config import Settings
from rightsflow.db import store_engine
from rightsflow.register import Register, RegisterBase, Timestamp, _now
from rightsflow.storemap import StoreMap

# The holds a records manager places and lifts here; the others (a safeguarding concern, a child
# protection plan, a child looked after) are the service's own to raise and end.
PLACEABLE = {"legal_hold": "Legal hold", "inquiry": "Statutory inquiry"}
KIND_LABELS = {
    **PLACEABLE,
    "safeguarding_concern": "Safeguarding concern",
    "child_protection_plan": "Child protection plan",
    "looked_after": "Child looked after",
}
LEGAL_BASIS = "UK GDPR Art 17(3)(e) and Art 5(1)(e): records kept beyond their retention period under a hold"


class HoldError(ValueError):
    """A hold that cannot be placed or lifted as asked (names no person)."""


class RetentionHold(RegisterBase):
    """A hold placed from the console: who, when, why; and who lifted it."""

    __tablename__ = "retention_hold"
    hold_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), index=True)
    case_ref: Mapped[str] = mapped_column(String(64))  # the store's household or person key
    hold_kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(80))
    placed_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)
    lifted_by: Mapped[str | None] = mapped_column(String(80))
    lifted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    lift_reason: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class ActiveHold:
    service: str
    case_ref: str
    kind: str
    since: date | None
    reason: str | None  # None: raised in the service's own system
    placed_by: str | None
    placed_at: datetime | None
    hold_id: str | None

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())

    @property
    def liftable(self) -> bool:
        return self.kind in PLACEABLE


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def household_of(settings: Settings, svc: ServiceCatalog, case_ref: str) -> dict[str, list[str]]:
    """The store keys of the household with this case reference: {"groups": [...], "people": [...]}.
    A household with a group column is found by it; a store linking people by relationships, by
    the person's key. Empty lists when the store has no such household."""
    hh = svc.subject.household
    m = StoreMap(svc)
    with store_engine(svc, settings).connect() as conn:
        if hh.via in ("column", "membership") and hh.group_column:
            link = m.t(hh.collection)
            people = [
                str(k)
                for (k,) in conn.execute(
                    select(link.c[hh.person_column]).where(link.c[hh.group_column] == case_ref)
                )
            ]
            return {"groups": [case_ref] if people else [], "people": people}
        person = m.t(svc.subject.collection)
        found = conn.execute(select(person.c[svc.subject.key]).where(person.c[svc.subject.key] == case_ref))
        return {"groups": [], "people": [case_ref] if found.first() else []}


def _group_of_people(conn: Any, svc: ServiceCatalog, people: set[str]) -> dict[str, str]:
    """person key -> their household's group key, where the household has a group column."""
    hh = svc.subject.household
    if not people or hh.via not in ("column", "membership") or not hh.group_column:
        return {}
    link = StoreMap(svc).t(hh.collection)
    rows = conn.execute(
        select(link.c[hh.person_column], link.c[hh.group_column]).where(
            link.c[hh.person_column].in_(list(people))
        )
    )
    return {str(p): str(g) for p, g in rows}


def active_holds(settings: Settings, catalog: Catalog, register: Register) -> list[ActiveHold]:
    """Every active hold in every store, by service and case reference."""
    placed: dict[tuple[str, str, str], RetentionHold] = {}
    with register.session() as s:
        for h in s.scalars(select(RetentionHold).where(RetentionHold.lifted_at.is_(None))):
            placed[(h.service, h.case_ref, h.hold_kind)] = h
            s.expunge(h)
    today = date.today()
    out: list[ActiveHold] = []
    for svc in catalog:
        fl = svc.roles.flags
        if fl is None:
            continue
        url = svc.store.resolved_url(settings.home)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            continue  # a laptop store not seeded yet: reading it would create an empty file
        m = StoreMap(svc)
        t = m.t(fl.collection)
        cols = [t.c[fl.code_field], t.c[fl.date_field], t.c[fl.ended_field]]
        cols += [t.c[fl.group_column]] if fl.group_column else []
        cols += [t.c[fl.person_column]] if fl.person_column else []
        try:
            with store_engine(svc, settings).connect() as conn:
                rows = [
                    dict(r._mapping)
                    for r in conn.execute(select(*cols).where(t.c[fl.code_field].in_(list(fl.codes))))
                ]
                people = {
                    str(r[fl.person_column]) for r in rows if fl.person_column and r.get(fl.person_column)
                }
                groups = _group_of_people(conn, svc, people)
        except Exception:  # noqa: BLE001 - one store away must not hide the others' holds
            continue
        seen: set[tuple[str, str]] = set()
        for r in rows:
            ended = _day(r[fl.ended_field])
            if ended is not None and ended <= today:
                continue
            kind = fl.codes[str(r[fl.code_field])]
            group = r.get(fl.group_column) if fl.group_column else None
            person = str(r[fl.person_column]) if fl.person_column and r.get(fl.person_column) else None
            ref = str(group) if group is not None else groups.get(person or "", person or "-")
            if (ref, kind) in seen:
                continue
            seen.add((ref, kind))
            mine = placed.get((svc.service, ref, kind))
            out.append(
                ActiveHold(
                    service=svc.service,
                    case_ref=ref,
                    kind=kind,
                    since=_day(r[fl.date_field]),
                    reason=mine.reason if mine else None,
                    placed_by=mine.placed_by if mine else None,
                    placed_at=mine.placed_at if mine else None,
                    hold_id=mine.hold_id if mine else None,
                )
            )
    return sorted(out, key=lambda h: (h.service, h.case_ref, h.kind))


def place_hold(
    settings: Settings,
    catalog: Catalog,
    register: Register,
    *,
    service: str,
    case_ref: str,
    kind: str,
    reason: str,
    actor: str,
) -> str:
    """Write the hold into the service's store and record it; returns the hold's id."""
    from rightsflow.review import ReviewError, write_hold_flag

    if kind not in PLACEABLE:
        raise HoldError("choose a legal hold or a statutory inquiry")
    try:
        svc = catalog[service]
    except KeyError:
        raise HoldError("choose a service in the catalogue") from None
    if svc.roles.flags is None:
        raise HoldError(f"{svc.name} has no place in its store for holds (the catalogue maps none)")
    keys = household_of(settings, svc, case_ref)
    if not keys["groups"] and not keys["people"]:
        raise HoldError(f"{svc.name} has no family with this case reference")
    try:
        write_hold_flag(store_engine(svc, settings), svc, keys, kind, date.today())
    except ReviewError as exc:
        raise HoldError(str(exc)) from None
    hold_id = f"hd_{secrets.token_hex(10)}"
    with register.session() as s:
        existing = s.scalars(
            select(RetentionHold).where(
                RetentionHold.service == service,
                RetentionHold.case_ref == case_ref,
                RetentionHold.hold_kind == kind,
                RetentionHold.lifted_at.is_(None),
            )
        ).first()
        if existing is not None:  # placed before and still on: keep the first record of it
            return existing.hold_id
        s.add(
            RetentionHold(
                hold_id=hold_id,
                service=service,
                case_ref=case_ref,
                hold_kind=kind,
                reason=reason,
                placed_by=actor,
            )
        )
    register.audit(
        f"retention-hold:{hold_id}:placed",
        actor=actor,
        action="retention.hold.placed",
        service=service,
        legal_basis=LEGAL_BASIS,
        detail={
            "hold_id": hold_id,
            "hold_kind": kind,
            "reason_sha256": hashlib.sha256(reason.encode()).hexdigest(),
        },
    )
    return hold_id


def lift_hold(
    settings: Settings,
    catalog: Catalog,
    register: Register,
    *,
    service: str,
    case_ref: str,
    kind: str,
    reason: str,
    actor: str,
) -> int:
    """End the hold's rows in the store (ended today) and record who lifted it; rows ended."""
    if kind not in PLACEABLE:
        raise HoldError("only a legal hold or an inquiry is lifted here: the service ends the others")
    try:
        svc = catalog[service]
    except KeyError:
        raise HoldError("choose a service in the catalogue") from None
    fl = svc.roles.flags
    if fl is None:
        raise HoldError(f"{svc.name} has no holds")
    codes = [code for code, k in fl.codes.items() if k == kind]
    keys = household_of(settings, svc, case_ref)
    m = StoreMap(svc)
    t = m.t(fl.collection)
    whose = []
    if fl.group_column and keys["groups"]:
        whose.append(t.c[fl.group_column].in_(keys["groups"]))
    if fl.person_column and keys["people"]:
        whose.append(t.c[fl.person_column].in_(keys["people"]))
    if not whose:
        raise HoldError(f"{svc.name} has no family with this case reference")
    engine = store_engine(svc, settings)
    ended_type = {c["name"]: c for c in inspect(engine).get_columns(fl.collection)}[fl.ended_field]["type"]
    try:
        as_datetime = ended_type.python_type is datetime
    except NotImplementedError:
        as_datetime = False
    today = date.today()
    ended = datetime.combine(today, datetime.min.time()) if as_datetime else today
    with engine.begin() as conn:
        n = conn.execute(
            update(t)
            .where(
                and_(
                    t.c[fl.code_field].in_(codes),
                    or_(*whose),
                    or_(t.c[fl.ended_field].is_(None), t.c[fl.ended_field] > ended),
                )
            )
            .values({fl.ended_field: ended})
        ).rowcount
    with register.session() as s:
        rows = list(
            s.scalars(
                select(RetentionHold).where(
                    RetentionHold.service == service,
                    RetentionHold.case_ref == case_ref,
                    RetentionHold.hold_kind == kind,
                    RetentionHold.lifted_at.is_(None),
                )
            )
        )
        for h in rows:
            h.lifted_by, h.lifted_at, h.lift_reason = actor, _now(), reason
        ids = [h.hold_id for h in rows]
    register.audit(
        f"retention-hold:{service}:{hashlib.sha256(case_ref.encode()).hexdigest()[:16]}:{kind}:lifted:"
        f"{today.isoformat()}",
        actor=actor,
        action="retention.hold.lifted",
        service=service,
        legal_basis=LEGAL_BASIS,
        detail={
            "hold_ids": ids,
            "hold_kind": kind,
            "rows_ended": n,
            "reason_sha256": hashlib.sha256(reason.encode()).hexdigest(),
        },
    )
    return int(n or 0)


def review_case_refs(items: list[Any], register: Register) -> dict[tuple[str, str, str], str]:
    """(service, household ref, rule) -> the household's case reference, for the review table."""
    from rightsflow.retention import RetentionReview

    out: dict[tuple[str, str, str], str] = {}
    with register.session() as s:
        for row in s.scalars(select(RetentionReview)):
            try:
                keys = json.loads(row.household_keys or "{}")
            except ValueError:
                keys = {}
            out[(row.service, row.household_ref, row.rule_id)] = case_reference_from(keys)
    return out


def case_reference_from(keys: dict[str, list[str]]) -> str:
    groups, people = keys.get("groups") or [], keys.get("people") or []
    return str(groups[0]) if groups else str(people[0]) if people else "-"
