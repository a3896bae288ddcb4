"""Erasure: read what decides it in each store, and erase what the catalogue marks.

``assess_service`` reads the subject's active hold flags (person- and household-level), consents
and the service's lawful basis and returns a proposal (rightsflow.erasure.propose), no personal
data. ``erase_service`` applies the catalogue's erasure plan inside one transaction per service:
the subject's person-scope rows deleted children first, kept rows masked per field; a retry finds
nothing left to delete and values already masked, so it changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, inspect, or_, select, update
from sqlalchemy.exc import InterfaceError, NoSuchColumnError, NoSuchTableError, OperationalError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import fail, fails_fast, service_entry
from activities.heartbeat import heartbeats
from activities.rights import chunks, subject_groups
from rightsflow.catalog import Catalog, ServiceCatalog
from rightsflow.config import Settings
from rightsflow.contracts.erasure import (  # noqa: F401  (re-exported for callers)
    AssessInput,
    Assessment,
    EraseInput,
    EraseResult,
)
from rightsflow.db import store_engine
from rightsflow.erasure import (
    EXEMPTIONS,
    HASH_MARK,
    ErasurePlan,
    ServiceFacts,
    erasure_plan,
    field_rules,
    propose,
)
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.redaction import ERASED_BASIS, Redaction, erased_person_redactor
from rightsflow.register import Register
from rightsflow.storemap import StoreMap, TypedKeys, primary_key

log = logging.getLogger("rightsflow.activities")


def active_holds(
    conn: Connection, cat: ServiceCatalog, smap: StoreMap, keys: list[Any], groups: list[Any]
) -> list[str]:
    """Hold kinds of flags still open (no end date) on the subject or the subject's household."""
    fl = cat.roles.flags
    t = smap.t(fl.collection)
    conds = []
    if fl.person_column and keys:
        conds.append(t.c[fl.person_column].in_(keys))
    if fl.group_column and groups:
        conds.append(t.c[fl.group_column].in_(groups))
    if not conds:
        return []
    q = select(t.c[fl.code_field]).where(or_(*conds), t.c[fl.ended_field].is_(None)).distinct()
    kinds = {fl.codes[str(r[0])] for r in conn.execute(q) if str(r[0]) in fl.codes}
    return sorted(kinds)


def _scope_keys(conn: Connection, plan: ErasurePlan, smap: StoreMap, keys: list[Any]) -> dict[str, list[Any]]:
    """Primary keys of the person-scope rows that other person-scope rows reference."""
    found: dict[str, list[Any]] = {plan.person: list(keys)}
    referenced = {p[1] for c in plan.order for p in plan.parents[c]}
    for c in plan.order:
        if c in found or c not in referenced:
            continue
        pk = smap.c(c, plan.primary_keys[c])
        vals: set[Any] = set()
        for col, parent, _ in plan.parents[c]:
            for ch in chunks(found.get(parent, [])):
                if ch:
                    vals.update(r[0] for r in conn.execute(select(pk).where(smap.c(c, col).in_(ch))))
        found[c] = sorted(vals, key=str)
    return found


def _filters(
    plan: ErasurePlan, smap: StoreMap, c: str, found: dict[str, list[Any]]
) -> list[tuple[Any, list[Any]]]:
    if c == plan.person:
        return [(smap.c(c, plan.key), found[c])]
    return [(smap.c(c, col), found.get(parent, [])) for col, parent, _ in plan.parents[c]]


def erase_rows(
    conn: Connection, plan: ErasurePlan, smap: StoreMap, keys: list[Any], hash_key: bytes, engine: Any
) -> EraseResult:
    """Delete (children first) and mask the subject's person-scope rows; set-based, idempotent."""
    result = EraseResult(service=plan.service)
    found = _scope_keys(conn, plan, smap, keys)
    for c in plan.delete_order:
        t = smap.t(c)
        n = 0
        for col, values in _filters(plan, smap, c, found):
            for ch in chunks(values):
                if ch:
                    n += conn.execute(delete(t).where(col.in_(ch))).rowcount or 0
        result.rows_deleted += n
        result.by_collection[c] = n
    insp = inspect(engine)
    for c in plan.order:
        if c not in plan.kept:
            continue
        rules = plan.kept[c]
        cols = {col["name"]: col for col in insp.get_columns(c)}
        t = smap.t(c)
        pk = plan.primary_keys[c]
        cleared: dict[str, Any] = {}
        for f in plan.personal[c]:
            rule = rules.get(f)
            if rule in ("keep", "keyed_hash") or f not in cols:
                continue
            cleared[f] = None if cols[f]["nullable"] else ""
        for f, rule in rules.items():
            if rule == "null" and f in cols:
                cleared[f] = None if cols[f]["nullable"] else ""
        hashed = [f for f, rule in rules.items() if rule == "keyed_hash" and f in cols]
        n = 0
        for col, values in _filters(plan, smap, c, found):
            for ch in chunks(values):
                if not ch:
                    continue
                if cleared:
                    changed = [t.c[f].is_not(None) if v is None else t.c[f] != v for f, v in cleared.items()]
                    n += (
                        conn.execute(update(t).where(col.in_(ch), or_(*changed)).values(cleared)).rowcount
                        or 0
                    )
                for f in hashed:
                    length = getattr(cols[f]["type"], "length", None)
                    todo = conn.execute(
                        select(t.c[pk], t.c[f]).where(
                            col.in_(ch), t.c[f].is_not(None), ~t.c[f].startswith(HASH_MARK)
                        )
                    ).all()
                    if not todo:
                        continue
                    params = []
                    for key, value in todo:
                        digest = HASH_MARK + keyed_hash(
                            hash_key, str(value), f"erasure.{plan.service}.{c}.{f}"
                        )
                        params.append({"k": key, "v": digest[:length] if length else digest})
                    stmt = update(t).where(t.c[pk] == bindparam("k")).values({f: bindparam("v")})
                    n += conn.execute(stmt, params).rowcount or 0
        result.rows_masked += n
        result.by_collection[c] = result.by_collection.get(c, 0) + n
    return result


def _subject_names(
    conn: Connection, cat: ServiceCatalog, smap: StoreMap, keys: list[Any]
) -> list[tuple[str | None, str | None]]:
    """(given, family) of each of the subject's rows, read before they are erased."""
    coll = cat.subject.collection

    def column(category: str) -> str | None:
        return next(
            (
                f
                for f in cat.columns[coll]
                if any(c.startswith(category) for c in cat.field_categories(coll, f))
            ),
            None,
        )

    given, family = column("user.name.first"), column("user.name.last")
    if not keys or not given:
        return []
    t = smap.t(coll)
    cols = [t.c[given], t.c[family]] if family else [t.c[given]]
    rows = conn.execute(select(*cols).where(t.c[cat.subject.key].in_(keys))).all()
    return [(r[0], r[1] if family else None) for r in rows]


def remove_mentions(
    conn: Connection,
    cat: ServiceCatalog,
    smap: StoreMap,
    groups: list[Any],
    names: list[tuple[str | None, str | None]],
) -> tuple[dict[str, Redaction], list[str]]:
    """Remove the erased person's name from the free text of the family's case notes, which are
    kept for the others in the family. Returns the redactions (where and why, by id) and the
    collections kept. Idempotent: a retry finds the names already removed."""
    found: dict[str, Redaction] = {}
    kept: list[str] = []
    if not groups or not names:
        return found, kept
    redactors = [erased_person_redactor(g, f) for g, f in names]
    for note in cat.roles.case_notes:
        if not note.group_column:
            continue
        t = smap.t(note.collection)
        pk = primary_key(cat, note.collection)
        if pk is None:  # no way to change one note and not another
            raise fail("MissingCatalogueEntry", "erase_service: a case-notes collection has no primary key")
        text = [
            f
            for f in cat.columns[note.collection]
            if f not in (pk, note.group_column, note.date_field)
            and any(c.startswith("user.") for c in cat.field_categories(note.collection, f))
            and f in t.c
        ]
        rows = 0
        for ch in chunks(groups):
            for row in conn.execute(
                select(t.c[pk], *(t.c[f] for f in text)).where(t.c[note.group_column].in_(ch))
            ):
                rows += 1
                changes = {}
                for f, value in zip(text, row[1:], strict=True):
                    if not isinstance(value, str) or not value:
                        continue
                    new = value
                    for r in redactors:
                        new = r.redact_value(
                            new,
                            service=cat.service,
                            collection=note.collection,
                            record_key=str(row[0]),
                            field_name=f,
                            found=found,
                        )
                    if new != value:
                        changes[f] = new
                if changes:
                    conn.execute(update(t).where(t.c[pk] == row[0]).values(changes))
        if rows:
            kept.append(cat.collection_label(note.collection))
    return found, kept


# Store errors a retry can cure (the store unreachable, a connection dropped): anything else in
# the mention step is a fault retrying repeats, e.g. "[name removed]" too long for a column.
_OUTAGES = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def _guarded(step: Any, *args: Any) -> Any:
    """Run ``step``; an error retrying cannot cure stops the request (needs attention) instead of
    retrying without end. The exception's text can quote a note, so only its type is logged."""
    try:
        return step(*args)
    except ApplicationError:
        raise
    except _OUTAGES:
        raise  # Temporal retries; fails_fast still classifies a missing table or column
    except (KeyError, ValueError, NoSuchTableError, NoSuchColumnError):
        raise  # fails_fast makes these non-retryable with their own reason
    except Exception as exc:
        log.warning("removing mentions of an erased person failed: %s", type(exc).__name__)
        raise fail("MentionRemovalFailed", "erase_service: MentionRemovalFailed") from None


class ErasureActivities:
    """Art 17 assessment and erasure over the catalogued stores (one instance per worker)."""

    def __init__(self, settings: Settings, catalog: Catalog, register: Register) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.maps = {svc.service: StoreMap(svc) for svc in catalog}
        self.hash_key = load_hash_key(settings)

    def plan(self, service: str) -> ErasurePlan:
        return erasure_plan(
            service_entry(self.catalog, service), field_rules(self.settings.catalog_dir, service)
        )

    @activity.defn
    @heartbeats
    @fails_fast
    def assess_service(self, inp: AssessInput) -> Assessment:
        cat = service_entry(self.catalog, inp.service)
        engine = store_engine(cat, self.settings)
        smap = self.maps[inp.service]
        keys = TypedKeys(engine).values(cat.subject.collection, cat.subject.key, inp.record_keys)
        with engine.connect() as conn:
            t = smap.t(cat.subject.collection)
            held = (
                bool(keys)
                and conn.execute(
                    select(func.count()).select_from(t).where(t.c[cat.subject.key].in_(keys))
                ).scalar_one()
                > 0
            )
            groups = subject_groups(conn, cat, smap, keys)
            holds = active_holds(conn, cat, smap, keys, groups) if held else []
            consents = withdrawn = 0
            role = cat.roles.consents
            if role and role.person_column and keys:
                ct = smap.t(role.collection)
                consents, withdrawn = conn.execute(
                    select(func.count(), func.count(ct.c[role.withdrawn_field])).where(
                        ct.c[role.person_column].in_(keys)
                    )
                ).one()
            sl = cat.roles.sharing_log
            st = smap.t(sl.collection)
            recipients = 0
            if sl.person_column and keys:
                recipients = conn.execute(
                    select(func.count(func.distinct(st.c[sl.recipient_field]))).where(
                        st.c[sl.person_column].in_(keys)
                    )
                ).scalar_one()
        facts = ServiceFacts(
            service=inp.service,
            held=held,
            consent_based=cat.lawful_basis.consent_based,
            holds=holds,
            consents=int(consents),
            consents_withdrawn=int(withdrawn),
        )
        proposal = propose(facts, inp.ground)
        self.register.audit(
            f"{inp.request_id}:assessed:{inp.service}",
            actor="rightsflow",
            action="erasure.proposed",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis=EXEMPTIONS[proposal.exemption][:200] if proposal.exemption else None,
            detail={
                "proposal": proposal.decision,
                "exemption": proposal.exemption,
                "holds": holds,
                "consent_based": facts.consent_based,
                "consents": facts.consents,
                "consents_withdrawn": facts.consents_withdrawn,
            },
        )
        return Assessment(service=inp.service, facts=facts, proposal=proposal, recipients=int(recipients))

    @activity.defn
    @heartbeats
    @fails_fast
    def erase_service(self, inp: EraseInput) -> EraseResult:
        cat = service_entry(self.catalog, inp.service)
        engine = store_engine(cat, self.settings)
        smap = self.maps[inp.service]
        keys = TypedKeys(engine).values(cat.subject.collection, cat.subject.key, inp.record_keys)
        plan = self.plan(inp.service)
        with engine.begin() as conn:
            names = _subject_names(conn, cat, smap, keys)  # before the rows go
            groups = subject_groups(conn, cat, smap, keys)
            result = erase_rows(conn, plan, smap, keys, self.hash_key, engine)
            removed, kept = _guarded(remove_mentions, conn, cat, smap, groups, names)
            if removed:
                # Recorded before the store commits: should the commit be lost, the retry finds the
                # names still there, computes the same redaction ids and the register adds nothing.
                self._record_mentions(inp.request_id, inp.service, removed)
        # A retry after the commit finds the names gone and the kept rows already cleared: what the
        # letter says comes from the first attempt's register entries.
        mentioned = self._recorded(inp.request_id, inp.service, "erasure.mentions_removed")
        result.mentions_removed = len(removed) or int(mentioned.get("mentions", 0))
        result.kept_for_others = kept
        masked = self._recorded(inp.request_id, inp.service, "erasure.erased").get("by_collection") or {}
        result.kept_masked = [
            cat.collection_label(c)
            for c in plan.order
            if c in plan.kept and (result.by_collection.get(c) or masked.get(c))
        ]
        # The store has committed; the register records it once (a retry finds the entry).
        self.register.audit(
            f"{inp.request_id}:erased:{inp.service}",
            actor="rightsflow",
            action="erasure.erased",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis="UK GDPR Art 17(1)",
            detail={
                "rows_deleted": result.rows_deleted,
                "rows_masked": result.rows_masked,
                "by_collection": result.by_collection,
                "people": len(keys),
            },
        )
        activity.logger.info(
            "erased %s for %s: %d deleted, %d masked, %d mentions removed from records kept",
            inp.service,
            inp.request_id,
            result.rows_deleted,
            result.rows_masked,
            result.mentions_removed,
        )
        return result

    def _record_mentions(self, request_id: str, service: str, removed: dict[str, Redaction]) -> None:
        """Each removal recorded once: where and why, by id; never the name."""
        self.register.audit(
            f"{request_id}:mentions-removed:{service}",
            actor="rightsflow",
            action="erasure.mentions_removed",
            request_id=request_id,
            service=service,
            legal_basis=ERASED_BASIS[:200],
            detail={
                "mentions": len(removed),
                "redactions": [
                    {
                        "id": r.redaction_id,
                        "collection": r.collection,
                        "record": r.record_key,
                        "field": r.field,
                    }
                    for r in removed.values()
                ],
            },
        )

    def _recorded(self, request_id: str, service: str, action: str) -> dict[str, Any]:
        """The detail of this request's register entry ``action`` for ``service`` ({} if none)."""
        for e in self.register.audit_trail(request_id):
            if e.action == action and e.service == service:
                return dict(e.detail or {})
        return {}
