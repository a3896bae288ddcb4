"""Decisions: each household of a batch disposed of (under its governing rule) or kept (and why),
and the keyed-hash reference that names it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    func,
    or_,
    select,
)

from ..keys import keyed_hash
from .disposal import AnonymisePlan
from .holds import active_holds
from .households import Household, _key_chunks, _select_in
from .plan import StorePlan
from .records import RetentionDisposal, ReviewState
from .schedule import ACTION_CARE, add_period, as_date, due_on

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
    live = {r[0] for r in _select_in(conn, lambda ch: select(key).where(key.in_(ch), or_(*filled)), people)}
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
        for ch in _key_chunks(rconn, [refs[i] for i in todo]):
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
    owners: dict[str, dict[Any, int]] = {"person": {}, "group": {}}
    for i, hh in enumerate(households):
        owners["person"].update((p, i) for p in hh.people)
        owners["group"].update((g, i) for g in hh.groups)
    all_keys = {level: list(keys) for level, keys in owners.items()}

    # Per household and rule: the unit due dates (None: the rule has not run yet).
    unit_dues: list[dict[str, list[date | None]]] = [defaultdict(list) for _ in households]
    last_trigger: list[dict[str, date]] = [{} for _ in households]
    # Rules often share a trigger (three social-care rules run from the date of birth) or a
    # condition: each distinct query is sent once per batch, however many rules ask it.
    fetched: dict[tuple[Any, ...], list[Any]] = {}

    def once(key: tuple[Any, ...], query: Any, keys: list[Any]) -> list[Any]:
        if key not in fetched:
            fetched[key] = _select_in(conn, query, keys)
        return fetched[key]

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
            hits = once(
                ("condition", src.condition.collection, src.condition.column, cond.field, tuple(cond.values)),
                lambda ch, c=ccol, v=vcol, w=cond.values: select(c).where(c.in_(ch), v.in_(w)),
                list(set(all_keys[src.condition.level])),
            )
            cond_owner = owners[src.condition.level]
            applies = {i for (k,) in hits if (i := cond_owner.get(k)) is not None}
            if src.per_person:
                allowed = {("person", k) for (k,) in hits}

        # One row per trigger unit (person or group): its latest date and how many of its rows
        # have none (a missing date means the rule has not run for that unit yet).
        def query(ch, t=tcol, d=dcol, c=cond, s=same, coll=trig.collection):  # type: ignore[no-untyped-def]
            q = select(t, func.max(d), func.count() - func.count(d)).where(t.in_(ch))
            if s and c is not None:
                q = q.where(m.c(coll, c.field).in_(c.values))
            return q.group_by(t)

        only = (cond.field, tuple(cond.values)) if same and cond is not None else None
        rows = once(
            ("trigger", trig.collection, trig.column, src.trigger_field, only), query, all_keys[trig.level]
        )
        trig_owner = owners[trig.level]
        if same:
            applies = {i for (k, _, _) in rows if (i := trig_owner.get(k)) is not None}
        touched = set()
        for k, latest, missing in rows:
            i = trig_owner.get(k)
            if i is None or (allowed is not None and (trig.level, k) not in allowed):
                continue
            if applies is not None and i not in applies:
                continue
            touched.add(i)
            last = as_date(latest)
            if last is not None:
                prev = last_trigger[i].get(rule.rule_id)
                last_trigger[i][rule.rule_id] = last if prev is None else max(prev, last)
            unit_dues[i][rule.rule_id].append(None if missing or last is None else due_on(last, rule.period))
        # A rule that applies with no dated row at all has not run: keep the household.
        for i in applies or set():
            if i not in touched:
                unit_dues[i][rule.rule_id].append(None)
        # Without applies_when, a household with no trigger row simply has no record of the class.

    holds = active_holds(conn, plan, owners, as_of)

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
