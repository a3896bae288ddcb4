"""Retention: which households in a service's store are due for disposal, and disposing of them.

Everything is driven by the catalogue (``retention:``, ``subject:``, ``roles:`` and the dataset's
references); no table name is written here. The unit of disposal is the household:

* **column** stores: the people sharing a group key (``household_member.household_ref``);
* **membership** stores: people and groups joined through the link table, transitively (a
  person in two cases joins both cases into one household);
* **relationship** stores: people connected through the relationship table, transitively;
  people with ``subject.professional_field`` set are staff: never family, never disposed.

A household is disposed only when every rule that applies to it has run (the longest period
wins) and nothing blocks it: an active hold flag on anyone or on the group, a restriction on anyone
(``subject.restricted_field``), or an open rights request about anyone. The governing rule is the
one falling due last; on a tie the more careful action wins (archive, review, anonymise, destroy).
``review`` households wait in the disposition review register (``RetentionReview``, written by
the sweep activity) until a records manager decides: approved through every stage, the household
is disposed of by the rule's ``after_review`` action; extended, it is not due before the new date;
moved, it is evaluated under another rule of the service instead; held, a hold flag keeps it.

Households are visited in batches ordered by the subject key; a household is evaluated in the
batch holding its first member, so a cursor (the last key of a batch) is enough to resume.
Every query is set-based over a batch (``IN`` lists over indexed key and link columns).

No personal data leaves this module in a log line, an exception or a report: households are named
by a keyed hash of the service and their first member's store key.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from .catalog import RetentionPeriod, RetentionRule, ServiceCatalog
from .keys import keyed_hash
from .register import RegisterBase, Timestamp, _now
from .storemap import StoreMap

# Why a household stays; the order is the order of precedence when several apply.
REASONS = ("hold", "restricted", "open_request", "awaiting_review", "linked", "not_due", "no_rule")
ACTION_CARE = {"archive_then_destroy": 3, "review": 2, "anonymise": 1, "destroy": 0}
IN_CHUNK = 2000  # values per IN list: well under every backend's bound-parameter limit
KEYSET_CHUNK = 20000  # keys per single-parameter key set (SQLite, PostgreSQL)


class RetentionPlanError(ValueError):
    """The catalogue entry cannot be swept as written (names the service and the field)."""


# --------------------------------------------------------------------------------------------------
# dates


def add_period(start: date, period: RetentionPeriod) -> date:
    """``start`` plus years and months; a missing day becomes the month's last (29 Feb -> 28 Feb)."""
    months = start.month - 1 + period.years * 12 + period.months
    year, month = start.year + months // 12, months % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(start.day, (following - timedelta(days=1)).day))


def due_on(trigger: date, period: RetentionPeriod) -> date:
    """The first day a record may be disposed of: kept through the whole anniversary day."""
    return add_period(trigger, period) + timedelta(days=1)


def as_date(value: Any) -> date | None:
    """Dates as the drivers return them from untyped columns (SQLite gives text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --------------------------------------------------------------------------------------------------
# the register's disposal table (created with the register's schema by ensure_schema)


class RetentionDisposal(RegisterBase):
    """One row per disposed household: keyed-hash reference, rule, action, dates. No personal data.

    ``status`` is ``pending`` from just before the store transaction until just after it commits,
    then ``done``; ``household_key`` (the store's own opaque key) is kept only while pending, so an
    interrupted batch can be reconciled against the store.
    """

    __tablename__ = "retention_disposal"
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    sweep_id: Mapped[str] = mapped_column(String(80))
    rule_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10))
    due_on: Mapped[date] = mapped_column(Date)
    disposed_on: Mapped[date] = mapped_column(Date)
    people: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    household_key: Mapped[str | None] = mapped_column(String(64))
    archive_key: Mapped[str | None] = mapped_column(String(300))
    archive_until: Mapped[date | None] = mapped_column(Date)
    archive_purged_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)
    __table_args__ = (
        Index("ix_retention_disposal_sweep", "sweep_id", "service", "status"),
        Index("ix_retention_disposal_archive", "service", "action", "archive_until"),
    )


class RetentionProgress(RegisterBase):
    """Where one ``sweep_batches`` activity has got to: cursor and tallies, written after every batch.

    Keyed by the activity (workflow id, run id, activity id), so a retried attempt resumes exactly
    after the last batch whose outcome was recorded; heartbeat details alone cannot do that, as the
    SDK sends them throttled and a killed worker's last few batches are not in them. ``state`` is
    JSON (cursor, counts; no personal data). While a disposing batch's store transaction commits,
    ``state`` also holds the batch's outcome under ``"next"``: a retry that finds it decides from
    the store whether that transaction committed.
    """

    __tablename__ = "retention_progress"
    progress_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    service: Mapped[str] = mapped_column(String(64))
    sweep_id: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=_now, index=True)


class RetentionReview(RegisterBase):
    """One disposition review item per household and review rule. No personal data.

    ``household_keys`` (JSON: the store's own opaque person and group keys) is what a decision
    needs to act on the store (a hold flag). ``status``: ``open`` (stage ``stage`` of ``stages``
    awaits a decision), ``extended`` (not due before ``extended_to``), ``moved`` (evaluated under
    ``moved_to``), ``held`` (a hold flag was written), ``approved`` (every stage approved: the next
    sweep disposes of it), ``disposed``. ``approvals`` is JSON: who approved which stage, when.
    """

    __tablename__ = "retention_review"
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_keys: Mapped[str] = mapped_column(Text)
    stages: Mapped[int] = mapped_column(Integer)
    stage: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    decision: Mapped[str | None] = mapped_column(String(20))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    extended_to: Mapped[date | None] = mapped_column(Date)
    moved_to: Mapped[str | None] = mapped_column(String(64))
    hold_kind: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    approvals: Mapped[str] = mapped_column(Text, default="[]")
    opened_sweep: Mapped[str] = mapped_column(String(80))
    opened_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)
    # Reminders (rightsflow/review.py): the day the current wait for a decision began (None: the
    # item's opened_on, or for an item reopened after an extension or hold, the day it is seen
    # open again), how many reminders were sent and when the last one was.
    waiting_since: Mapped[date | None] = mapped_column(Date)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_reminded_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (Index("ix_retention_review_status", "service", "status"),)


@dataclass(frozen=True)
class ReviewState:
    """What the review register says about one household under one review rule."""

    rule_id: str
    status: str
    stage: int
    extended_to: date | None = None
    moved_to: str | None = None


def ensure_schema(engine: Engine) -> None:
    RetentionDisposal.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    RetentionReview.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    RetentionProgress.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]


def load_progress(conn: Connection, progress_key: str) -> dict[str, Any] | None:
    t = RetentionProgress.__table__  # type: ignore[attr-defined]
    state = conn.execute(select(t.c.state).where(t.c.progress_key == progress_key)).scalar()
    return json.loads(state) if state else None


def save_progress(
    conn: Connection, progress_key: str, sweep_id: str, service: str, state: dict[str, Any]
) -> None:
    """Upsert (select then insert or update: the key has one writer at a time)."""
    t = RetentionProgress.__table__  # type: ignore[attr-defined]
    values = {"state": json.dumps(state, sort_keys=True), "updated_at": _now()}
    hit = conn.execute(update(t).where(t.c.progress_key == progress_key).values(**values)).rowcount
    if not hit:
        conn.execute(
            insert(t).values(progress_key=progress_key, sweep_id=sweep_id, service=service, **values)
        )


def forget_progress(conn: Connection, older_than: datetime) -> None:
    t = RetentionProgress.__table__  # type: ignore[attr-defined]
    conn.execute(delete(t).where(t.c.updated_at < older_than))


def pending_keys(conn: Connection, service: str, refs: list[str]) -> list[str]:
    """The store keys kept on ``pending`` destroy/archive rows among ``refs``."""
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    out: list[str] = []
    for ch in _chunks(refs):
        out += conn.scalars(
            select(t.c.household_key).where(
                t.c.service == service,
                t.c.household_ref.in_(ch),
                t.c.status == "pending",
                t.c.action.in_(["destroy", "archive_then_destroy"]),
                t.c.household_key.is_not(None),
            )
        ).all()
    return out


# --------------------------------------------------------------------------------------------------
# the plan: what the catalogue says about households, links and disposal order


@dataclass(frozen=True)
class Link:
    """A collection's rows hang off a household through ``column`` -> persons or groups."""

    collection: str
    column: str
    level: Literal["person", "group"]


@dataclass(frozen=True)
class RuleSource:
    rule: RetentionRule
    trigger: Link
    trigger_field: str
    condition: Link | None  # where applies_when is read
    per_person: bool  # only people with a matching row count


@dataclass
class StorePlan:
    service: str
    map: StoreMap
    person_table: str
    person_key: str
    professional: str | None
    restricted: str
    via: str
    person_group_column: str | None  # column stores: the group key on the person row
    link_table: str | None  # membership / relationship table
    link_person: str | None
    link_other: str | None  # group column (membership) or related person column (relationship)
    group_table: str | None
    group_key: str | None
    primary_keys: dict[str, list[str]]
    parents: dict[str, list[tuple[str, str, str]]]  # collection -> (column, parent collection, parent column)
    scope: list[str]  # in-scope collections, parents before children
    rules: list[RuleSource]
    flag_links: list[Link]
    flag_code_field: str
    flag_ended_field: str
    flag_codes: dict[str, str]

    @property
    def delete_order(self) -> list[str]:
        return list(reversed(self.scope))


def _references(cat: ServiceCatalog) -> dict[str, list[tuple[str, str, str]]]:
    refs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for c in cat.dataset.collections:
        for f in c.fields:
            for ref in (f.fides_meta.references or []) if f.fides_meta else []:
                target, _, target_field = ref.field.partition(".")
                if ref.dataset == cat.service and target != c.name:
                    refs[c.name].append((f.name, target, target_field))
    return refs


def build_plan(cat: ServiceCatalog) -> StorePlan:
    """Read the catalogue entry into a StorePlan; raises RetentionPlanError naming what is missing."""
    svc = cat.service
    subj, h = cat.subject, cat.subject.household
    refs = _references(cat)
    pks = {
        c.name: [f.name for f in c.fields if f.fides_meta and f.fides_meta.primary_key]
        for c in cat.dataset.collections
    }

    def target_of(collection: str, column: str) -> tuple[str, str]:
        for col, target, target_field in refs.get(collection, []):
            if col == column:
                return target, target_field
        raise RetentionPlanError(
            f"{svc}: {collection}.{column} must reference the household's group collection"
        )

    group_table = group_key = person_group = link_table = link_person = link_other = None
    if h.via == "column":
        if h.collection != subj.collection:
            raise RetentionPlanError(f"{svc}: subject.household.collection must be the subject collection")
        person_group = h.group_column
        group_table, group_key = target_of(subj.collection, h.group_column or "")
    elif h.via == "membership":
        link_table, link_person, link_other = h.collection, h.person_column, h.group_column
        group_table, group_key = target_of(h.collection, h.group_column or "")
    else:
        link_table, link_person, link_other = h.collection, h.person_column, h.related_column
    for name, key in ((subj.collection, subj.key), (group_table, group_key)):
        if name and pks.get(name) != [key]:
            raise RetentionPlanError(f"{svc}: {name}.{key} must be the collection's only primary key")

    roots = {subj.collection: "person"} | ({group_table: "group"} if group_table else {})

    def link_of(collection: str, column: str | None = None) -> Link | None:
        if collection == subj.collection:
            return Link(collection, subj.key, "person")
        if collection == group_table:
            return Link(collection, group_key or "", "group")
        candidates = [
            (col, target)
            for col, target, target_field in refs.get(collection, [])
            if (column is None or col == column)
            and target in roots
            and target_field == (subj.key if roots[target] == "person" else group_key)
        ]
        if not candidates:
            return None
        # The column named like the key it references owns the row (lcs_visit.person_id, not
        # worker_person_id; lcs_relationship.person_id, not related_person_id).
        own = [c for c in candidates if c[0] == (subj.key if roots[c[1]] == "person" else group_key)]
        col, target = (own or candidates)[0]
        return Link(collection, col, roots[target])  # type: ignore[arg-type]

    # In scope: the roots and everything that references something in scope.
    scope = [subj.collection] + ([group_table] if group_table else [])
    changed = True
    while changed:
        changed = False
        for c in cat.dataset.collections:
            if c.name in scope:
                continue
            if any(target in scope for _, target, _ in refs.get(c.name, [])):
                scope.append(c.name)
                changed = True
    parents = {c: [r for r in refs.get(c, []) if r[1] in scope] for c in scope}
    for c in scope:
        if c not in roots and not pks.get(c) and any(c == p[1] for cc in scope for p in parents[cc]):
            raise RetentionPlanError(f"{svc}: {c} is referenced but has no primary key in the catalogue")

    dob = next(
        (f.field for f in cat.identity_fields("date_of_birth") if f.collection == subj.collection), None
    )
    rules: list[RuleSource] = []
    for rule in cat.retention:
        ref = rule.trigger_ref(subj, cat.roles, dob)
        if ref is None:
            raise RetentionPlanError(f"{svc}: retention rule {rule.rule_id}: trigger_field is required")
        trig = link_of(ref.collection)
        if trig is None:
            raise RetentionPlanError(
                f"{svc}: retention rule {rule.rule_id}: {ref.collection} is not linked to a person or group"
            )
        cond = None
        per_person = False
        if rule.applies_when:
            cond = link_of(rule.applies_when.collection)
            if cond is None:
                raise RetentionPlanError(
                    f"{svc}: retention rule {rule.rule_id}: applies_when.collection "
                    f"{rule.applies_when.collection} is not linked to a person or group"
                )
            per_person = cond.level == "person" and trig.level == "person"
        rules.append(RuleSource(rule, trig, ref.field, cond, per_person))

    fl = cat.roles.flags
    flag_links = [
        lk
        for lk in (
            link_of(fl.collection, fl.group_column) if fl.group_column else None,
            link_of(fl.collection, fl.person_column) if fl.person_column else None,
        )
        if lk
    ]
    if not flag_links:
        raise RetentionPlanError(f"{svc}: roles.flags is not linked to a person or group")
    order = _topological(scope, parents)
    return StorePlan(
        service=svc,
        map=StoreMap(cat),
        person_table=subj.collection,
        person_key=subj.key,
        professional=subj.professional_field,
        restricted=subj.restricted_field,
        via=h.via,
        person_group_column=person_group,
        link_table=link_table,
        link_person=link_person,
        link_other=link_other,
        group_table=group_table,
        group_key=group_key,
        primary_keys=pks,
        parents=parents,
        scope=order,
        rules=rules,
        flag_links=flag_links,
        flag_code_field=fl.code_field,
        flag_ended_field=fl.ended_field,
        flag_codes=dict(fl.codes),
    )


def _topological(scope: list[str], parents: dict[str, list[tuple[str, str, str]]]) -> list[str]:
    """Parents before children (delete in reverse)."""
    done: list[str] = []
    pending = list(scope)
    while pending:
        progressed = False
        for c in list(pending):
            if all(p[1] in done or p[1] == c for p in parents[c]):
                done.append(c)
                pending.remove(c)
                progressed = True
        if not progressed:
            raise RetentionPlanError(f"references form a cycle among {', '.join(sorted(pending))}")
    return done


def unindexed_references(plan: StorePlan, engine: Engine) -> list[str]:
    """``collection.column`` for each column the sweep finds or deletes rows by that no index
    leads with: every such delete (and, with foreign keys on, every parent delete) scans the table."""
    insp = inspect(engine)
    out: list[str] = []
    for c in plan.scope:
        wanted = {col for col, _, _ in plan.parents.get(c, [])}
        if c == plan.person_table and plan.person_group_column:
            wanted.add(plan.person_group_column)
        if c == plan.link_table:
            wanted |= {x for x in (plan.link_person, plan.link_other) if x}
        leading = {ix["column_names"][0] for ix in insp.get_indexes(c) if ix.get("column_names")}
        leading |= {u["column_names"][0] for u in insp.get_unique_constraints(c) if u.get("column_names")}
        pk = insp.get_pk_constraint(c).get("constrained_columns") or []
        leading |= set(pk[:1])
        out += [f"{c}.{col}" for col in sorted(wanted) if col not in leading]
    return out


# --------------------------------------------------------------------------------------------------
# households


@dataclass
class Household:
    people: list[Any]
    groups: list[Any]
    restricted: bool = False

    @cached_property
    def first_key(self) -> str:  # asked for often (sorting, references): computed once
        return min(str(p) for p in self.people)


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _keyset(conn: Connection, chunk: list[Any]) -> Any:
    """The right-hand side of ``column.in_(...)`` for a chunk of store keys.

    On SQLite and PostgreSQL the chunk travels as one bound parameter (a JSON array read by
    ``json_each``, an array ``unnest``-ed) instead of one parameter per key: the statement text is
    the same for every batch, so it is compiled once and cached, where thousands of ``?`` markers
    cost more to render than the indexed lookups they drive. Elsewhere, a plain IN list.
    """
    kinds = {type(v) for v in chunk}
    if conn.dialect.name == "sqlite" and kinds <= {int, str}:
        arr = bindparam("keys", json.dumps(chunk), unique=True)
        return select(literal_column("value")).select_from(func.json_each(arr))
    if conn.dialect.name == "postgresql" and kinds and (kinds == {int} or kinds == {str}):
        elem = BigInteger() if kinds == {int} else Text()
        return select(func.unnest(bindparam("keys", chunk, type_=ARRAY(elem), unique=True)))
    return chunk


def _key_chunks(conn: Connection, values: Iterable[Any]) -> Iterator[Any]:
    size = KEYSET_CHUNK if conn.dialect.name in ("sqlite", "postgresql") else IN_CHUNK
    for chunk in _chunks(list(values), size):
        yield _keyset(conn, chunk)


def _select_in(conn: Connection, query_for, values: Iterable[Any]) -> list[Any]:  # type: ignore[no-untyped-def]
    """Run ``query_for(keys)`` for each chunk of ``values`` and concatenate the rows."""
    rows: list[Any] = []
    for keys in _key_chunks(conn, values):
        rows.extend(conn.execute(query_for(keys)).all())
    return rows


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _is_professional(value: Any) -> bool:
    return value not in (None, 0, "0", False, "")


def next_households(
    conn: Connection, plan: StorePlan, cursor: Any, limit: int
) -> tuple[list[Household], Any, bool]:
    """The households whose first member (in key order) is among the next ``limit`` people.

    Returns (households, new cursor, finished). Professionals are never people of a household.
    """
    m = plan.map
    pt, pk = plan.person_table, plan.person_key
    key = m.c(pt, pk)
    cols = [key, m.c(pt, plan.restricted)]
    if plan.person_group_column:
        cols.append(m.c(pt, plan.person_group_column))
    q = select(*cols).order_by(key).limit(limit)
    if cursor is not None:
        q = q.where(key > cursor)
    if plan.professional:
        prof = m.c(pt, plan.professional)
        q = q.where(or_(prof.is_(None), prof == 0))
    seeds = conn.execute(q).all()
    if not seeds:
        return [], cursor, True
    new_cursor = seeds[-1][0]
    restricted: dict[Any, bool] = {r[0]: r[1] is not None for r in seeds}
    uf = _UnionFind()
    group_of: dict[Any, Any] = {}

    if plan.via == "column":
        groups = {r[2] for r in seeds}
        for r in seeds:
            group_of[r[0]] = r[2]
        gcol = m.c(pt, plan.person_group_column or "")
        for r in _select_in(
            conn, lambda ch: select(key, m.c(pt, plan.restricted), gcol).where(gcol.in_(ch)), groups
        ):
            restricted[r[0]] = r[1] is not None
            group_of[r[0]] = r[2]
        # The group key is the household: no graph to walk.
        by_group: dict[tuple[str, Any], Household] = {}
        for p, g in group_of.items():
            hh = by_group.setdefault(("g", g) if g is not None else ("p", p), Household([], []))
            if g is not None and not hh.groups:
                hh.groups.append(g)
            hh.people.append(p)
            hh.restricted = hh.restricted or restricted[p]
        households = list(by_group.values())
    else:
        lt = plan.link_table or ""
        lp, lo = m.c(lt, plan.link_person or ""), m.c(lt, plan.link_other or "")
        frontier_p = {r[0] for r in seeds}
        frontier_g: set[Any] = set()
        seen_p, seen_g = set(frontier_p), set()
        for p in frontier_p:
            uf.find(("p", p))
        for _ in range(100):
            if not frontier_p and not frontier_g:
                break
            pairs: list[Any] = []
            if plan.via == "membership":
                pairs += _select_in(conn, lambda ch: select(lp, lo).where(lp.in_(ch)), frontier_p)
                pairs += _select_in(conn, lambda ch: select(lp, lo).where(lo.in_(ch)), frontier_g)
            else:
                # Both ends of each relationship, as two indexed lookups: PostgreSQL answers
                # ``a IN (...) OR b IN (...)`` with a scan of the whole relationship table.
                pairs += _select_in(conn, lambda ch: select(lp, lo).where(lp.in_(ch)), frontier_p)
                pairs += _select_in(conn, lambda ch: select(lp, lo).where(lo.in_(ch)), frontier_p)
            new_p: set[Any] = set()
            new_g: set[Any] = set()
            for a, b in pairs:
                if a not in seen_p:
                    new_p.add(a)
                if plan.via == "membership":
                    if b not in seen_g:
                        new_g.add(b)
                elif b not in seen_p:
                    new_p.add(b)
            # Newly reached people: read restriction and drop professionals before linking.
            if new_p:
                pcols = [key, m.c(pt, plan.restricted)]
                if plan.professional:
                    pcols.append(m.c(pt, plan.professional))
                for r in _select_in(conn, lambda ch, cols=pcols: select(*cols).where(key.in_(ch)), new_p):
                    if plan.professional and _is_professional(r[2]):
                        continue
                    restricted[r[0]] = r[1] is not None
            valid = {p for p in new_p if p in restricted}
            for a, b in pairs:
                if plan.via == "membership":
                    if a in restricted:
                        uf.union(("p", a), ("g", b))
                elif a in restricted and b in restricted:
                    uf.union(("p", a), ("p", b))
            seen_p |= new_p
            seen_g |= new_g
            frontier_p, frontier_g = valid, new_g
        components: dict[Any, Household] = {}
        for node in list(uf.parent):
            root = uf.find(node)
            hh = components.setdefault(root, Household([], []))
            kind, value = node
            if kind == "p":
                if value in restricted:
                    hh.people.append(value)
                    hh.restricted = hh.restricted or restricted[value]
            else:
                hh.groups.append(value)
        households = [hh for hh in components.values() if hh.people]
    # Households already visited in an earlier batch hold someone at or before the cursor.
    if cursor is not None:
        everyone = [p for hh in households for p in hh.people]
        earlier = {
            r[0] for r in _select_in(conn, lambda ch: select(key).where(key.in_(ch), key <= cursor), everyone)
        }
        households = [hh for hh in households if not earlier.intersection(hh.people)]
    for hh in households:
        hh.people.sort(key=str)
        hh.groups.sort(key=str)
    households.sort(key=lambda hh: hh.first_key)
    return households, new_cursor, len(seeds) < limit


# --------------------------------------------------------------------------------------------------
# decisions


@dataclass
class Decision:
    household: Household
    ref: str  # keyed hash
    dispose: bool
    reason: str | None  # None when disposed
    rule_id: str | None  # the governing rule
    action: str | None
    due: date | None
    archive_until: date | None = None
    holds: list[str] = field(default_factory=list)


def household_ref(hash_key: bytes, service: str, hh: Household, generation: int = 1) -> str:
    """The keyed-hash reference of a household: its service and first member's store key.

    A store can give a new household the key of one disposed of earlier (SQLite reuses rowids
    after a reload); the register then already holds that reference, so the newcomer is the next
    ``generation`` of the key (``resolve_refs`` works out which) and gets a reference of its own.
    """
    name = f"{service}/{hh.first_key}" + (f"#{generation}" if generation > 1 else "")
    return keyed_hash(hash_key, name, "retention.household")


def still_anonymised(
    conn: Connection, plan: StorePlan, anon: AnonymisePlan, households: list[Household]
) -> list[bool]:
    """Whether each household is still as an anonymisation left it (its people's cleared fields
    empty), rather than a new household holding personal data under reused store keys."""
    if plan.person_table not in anon.keep_collections:
        return [False] * len(households)  # the anonymisation removed the people: these are new
    cleared = anon.clear.get(plan.person_table) or {}
    if not cleared:
        return [True] * len(households)  # nothing on the person row was cleared: trust the register
    key = plan.map.c(plan.person_table, plan.person_key)
    filled = []
    for f, v in cleared.items():
        col = plan.map.c(plan.person_table, f)
        filled.append(col.is_not(None) if v is None else and_(col.is_not(None), col != v))
    people = [p for hh in households for p in hh.people]
    live = {
        r[0]
        for r in _select_in(conn, lambda ch: select(key).where(key.in_(ch), or_(*filled)), people)
    }
    return [not live.intersection(hh.people) for hh in households]


def resolve_refs(
    rconn: Connection,
    sconn: Connection,
    plan: StorePlan,
    hash_key: bytes,
    households: list[Household],
    anonymise_for: Callable[[str], AnonymisePlan],
) -> list[str]:
    """Each household's reference, distinct from every earlier household disposed under its key.

    The register's row for a reference says who had it: none, or ``pending`` (this household, in
    an interrupted batch), keeps it; a destroyed or archived household is gone from the store, so
    the one now there is new and moves to the next generation; an anonymised one keeps it while
    the store still shows it anonymised (``anonymise_for(rule_id)`` gives the plan that did it).
    """
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    gen = [1] * len(households)
    refs = [household_ref(hash_key, plan.service, hh) for hh in households]
    todo = list(range(len(households)))
    while todo:
        found: dict[str, tuple[str, str, str]] = {}
        for ch in _chunks([refs[i] for i in todo]):
            q = select(t.c.household_ref, t.c.status, t.c.action, t.c.rule_id).where(
                t.c.service == plan.service, t.c.household_ref.in_(ch)
            )
            found.update({r[0]: (r[1], r[2], r[3]) for r in rconn.execute(q)})
        newer: list[int] = []
        anonymised: dict[str, list[int]] = defaultdict(list)
        for i in todo:
            row = found.get(refs[i])
            if row is None or row[0] == "pending":
                continue
            if row[1] == "anonymise":
                anonymised[row[2]].append(i)
            else:
                newer.append(i)
        for rule_id, idx in anonymised.items():
            same = still_anonymised(sconn, plan, anonymise_for(rule_id), [households[i] for i in idx])
            newer += [i for i, s in zip(idx, same, strict=True) if not s]
        for i in newer:
            gen[i] += 1
            refs[i] = household_ref(hash_key, plan.service, households[i], gen[i])
        todo = sorted(newer)
    return refs


def _keys_of(hh: Household, level: str) -> list[Any]:
    return hh.people if level == "person" else hh.groups


def evaluate(
    conn: Connection,
    plan: StorePlan,
    households: list[Household],
    as_of: date,
    open_request_keys: set[str],
    hash_key: bytes,
    reviews: dict[str, list[ReviewState]] | None = None,
    refs: list[str] | None = None,
) -> list[Decision]:
    """Decide every household of a batch: dispose (with the governing rule) or retain (with why).

    ``reviews`` (household ref -> review register states) applies disposition review decisions:
    a household moved from rule R to rule M is evaluated under M instead of R (M's own trigger
    rows where it has them, else R's trigger date plus M's period); under a review rule, an
    extension makes it not due before the new date and approval of every stage disposes of it
    by the rule's ``after_review`` action. ``refs`` (from ``resolve_refs``) names the households;
    without it, each is named by its key's first generation.
    """
    m = plan.map
    owner: dict[tuple[str, Any], int] = {}
    for i, hh in enumerate(households):
        for p in hh.people:
            owner[("person", p)] = i
        for g in hh.groups:
            owner[("group", g)] = i
    all_keys = {
        "person": [p for hh in households for p in hh.people],
        "group": [g for hh in households for g in hh.groups],
    }

    def hh_of(level: str, value: Any) -> int | None:
        return owner.get((level, value))

    # Per household and rule: the unit due dates (None: the rule has not run yet).
    unit_dues: list[dict[str, list[date | None]]] = [defaultdict(list) for _ in households]
    last_trigger: list[dict[str, date]] = [{} for _ in households]
    for src in plan.rules:
        rule = src.rule
        trig = src.trigger
        tcol = m.c(trig.collection, trig.column)
        dcol = m.c(trig.collection, src.trigger_field)
        cond = rule.applies_when
        same = cond is not None and src.condition is not None and src.condition.collection == trig.collection
        allowed: set[tuple[str, Any]] | None = None
        applies: set[int] | None = None
        if cond is not None and src.condition is not None and not same:
            ccol = m.c(src.condition.collection, src.condition.column)
            vcol = m.c(src.condition.collection, cond.field)
            hits = _select_in(
                conn,
                lambda ch, c=ccol, v=vcol, w=cond.values: select(c).where(c.in_(ch), v.in_(w)),
                set(all_keys[src.condition.level]),
            )
            applies = {i for (k,) in hits if (i := hh_of(src.condition.level, k)) is not None}
            if src.per_person:
                allowed = {("person", k) for (k,) in hits}

        # One row per trigger unit (person or group): its latest date and how many of its rows
        # have none (a missing date means the rule has not run for that unit yet).
        def query(ch, t=tcol, d=dcol, c=cond, s=same, coll=trig.collection):  # type: ignore[no-untyped-def]
            q = select(t, func.max(d), func.count() - func.count(d)).where(t.in_(ch))
            if s and c is not None:
                q = q.where(m.c(coll, c.field).in_(c.values))
            return q.group_by(t)

        rows = _select_in(conn, query, set(all_keys[trig.level]))
        if same:
            applies = {i for (k, _, _) in rows if (i := hh_of(trig.level, k)) is not None}
        touched = set()
        for k, latest, missing in rows:
            i = hh_of(trig.level, k)
            if i is None or (allowed is not None and (trig.level, k) not in allowed):
                continue
            if applies is not None and i not in applies:
                continue
            touched.add(i)
            last = as_date(latest)
            if last is not None:
                prev = last_trigger[i].get(rule.rule_id)
                last_trigger[i][rule.rule_id] = last if prev is None else max(prev, last)
            unit_dues[i][rule.rule_id].append(
                None if missing or last is None else due_on(last, rule.period)
            )
        # A rule that applies with no dated row at all has not run: keep the household.
        for i in applies or set():
            if i not in touched:
                unit_dues[i][rule.rule_id].append(None)
        # Without applies_when, a household with no trigger row simply has no record of the class.

    holds = active_holds(conn, plan, owner, as_of)

    rules_by_id = {s.rule.rule_id: s.rule for s in plan.rules}
    decisions = []
    for i, hh in enumerate(households):
        ref = refs[i] if refs is not None else household_ref(hash_key, plan.service, hh)
        dues = unit_dues[i]
        states = {r.rule_id: r for r in (reviews or {}).get(ref, [])}
        for r in states.values():
            if r.status == "moved" and r.moved_to in rules_by_id and r.rule_id in dues:
                del dues[r.rule_id]
                if r.moved_to not in dues:
                    start = last_trigger[i].get(r.rule_id)
                    dues[r.moved_to] = [
                        due_on(start, rules_by_id[r.moved_to].period) if start is not None else None
                    ]
                    if start is not None:
                        last_trigger[i][r.moved_to] = start
        if not dues:
            decisions.append(Decision(hh, ref, False, "no_rule", None, None, None))
            continue
        rule_due: dict[str, date | None] = {
            rid: (None if None in ds else max(ds))  # type: ignore[type-var]
            for rid, ds in dues.items()
        }
        known_dues = [x for ds in dues.values() for x in ds if x is not None]
        earliest = min(known_dues) if known_dues else None
        waiting = earliest is not None and earliest <= as_of
        if any(d is None for d in rule_due.values()):
            gov = next(rid for rid, d in rule_due.items() if d is None)
            reason = "linked" if waiting else "not_due"
            decisions.append(Decision(hh, ref, False, reason, gov, rules_by_id[gov].action, None))
            continue
        latest: date = max(rule_due.values())  # type: ignore[type-var, assignment]
        gov = max(
            (rid for rid, d in rule_due.items() if d == latest),
            key=lambda rid: (ACTION_CARE[rules_by_id[rid].action], rid),
        )
        rule = rules_by_id[gov]
        review = states.get(gov) if rule.action == "review" else None
        if review is not None and review.status == "extended" and review.extended_to is not None:
            latest = max(latest, review.extended_to)
        d = Decision(hh, ref, False, None, gov, rule.action, latest, holds=sorted(holds.get(i, ())))
        if latest > as_of:
            extended = review is not None and review.status == "extended"
            d.reason = "linked" if waiting and not extended else "not_due"
        elif d.holds:
            d.reason = "hold"
        elif hh.restricted:
            d.reason = "restricted"
        elif any(str(p) in open_request_keys for p in hh.people):
            d.reason = "open_request"
        elif rule.action == "review" and (review is None or review.status != "approved"):
            d.reason = "awaiting_review"
        else:
            d.dispose = True
            d.action = rule.disposal_action
            if d.action == "archive_then_destroy" and rule.archive_until:
                d.archive_until = add_period(last_trigger[i][gov], rule.archive_until)
        decisions.append(d)
    return decisions


def active_holds(
    conn: Connection, plan: StorePlan, owner: dict[tuple[str, Any], int], as_of: date, locking: bool = False
) -> dict[int, set[str]]:
    """Active holds on anyone in a household or on its group: household index -> hold kinds.

    ``owner`` maps ("person"|"group", store key) to the household's index. ``locking`` reads with
    a shared row lock, which on MariaDB/MySQL also reads past the transaction's snapshot.
    """
    m = plan.map
    holds: dict[int, set[str]] = defaultdict(set)
    for lk in plan.flag_links:
        lcol = m.c(lk.collection, lk.column)
        code = m.c(lk.collection, plan.flag_code_field)
        ended = m.c(lk.collection, plan.flag_ended_field)

        def query(ch, l_=lcol, c=code, e=ended):  # type: ignore[no-untyped-def]
            q = select(l_, c, e).where(l_.in_(ch), c.in_(list(plan.flag_codes)))
            return q.with_for_update(read=True) if locking else q

        keys = [k for (level, k) in owner if level == lk.level]
        for k, c, e in _select_in(conn, query, keys):
            ended_on = as_date(e)
            i = owner.get((lk.level, k))
            if i is not None and (ended_on is None or ended_on > as_of):
                holds[i].add(plan.flag_codes[str(c)])
    return holds


def lock_and_recheck(conn: Connection, plan: StorePlan, decisions: list[Decision], as_of: date) -> int:
    """Lock the households about to be disposed, then read their holds and restrictions again.

    A hold or restriction placed after the batch was evaluated (by a caseworker, a review decision
    or a rights request) keeps its household: it is retained with that reason instead. Servers
    lock the people's and groups' rows (``FOR UPDATE``), so a flag referencing them cannot commit
    until this batch has; SQLite locks the whole database at its first write, so a no-op update
    takes that lock now (the driver opens the write transaction there). Returns how many
    households were kept back.
    """
    chosen = [d for d in decisions if d.dispose]
    if not chosen:
        return 0
    m = plan.map
    pt = plan.person_table
    key, restricted = m.c(pt, plan.person_key), m.c(pt, plan.restricted)
    owner: dict[tuple[str, Any], int] = {}
    for i, d in enumerate(chosen):
        owner.update({("person", p): i for p in d.household.people})
        owner.update({("group", g): i for g in d.household.groups})
    people = [p for d in chosen for p in d.household.people]
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        for ch in _key_chunks(conn, people):
            conn.execute(update(m.t(pt)).where(key.in_(ch)).values({restricted.name: restricted}))
    elif plan.group_table and plan.group_key:
        gkey = m.c(plan.group_table, plan.group_key)
        _select_in(
            conn,
            lambda ch: select(gkey).where(gkey.in_(ch)).with_for_update(),
            [g for d in chosen for g in d.household.groups],
        )
    def read_people(ch):  # type: ignore[no-untyped-def]
        q = select(key, restricted).where(key.in_(ch))
        return q if sqlite else q.with_for_update()

    rows = _select_in(conn, read_people, people)
    now_restricted = {owner[("person", p)] for p, r in rows if r is not None}
    holds = active_holds(conn, plan, owner, as_of, locking=not sqlite)
    kept = 0
    for i, d in enumerate(chosen):
        if holds.get(i) or i in now_restricted:
            d.dispose, d.archive_until, kept = False, None, kept + 1
            d.holds = sorted(holds.get(i, ()))
            d.reason = "hold" if d.holds else "restricted"
    return kept


# --------------------------------------------------------------------------------------------------
# disposal (one store transaction per batch)


def _scope_keys(
    conn: Connection, plan: StorePlan, people: list[Any], groups: list[Any]
) -> dict[str, list[Any]]:
    """Primary keys of in-scope rows that other in-scope rows reference (parents before children)."""
    keys: dict[str, list[Any]] = {plan.person_table: list(people)}
    if plan.group_table:
        keys[plan.group_table] = list(groups)
    referenced = {p[1] for c in plan.scope for p in plan.parents[c]}
    for c in plan.scope:
        if c in keys or c not in referenced:
            continue
        pkcol = plan.map.c(c, plan.primary_keys[c][0])
        found: set[Any] = set()
        for col, parent, _ in plan.parents[c]:
            fk = plan.map.c(c, col)
            found.update(
                r[0]
                for r in _select_in(
                    conn, lambda ch, f=fk, p=pkcol: select(p).where(f.in_(ch)), keys.get(parent, [])
                )
            )
        keys[c] = sorted(found, key=str)
    return keys


def _row_filter(plan: StorePlan, c: str, keys: dict[str, list[Any]]) -> list[tuple[Any, list[Any]]]:
    """(column, values) pairs: a row of ``c`` belongs to the households if any column matches."""
    if c in (plan.person_table, plan.group_table) and c in keys:
        pk = plan.person_key if c == plan.person_table else plan.group_key
        return [(plan.map.c(c, pk or ""), keys[c])]
    return [(plan.map.c(c, col), keys.get(parent, [])) for col, parent, _ in plan.parents[c]]


def destroy_rows(
    conn: Connection, plan: StorePlan, people: list[Any], groups: list[Any], keep: set[str] = frozenset()
) -> int:  # type: ignore[assignment]
    """Delete every in-scope row of these households, children first; skip collections in ``keep``."""
    keys = _scope_keys(conn, plan, people, groups)
    total = 0
    for c in plan.delete_order:
        if c in keep:
            continue
        t = plan.map.t(c)
        for colobj, values in _row_filter(plan, c, keys):
            for ch in _key_chunks(conn, values):
                total += conn.execute(delete(t).where(colobj.in_(ch))).rowcount or 0
    return total


@dataclass(frozen=True)
class AnonymisePlan:
    keep_collections: frozenset[str]
    clear: dict[str, dict[str, Any]]  # collection -> column -> value written


def anonymise_plan(plan: StorePlan, rule: RetentionRule, engine: Engine) -> AnonymisePlan:
    """Which rows stay (the kept fields' collections and what they reference) and what is cleared."""
    kept_fields: dict[str, set[str]] = defaultdict(set)
    for kf in rule.anonymise_keep:
        c, _, f = kf.partition(".")
        kept_fields[c].add(f)
    keep = set(kept_fields)
    changed = True
    while changed:
        changed = False
        for c in list(keep):
            for _, parent, _ in plan.parents.get(c, []):
                if parent not in keep:
                    keep.add(parent)
                    changed = True
    insp = inspect(engine)
    clear: dict[str, dict[str, Any]] = {}
    for c in keep:
        structural = set(plan.primary_keys.get(c, [])) | {col for col, _, _ in plan.parents.get(c, [])}
        columns = {col["name"]: col for col in insp.get_columns(c)}
        out: dict[str, Any] = {}
        for f in plan.map.service.columns[c]:
            if f in structural or f in kept_fields.get(c, set()) or f == plan.restricted:
                continue
            info = columns.get(f)
            if info is None:
                continue
            if info["nullable"]:
                out[f] = None
            elif (
                isinstance(getattr(info["type"], "length", None), int)
                or "CHAR" in str(info["type"]).upper()
                or "TEXT" in str(info["type"]).upper()
            ):
                out[f] = ""
            else:
                raise RetentionPlanError(
                    f"{plan.service}: cannot anonymise {c}.{f}: not nullable and not text; keep it or map it"
                )
        clear[c] = out
    return AnonymisePlan(frozenset(keep), clear)


def anonymise_rows(
    conn: Connection, plan: StorePlan, anon: AnonymisePlan, people: list[Any], groups: list[Any]
) -> int:
    total = destroy_rows(conn, plan, people, groups, keep=set(anon.keep_collections))
    keys = _scope_keys(conn, plan, people, groups)
    for c in plan.scope:
        if c not in anon.keep_collections or not anon.clear.get(c):
            continue
        t = plan.map.t(c)
        values = {plan.map.c(c, f): v for f, v in anon.clear[c].items()}
        for colobj, vals in _row_filter(plan, c, keys):
            for ch in _key_chunks(conn, vals):
                total += conn.execute(update(t).where(colobj.in_(ch)).values(values)).rowcount or 0
    return total


def household_rows(conn: Connection, plan: StorePlan, hh: Household) -> dict[str, list[dict[str, Any]]]:
    """Every in-scope row of one household, by collection (for the archive package)."""
    keys = _scope_keys(conn, plan, hh.people, hh.groups)
    out: dict[str, list[dict[str, Any]]] = {}
    for c in plan.scope:
        t = plan.map.t(c)
        seen: set[tuple] = set()
        rows: list[dict[str, Any]] = []
        for colobj, vals in _row_filter(plan, c, keys):
            for ch in _key_chunks(conn, vals):
                for r in conn.execute(select(*t.c).where(colobj.in_(ch))).mappings():
                    ident = tuple(r[k] for k in plan.primary_keys.get(c) or list(r.keys()))
                    if ident not in seen:
                        seen.add(ident)
                        rows.append(dict(r))
        out[c] = rows
    return out


def rows_json(rows: dict[str, list[dict[str, Any]]]) -> dict[str, bytes]:
    return {
        c: json.dumps(
            rs,
            default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v),
            sort_keys=True,
            indent=1,
        ).encode()
        for c, rs in rows.items()
    }


def coerce_keys(engine: Engine, plan: StorePlan, values: list[str]) -> list[Any]:
    """Store keys kept as text in the register, back in the key column's own type."""
    column = next(c for c in inspect(engine).get_columns(plan.person_table) if c["name"] == plan.person_key)
    try:
        integer = column["type"].python_type is int
    except NotImplementedError:
        integer = False
    return [int(v) for v in values] if integer else list(values)


def count_people(conn: Connection, plan: StorePlan) -> int:
    q = select(func.count()).select_from(plan.map.t(plan.person_table))
    if plan.professional:
        prof = plan.map.c(plan.person_table, plan.professional)
        q = q.where(or_(prof.is_(None), prof == 0))
    return int(conn.execute(q).scalar() or 0)


# --------------------------------------------------------------------------------------------------
# register helpers


def already_anonymised(conn: Connection, service: str, refs: list[str]) -> dict[str, tuple[str, str]]:
    """ref -> (status, sweep_id) for anonymised households among ``refs``."""
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    out: dict[str, tuple[str, str]] = {}
    for ch in _chunks(refs):
        q = select(t.c.household_ref, t.c.status, t.c.sweep_id).where(
            and_(t.c.service == service, t.c.household_ref.in_(ch), t.c.action == "anonymise")
        )
        out.update({r[0]: (r[1], r[2]) for r in conn.execute(q)})
    return out


def record_pending(
    conn: Connection, sweep_id: str, service: str, as_of: date, decisions: list[Decision]
) -> None:
    """Record each household about to be disposed of as ``pending`` under this sweep.

    A ``pending`` row already there (this batch retried, or a sweep that stopped before its store
    transaction committed: the household is still in the store) becomes this sweep's, so the
    disposal is certified by the sweep that does it. References come from ``resolve_refs``: a
    household disposed of earlier under the same key has a ``done`` row under another reference.
    """
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    refs = [d.ref for d in decisions]
    existing: dict[str, str] = {}
    for ch in _chunks(refs):
        q = select(t.c.household_ref, t.c.status).where(
            t.c.service == service, t.c.household_ref.in_(ch)
        )
        existing.update({r[0]: r[1] for r in conn.execute(q)})
    rows = []
    for d in decisions:
        values = {
            "sweep_id": sweep_id,
            "rule_id": d.rule_id,
            "action": d.action,
            "status": "pending",
            "due_on": d.due,
            "disposed_on": as_of,
            "people": len(d.household.people),
            "rows": 0,
            "household_key": d.household.first_key,
            "archive_until": d.archive_until,
            "recorded_at": _now(),
        }
        status = existing.get(d.ref)
        if status is None:
            rows.append({"service": service, "household_ref": d.ref, **values})
        elif status == "pending":
            conn.execute(
                update(t).where(t.c.service == service, t.c.household_ref == d.ref).values(**values)
            )
    if rows:
        conn.execute(insert(t), rows)


def record_done(
    conn: Connection,
    sweep_id: str,
    service: str,
    refs: list[str],
    rows: int,
    archive_keys: dict[str, str] | None = None,
) -> None:
    """Mark households done (``rows``: store rows changed by the batch, kept on the first); forget
    the store key."""
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    for n, ch in enumerate(_chunks(refs)):
        conn.execute(
            update(t)
            .where(t.c.service == service, t.c.sweep_id == sweep_id, t.c.household_ref.in_(ch))
            .values(status="done", household_key=None)
        )
        if n == 0 and ch:
            conn.execute(
                update(t).where(t.c.service == service, t.c.household_ref == ch[0]).values(rows=rows)
            )
    for ref, key in (archive_keys or {}).items():
        conn.execute(
            update(t).where(t.c.service == service, t.c.household_ref == ref).values(archive_key=key)
        )
    r = RetentionReview.__table__  # type: ignore[attr-defined]
    for ch in _chunks(refs):
        conn.execute(
            update(r)
            .where(r.c.service == service, r.c.household_ref.in_(ch), r.c.status == "approved")
            .values(status="disposed", updated_at=_now())
        )


# --------------------------------------------------------------------------------------------------
# the disposition review register, as the sweep reads and writes it


def load_reviews(conn: Connection, service: str, refs: list[str]) -> dict[str, list[ReviewState]]:
    """ref -> review states among ``refs`` (what ``evaluate`` needs)."""
    t = RetentionReview.__table__  # type: ignore[attr-defined]
    out: dict[str, list[ReviewState]] = defaultdict(list)
    for ch in _chunks(refs):
        q = select(
            t.c.household_ref, t.c.rule_id, t.c.status, t.c.stage, t.c.extended_to, t.c.moved_to
        ).where(t.c.service == service, t.c.household_ref.in_(ch))
        for ref, rule_id, status, stage, ext, moved in conn.execute(q):
            out[ref].append(ReviewState(rule_id, status, stage, as_date(ext), moved))
    return dict(out)


def record_review_items(
    conn: Connection,
    sweep_id: str,
    service: str,
    as_of: date,
    decisions: list[Decision],
    stages: dict[str, int],
) -> int:
    """Open (or reopen) a review item for each household awaiting review. Idempotent.

    A new item starts at stage 1; an item whose extension has run out, or whose hold has been
    lifted, is open again at the stage it had reached. Returns the number opened or reopened.
    """
    t = RetentionReview.__table__  # type: ignore[attr-defined]
    waiting = [d for d in decisions if d.reason == "awaiting_review" and d.rule_id and d.due]
    existing: dict[tuple[str, str], Any] = {}
    for ch in _chunks([d.ref for d in waiting]):
        for row in conn.execute(select(t).where(t.c.service == service, t.c.household_ref.in_(ch))):
            existing[(row.household_ref, row.rule_id)] = row
    new_rows = []
    changed = 0
    for d in waiting:
        keys = json.dumps(
            {"people": [str(p) for p in d.household.people], "groups": [str(g) for g in d.household.groups]},
            sort_keys=True,
        )
        row = existing.get((d.ref, d.rule_id or ""))
        if row is None:
            new_rows.append(
                {
                    "service": service,
                    "household_ref": d.ref,
                    "rule_id": d.rule_id,
                    "household_keys": keys,
                    "stages": stages.get(d.rule_id or "", 1),
                    "stage": 1,
                    "due_on": d.due,
                    "status": "open",
                    "approvals": "[]",
                    "opened_sweep": sweep_id,
                    "opened_on": as_of,
                    "updated_at": _now(),
                }
            )
            continue
        values: dict[str, Any] = {}
        if row.status in ("extended", "held"):
            values["status"] = "open"
        if as_date(row.due_on) != d.due:
            values["due_on"] = d.due
        if row.household_keys != keys:
            values["household_keys"] = keys
        if values:
            changed += 1
            conn.execute(
                update(t)
                .where(t.c.service == service, t.c.household_ref == d.ref, t.c.rule_id == d.rule_id)
                .values(**values, updated_at=_now())
            )
    if new_rows:
        conn.execute(insert(t), new_rows)
    return len(new_rows) + changed
