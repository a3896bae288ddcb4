"""Disposal inside one store transaction per batch: destroy, anonymise, and the rows an archive holds."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    inspect,
    select,
    update,
)

from ..catalog import RetentionRule
from .households import Household, _key_chunks, _select_in
from .plan import StorePlan
from .schedule import RetentionPlanError

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


def households_rows(
    conn: Connection, plan: StorePlan, households: list[Household]
) -> list[dict[str, list[dict[str, Any]]]]:
    """Every in-scope row of each household, by collection, in primary-key order.

    One query per collection and link column for the whole batch (not per household): an archive
    batch of a thousand households costs the same handful of statements as one. Each row is given
    to the household owning the key it links by; households are connected components of the
    store's links, so no in-scope row links two of them.
    """
    owners: dict[str, dict[Any, int]] = {plan.person_table: {}}
    for i, hh in enumerate(households):
        owners[plan.person_table].update((p, i) for p in hh.people)
        if plan.group_table:
            owners.setdefault(plan.group_table, {}).update((g, i) for g in hh.groups)
    referenced = {p[1] for c in plan.scope for p in plan.parents[c]}
    for c in plan.scope:  # parents before children: the owners of a collection's keys come first
        if c in owners or c not in referenced:
            continue
        pkcol = plan.map.c(c, plan.primary_keys[c][0])
        found: dict[Any, int] = {}
        for col, parent, _ in plan.parents[c]:
            fk = plan.map.c(c, col)
            parent_owner = owners.get(parent, {})
            for pk, ref in _select_in(
                conn, lambda ch, f=fk, p=pkcol: select(p, f).where(f.in_(ch)), list(parent_owner)
            ):
                found.setdefault(pk, parent_owner[ref])
        owners[c] = found
    out: list[dict[str, list[dict[str, Any]]]] = [{} for _ in households]
    for c in plan.scope:
        t = plan.map.t(c)
        if c in (plan.person_table, plan.group_table) and c in owners:
            links = [(plan.person_key if c == plan.person_table else plan.group_key or "", c)]
        else:
            links = [(col, parent) for col, parent, _ in plan.parents[c]]
        ident_cols = plan.primary_keys.get(c) or [col.name for col in t.c]
        got: list[dict[tuple, dict[str, Any]]] = [{} for _ in households]
        for col, owner_of in links:
            owner = owners.get(owner_of, {})
            colobj = plan.map.c(c, col)
            for ch in _key_chunks(conn, list(owner)):
                for r in conn.execute(select(*t.c).where(colobj.in_(ch))).mappings():
                    i = owner.get(r[colobj.key])
                    if i is not None:
                        got[i].setdefault(tuple(r[k] for k in ident_cols), dict(r))
        for i, rows in enumerate(got):
            out[i][c] = [rows[k] for k in sorted(rows, key=lambda k: tuple(map(str, k)))]
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
