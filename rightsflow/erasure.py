"""Erasure, rectification and restriction: the decisions and the catalogue-driven plans.

Nothing here touches a store or Temporal; activities/erasure.py and activities/rights.py apply it.

**Proposed erasure decision per service** (UK GDPR Art 17, as the ICO applies it):

1. the service holds nothing about the subject: ``not_held``;
2. an active flag of a hold kind (the catalogue's ``roles.flags.codes``) on the subject or the
   subject's household refuses it: a legal hold under Art 17(3)(e) (legal claims); a child
   protection plan, a safeguarding concern, a looked after child or an inquiry under Art 17(3)(b)
   (a legal obligation / public task: Children Act 1989 s47, CPPCR 2010, Inquiries Act 2005);
3. a service that is not consent-based (``lawful_basis.consent_based: false``) refuses under
   Art 17(3)(b): the processing is a legal obligation or a public task;
4. a consent-based service erases when consent has been withdrawn (recorded in the consents role,
   or given as the ground) or another Art 17(1) ground is given; with ground ``other`` and no
   withdrawal it proposes ``refuse`` (no Art 17(1) ground made out) for the DPO to look at.

The DPO confirms or changes every proposal; nothing is erased on a proposal alone.

**What erasure removes** (per service, from the catalogue): the subject's row and every row that
references it, transitively (the *person scope*), deleted children first so foreign keys hold.
Records about the household as a whole (sessions, plans, the family row) are other members'
records too and stay. A dataset field may carry a rightsflow rule ``erasure:`` (read from the
catalogue file itself, because fideslang's ``masking_strategy_override`` knows only ``delete``):

* ``erasure: keyed_hash``: the value is replaced by ``h:`` + a keyed hash (HMAC-SHA256 with the
  register's hash key, cut to the column's length), so statistics can still count distinct
  people; a value already starting with ``h:`` is left alone (safe to run twice);
* ``erasure: null``: the value is cleared;
* ``erasure: keep``: the value stays (a date or recipient needed for accountability).

A collection with any such rule keeps the subject's rows (masked) instead of deleting them, and so
do the collections it references inside the person scope (a kept row needs its parent). Every
other field of a kept row that holds personal data (a ``user.*`` category, not a key) is cleared.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .catalog import IDENTITY_NAMES, ServiceCatalog
from .contracts.erasure import (  # noqa: F401  (re-exported: the vocabulary lives with the contracts)
    COURT,
    DECISIONS,
    EXEMPTIONS,
    FIELD_RULES,
    GROUNDS,
    HASH_MARK,
    HOLD_ORDER,
    ICO_COMPLAINT,
    RESTRICTION_REASONS,
    Proposal,
    ServiceFacts,
    check_decision,
    field_label,
)
from .storemap import parents_first, references


def propose(facts: ServiceFacts, ground: str) -> Proposal:
    """The proposed Art 17 decision for one service (the DPO confirms or changes it)."""
    if ground not in GROUNDS:
        raise ValueError(f"ground must be one of {', '.join(GROUNDS)}")
    if not facts.held:
        return Proposal(
            service=facts.service,
            decision="not_held",
            exemption=None,
            reason="the service holds no records about the subject",
        )
    for kind in HOLD_ORDER:
        if kind in facts.holds:
            return Proposal(
                service=facts.service,
                decision="refuse",
                exemption=kind,
                reason=f"an active {kind.replace('_', ' ')} flag",
            )
    if not facts.consent_based:
        return Proposal(
            service=facts.service,
            decision="refuse",
            exemption="public_task",
            reason="the service is not consent-based",
        )
    withdrawn = facts.consents_withdrawn > 0 and facts.consents_withdrawn == facts.consents
    if ground == "consent-withdrawn" or withdrawn:
        return Proposal(
            service=facts.service,
            decision="erase",
            exemption=None,
            reason="consent-based service; consent withdrawn",
        )
    if ground != "other":
        return Proposal(
            service=facts.service,
            decision="erase",
            exemption=None,
            reason=f"consent-based service; ground: {ground}",
        )
    return Proposal(
        service=facts.service, decision="refuse", exemption="no_ground", reason="no Art 17(1) ground given"
    )


# -- the catalogue's erasure plan ------------------------------------------------------------------




@lru_cache(maxsize=64)
def _raw_rules(path: str, mtime: float) -> dict[str, dict[str, str]]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out: dict[str, dict[str, str]] = {}
    for c in (raw.get("dataset") or {}).get("collections") or []:
        for f in c.get("fields") or []:
            rule = f.get("erasure")
            if rule is None:
                continue
            if rule not in FIELD_RULES:
                raise ValueError(
                    f"{path}: dataset.collections[{c.get('name')}].fields[{f.get('name')}].erasure: "
                    f"must be one of {', '.join(FIELD_RULES)}"
                )
            out.setdefault(c["name"], {})[f["name"]] = rule
    return out


def field_rules(catalog_dir: Path, service: str) -> dict[str, dict[str, str]]:
    """collection -> field -> rule, from the ``erasure:`` keys of the service's catalogue file."""
    path = catalog_dir / f"{service}.yaml"
    if not path.exists():
        return {}
    return _raw_rules(str(path), path.stat().st_mtime)


@dataclass(frozen=True)
class ErasurePlan:
    service: str
    person: str  # the subject collection
    key: str  # its key
    order: list[str]  # person-scope collections, parents before children
    parents: dict[str, list[tuple[str, str, str]]]  # in-scope references only
    primary_keys: dict[str, str]
    kept: dict[str, dict[str, str]]  # kept collection -> field -> rule (keyed_hash | null | keep)
    structural: dict[str, set[str]]  # collection -> key and reference columns (never cleared)
    personal: dict[str, list[str]]  # collection -> fields holding personal data (user.* categories)
    restricted: str

    @property
    def delete_order(self) -> list[str]:
        return [c for c in reversed(self.order) if c not in self.kept]


def erasure_plan(cat: ServiceCatalog, rules: dict[str, dict[str, str]] | None = None) -> ErasurePlan:
    subj = cat.subject
    refs = references(cat)
    scope = [subj.collection]
    changed = True
    while changed:
        changed = False
        for c in cat.dataset.collections:
            if c.name not in scope and any(t in scope for _, t, _ in refs.get(c.name, [])):
                scope.append(c.name)
                changed = True
    parents = {c: [r for r in refs.get(c, []) if r[1] in scope] for c in scope}
    # parents before children, whatever order the catalogue lists them in: deleting in reverse
    # must never remove a row another in-scope row still references
    scope = parents_first(scope, {c: [r[1] for r in parents[c]] for c in scope})
    order: list[str] = []
    pending = list(scope)
    while pending:
        ready = [c for c in pending if all(p[1] in order or p[1] == c for p in parents[c])]
        if not ready:
            raise ValueError(f"{cat.service}: references form a cycle among {', '.join(sorted(pending))}")
        for c in ready:
            order.append(c)
            pending.remove(c)
    pks = {
        c.name: next((f.name for f in c.fields if f.fides_meta and f.fides_meta.primary_key), "")
        for c in cat.dataset.collections
    }
    kept = {c: dict(r) for c, r in (rules or {}).items() if c in scope}
    grow = True
    while grow:  # a kept row needs the rows it references
        grow = False
        for c in list(kept):
            for _, parent, _ in parents[c]:
                if parent not in kept:
                    kept[parent] = {}
                    grow = True
    structural = {
        c: {pks[c]}
        | {col for col, _, _ in refs.get(c, [])}
        | ({subj.restricted_field} if c == subj.collection else set())
        for c in scope
    }
    personal = {
        c: [
            f
            for f in cat.columns[c]
            if f not in structural[c] and any(k.startswith("user.") for k in cat.field_categories(c, f))
        ]
        for c in scope
    }
    return ErasurePlan(
        service=cat.service,
        person=subj.collection,
        key=subj.key,
        order=order,
        parents=parents,
        primary_keys=pks,
        kept=kept,
        structural=structural,
        personal=personal,
        restricted=subj.restricted_field,
    )


# -- rectification: which field in which store --------------------------------------------------


def rectifiable_fields(cat: ServiceCatalog, what: str) -> list[str]:
    """Fields of the subject collection holding ``what``: an identity name or a data category.

    ``name`` is ambiguous (given and family names): use ``user.name.first`` or ``user.name.last``.
    A data category matches the fields carrying it or a narrower one (``user.contact`` matches
    phone and email).
    """
    coll = cat.subject.collection
    if what == "name":
        raise ValueError("say which part of the name: user.name.first or user.name.last")
    if what in IDENTITY_NAMES:
        return [r.field for r in cat.identity_fields(what) if r.collection == coll]
    if not what.startswith("user."):
        raise ValueError(
            "FIELD must be an identity (nhs_number, upn, date_of_birth, postcode) or a data category "
            "such as user.contact.phone_number"
        )
    return [
        f
        for f in cat.columns[coll]
        if any(c == what or c.startswith(what + ".") for c in cat.field_categories(coll, f))
    ]


def case_note_target(cat: ServiceCatalog) -> tuple[str, str, str, str] | None:
    """(collection, column linking it to the person or household, level, date field) of the first
    case-note collection with a ``supplementary_statement`` field: where notes of a correction or
    a supplementary statement are kept in the store."""
    for note in cat.roles.case_notes:
        if "supplementary_statement" not in cat.columns[note.collection]:
            continue
        if note.person_column:
            return note.collection, note.person_column, "person", note.date_field
        if note.group_column:
            return note.collection, note.group_column, "group", note.date_field
    return None
