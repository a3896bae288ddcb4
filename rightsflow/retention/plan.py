"""The plan: what a service's catalogue entry says about households, links and disposal order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import (
    Engine,
    inspect,
)

from ..catalog import RetentionRule, ServiceCatalog
from ..storemap import StoreMap, parents_first, references
from .schedule import RetentionPlanError

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




def build_plan(cat: ServiceCatalog) -> StorePlan:
    """Read the catalogue entry into a StorePlan; raises RetentionPlanError naming what is missing."""
    svc = cat.service
    subj, h = cat.subject, cat.subject.household
    refs = references(cat)
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
    try:
        return parents_first(scope, {c: [p[1] for p in parents[c]] for c in scope})
    except ValueError as exc:
        raise RetentionPlanError(str(exc)) from None


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
