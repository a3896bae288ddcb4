"""Households and the store walk: batches of people, joined into households by the store's links.

Every query is set-based over a batch (``IN`` lists, or one bound key set, over indexed columns)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Engine,
    Text,
    bindparam,
    cast,
    func,
    inspect,
    literal_column,
    or_,
    select,
)

from .plan import StorePlan

IN_CHUNK = 2000  # values per IN list: well under every backend's bound-parameter limit
KEYSET_CHUNK = 20000  # keys per single-parameter key set (SQLite, PostgreSQL)

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
        # The array travels as its text literal, parsed by the server: psycopg's own array
        # adaptation inspects every element in Python, which cost more than the deletes it fed.
        elem = BigInteger() if kinds == {int} else Text()
        literal = _pg_array_literal(chunk) if kinds == {str} else "{" + ",".join(map(str, chunk)) + "}"
        return select(func.unnest(cast(bindparam("keys", literal, type_=Text(), unique=True), ARRAY(elem))))
    return chunk


def _pg_array_literal(values: list[str]) -> str:
    """``{"a","b\\"c"}``: every element quoted, backslashes and quotes escaped."""
    if not values:
        return "{}"
    joined = "".join(values)
    if '"' not in joined and "\\" not in joined:  # the usual case: nothing to escape, two joins
        return '{"' + '","'.join(values) + '"}'
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


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
        parent = self.parent
        if x not in parent:
            parent[x] = x
            return x
        while True:  # path halving
            p = parent[x]
            if p == x:
                return x
            parent[x] = x = parent[p]

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
        # Nodes: a person is their own key, a group ("g", key): no tuple built per person lookup.
        for p in frontier_p:
            uf.find(p)
        for _ in range(100):
            if not frontier_p and not frontier_g:
                break
            pairs: list[Any] = []
            if plan.via == "membership":
                pairs += _select_in(conn, lambda ch: select(lp, lo).where(lp.in_(ch)), frontier_p)
                pairs += _select_in(conn, lambda ch: select(lp, lo).where(lo.in_(ch)), frontier_g)
            elif conn.dialect.name == "sqlite":
                # SQLite answers the OR with both indexes (a multi-index OR) in one statement.
                pairs += _select_in(
                    conn, lambda ch: select(lp, lo).where(or_(lp.in_(ch), lo.in_(ch))), frontier_p
                )
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
            if plan.via == "membership":
                for a, b in pairs:
                    if a in restricted:
                        uf.union(a, ("g", b))
            else:
                for a, b in pairs:
                    if a in restricted and b in restricted:
                        uf.union(a, b)
            seen_p |= new_p
            seen_g |= new_g
            frontier_p, frontier_g = valid, new_g
        components: dict[Any, Household] = {}
        for node in list(uf.parent):
            root = uf.find(node)
            hh = components.setdefault(root, Household([], []))
            if isinstance(node, tuple):
                hh.groups.append(node[1])
            elif node in restricted:
                hh.people.append(node)
                hh.restricted = hh.restricted or restricted[node]
        households = [hh for hh in components.values() if hh.people]
    # Households already visited in an earlier batch hold someone at or before the cursor.
    if cursor is not None:
        everyone = [p for hh in households for p in hh.people]
        if type(cursor) is int and all(type(p) is int for p in everyone):
            # Whole numbers order the same in Python as in every database: no query needed.
            earlier = {p for p in everyone if p <= cursor}
        else:  # text keys order by the database's collation, which Python does not know
            earlier = {
                r[0]
                for r in _select_in(conn, lambda ch: select(key).where(key.in_(ch), key <= cursor), everyone)
            }
        households = [hh for hh in households if not earlier.intersection(hh.people)]
    for hh in households:
        hh.people.sort(key=str)
        hh.groups.sort(key=str)
    households.sort(key=lambda hh: hh.first_key)
    return households, new_cursor, len(seeds) < limit


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
