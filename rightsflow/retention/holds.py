"""Holds and restrictions: read with the batch, and read again under lock before a batch disposes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    false,
    select,
    update,
)

from .households import _select_in
from .plan import StorePlan
from .schedule import as_date

if TYPE_CHECKING:
    from .decisions import Decision


def active_holds(
    conn: Connection, plan: StorePlan, owners: dict[str, dict[Any, int]], as_of: date, locking: bool = False
) -> dict[int, set[str]]:
    """Active holds on anyone in a household or on its group: household index -> hold kinds.

    ``owners`` maps "person" and "group" to store key -> the household's index. ``locking`` reads
    with a shared row lock, which on MariaDB/MySQL also reads past the transaction's snapshot.
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

        owner = owners.get(lk.level, {})
        for k, c, e in _select_in(conn, query, list(owner)):
            ended_on = as_date(e)
            i = owner.get(k)
            if i is not None and (ended_on is None or ended_on > as_of):
                holds[i].add(plan.flag_codes[str(c)])
    return holds


def lock_and_recheck(conn: Connection, plan: StorePlan, decisions: list[Decision], as_of: date) -> int:
    """Lock the households about to be disposed, then read their holds and restrictions again.

    A hold or restriction placed after the batch was evaluated (by a caseworker, a review decision
    or a rights request) keeps its household: it is retained with that reason instead. Servers
    lock the people's and groups' rows (``FOR UPDATE``), so a flag referencing them cannot commit
    until this batch has; SQLite locks the whole database at its first write, so an update that
    matches nothing takes that lock now (the driver opens the write transaction there). Returns
    how many households were kept back.
    """
    chosen = [d for d in decisions if d.dispose]
    if not chosen:
        return 0
    m = plan.map
    pt = plan.person_table
    key, restricted = m.c(pt, plan.person_key), m.c(pt, plan.restricted)
    owners: dict[str, dict[Any, int]] = {"person": {}, "group": {}}
    for i, d in enumerate(chosen):
        owners["person"].update((p, i) for p in d.household.people)
        owners["group"].update((g, i) for g in d.household.groups)
    people = [p for d in chosen for p in d.household.people]
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # An update that matches no row still opens the write transaction (SQLite takes its write
        # lock when the statement starts), without rewriting the batch's people to do it.
        conn.execute(update(m.t(pt)).where(false()).values({restricted.name: restricted}))
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
    now_restricted = {owners["person"][p] for p, r in rows if r is not None}
    holds = active_holds(conn, plan, owners, as_of, locking=not sqlite)
    kept = 0
    for i, d in enumerate(chosen):
        if holds.get(i) or i in now_restricted:
            d.dispose, d.archive_until, kept = False, None, kept + 1
            d.holds = sorted(holds.get(i, ()))
            d.reason = "hold" if d.holds else "restricted"
    return kept
