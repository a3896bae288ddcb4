"""The sweep's batch protocol: one service's households, a batch at a time, each batch safe to lose.

A batch is one store transaction. Before the store commits, one register transaction records what
the batch is about to do (its pending disposals and, under ``progress_key``, where to resume should
the store commit and the process die); after it commits, the register marks the batch done. So a
process killed at any point either finds the batch committed (the households are gone: it counts
them and goes on) or not (it runs the batch again), and nothing is disposed of twice.

``run_batches`` does the work; ``resume_progress`` is what a retried attempt reads first. Both
take the sweep's parts (``SweepParts``: settings, catalogue, register, plans, the hash key and the
two things that touch S3 or cache plans), which the retention activity supplies; nothing here
knows of Temporal: the activity passes its heartbeat in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select

from ..catalog import Catalog
from ..config import Settings
from ..contracts.retention import SweepBatchesInput, SweepBatchesResult, SweepCounts
from ..db import store_engine
from ..register import Register
from .decisions import Decision, evaluate, resolve_refs
from .disposal import AnonymisePlan, anonymise_rows, destroy_rows
from .holds import lock_and_recheck
from .households import coerce_keys, next_households
from .plan import StorePlan
from .records import (
    already_anonymised,
    has_review_items,
    load_progress,
    load_reviews,
    pending_keys,
    record_done,
    record_pending,
    record_review_items,
    save_progress,
)


class SweepParts(Protocol):
    """What a sweep of the catalogued stores works with (``RetentionActivities`` is one)."""

    settings: Settings
    catalog: Catalog
    register: Register
    plans: dict[str, StorePlan]
    hash_key: bytes

    def anonymise_plan_for(self, service: str, rule_id: str) -> AnonymisePlan:
        """The (cached) anonymisation plan of one of the service's rules."""
        ...

    def archive_households(
        self, conn: Any, plan: StorePlan, decisions: list[Decision], sweep_id: str, as_of: date
    ) -> dict[str, str]:
        """Each household's archive package under Object Lock: ref -> key. Each written once."""
        ...


def resume_progress(
    acts: SweepParts, inp: SweepBatchesInput, progress_key: str
) -> tuple[str | int | None, SweepCounts, bool] | None:
    """(cursor, counts, finished) recorded by an earlier attempt of this activity, or None.

    If that attempt stopped while a disposing batch's store transaction was committing, the store
    says whether it committed: a destroyed household of the batch is gone or it is not. Committed:
    the batch counts and its register rows are marked done. Not committed (or an anonymise-only
    batch, which the register's pending rows make safe to repeat): the batch runs again.
    """
    reg = acts.register.engine
    with reg.connect() as rconn:
        state = load_progress(rconn, progress_key)
    if state is None:
        return None
    batch = state.get("next")
    if batch is not None:
        with reg.connect() as rconn:
            keys = pending_keys(rconn, inp.service, batch["refs"])
        committed = False
        if keys:
            plan = acts.plans[inp.service]
            engine = store_engine(acts.catalog[inp.service], acts.settings)
            column = plan.map.c(plan.person_table, plan.person_key)
            with engine.connect() as sconn:
                committed = (
                    sconn.execute(
                        select(column).where(column.in_(coerce_keys(engine, plan, keys[:1])))
                    ).first()
                    is None
                )
        if committed:
            state = {k: batch[k] for k in ("cursor", "counts", "done")}
            with reg.begin() as rconn:
                record_done(rconn, inp.service, batch["refs"], batch["rows"], batch["archive_keys"])
                save_progress(rconn, progress_key, inp.sweep_id, inp.service, state)
    return state["cursor"], SweepCounts.from_dict(state["counts"]), bool(state["done"])


def run_batches(
    acts: SweepParts,
    inp: SweepBatchesInput,
    cursor: str | int | None,
    counts: SweepCounts,
    heartbeat: Callable[[dict[str, Any]], None] | None = None,
    progress_key: str | None = None,
) -> SweepBatchesResult:
    """Sweep ``inp.service`` from ``cursor`` in batches until done or ``inp.max_seconds`` are up.

    ``counts`` carries the tallies so far (a resumed attempt's); ``heartbeat`` is called with the
    cursor and tallies after every committed batch; with ``progress_key`` every batch's outcome is
    recorded in the register, so ``resume_progress`` can tell a retry where to start.

    Each batch is read and decided in a read-only snapshot of the store, then locked, checked
    again and changed in its own write transaction. The next batch is read while this one is
    written, so the store's deletes and the worker's evaluation overlap instead of taking turns.
    A batch read before the previous one committed still sees that one's households whole, and
    leaves them out by their first member (at or before the cursor), as it would after.
    """
    reader = _BatchReader(acts, inp)
    plan, engine, as_of = reader.plan, reader.engine, reader.as_of
    has_review = reader.has_review
    review_stages = {r.rule_id: r.review_stages for r in reader.rules if r.action == "review"}
    with acts.register.engine.connect() as rconn:
        reviewed = has_review or has_review_items(rconn, inp.service)
    started = time.monotonic()
    batches = 0
    finished = False
    # The last disposing batch whose store transaction has committed but which the register does
    # not yet call done: marked done in the next batch's register transaction (or at the end), so
    # each batch costs one register commit, not two. Until then the register's progress row holds
    # it as the batch about to commit, which ``resume_progress`` settles from the store.
    committed: _Committed | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="sweep-read-ahead") as ahead:
        upcoming: Future[_ReadBatch] | None = ahead.submit(reader.read, cursor)
        while upcoming is not None:
            read = upcoming.result()
            finished, next_cursor, decisions = read.finished, read.next_cursor, read.decisions
            upcoming = None if finished else ahead.submit(reader.read, next_cursor)
            batch = SweepCounts(already_anonymised=read.already_anonymised)
            archive_keys: dict[str, str] = {}
            # A batch that disposes of nothing (every batch of a dry run) needs no store write
            # transaction: the recheck under lock can only keep a household, never add one.
            writes = not inp.dry_run and any(d.dispose for d in decisions)
            with engine.begin() if writes else nullcontext() as conn:
                if writes:
                    lock_and_recheck(conn, plan, decisions, as_of)
                for d in decisions:
                    batch.tally(d)
                chosen = [d for d in decisions if d.dispose]
                if chosen and not inp.dry_run:
                    archive_keys, batch.rows_changed = _dispose(acts, inp, conn, plan, chosen, as_of)
                    total = SweepCounts.from_dict(asdict(counts))
                    total.add(batch)
                    # Before the store commits, one register transaction says what this batch did
                    # (pending disposals and, should the store commit and we die, where to resume),
                    # with the previous batch's disposals done and this batch's review items.
                    # Archives already in S3 are harmless if we die first: they are found by key.
                    with acts.register.engine.begin() as rconn:
                        if committed is not None:
                            committed.record(rconn, inp, reviewed)
                        if has_review:
                            record_review_items(
                                rconn, inp.sweep_id, inp.service, as_of, decisions, review_stages
                            )
                        record_pending(rconn, inp.sweep_id, inp.service, as_of, chosen)
                        if progress_key:
                            state = {"cursor": cursor, "counts": asdict(counts), "done": False}
                            state["next"] = {
                                "cursor": next_cursor,
                                "counts": asdict(total),
                                "done": finished,
                                "refs": [d.ref for d in chosen],
                                "rows": batch.rows_changed,
                                "archive_keys": archive_keys,
                            }
                            save_progress(rconn, progress_key, inp.sweep_id, inp.service, state)
                    committed = None
            # The store transaction has committed.
            counts.add(batch)
            cursor = next_cursor
            progress = {"cursor": cursor, "counts": asdict(counts), "done": finished}
            if chosen and not inp.dry_run:
                committed = _Committed([d.ref for d in chosen], batch.rows_changed, archive_keys)
            else:
                # Nothing disposed: the store was only read, so review items (and the previous
                # batch's disposals) are written now, with where the sweep has got to.
                with acts.register.engine.begin() as rconn:
                    if committed is not None:
                        committed.record(rconn, inp, reviewed)
                    if has_review and not inp.dry_run:
                        record_review_items(rconn, inp.sweep_id, inp.service, as_of, decisions, review_stages)
                    if progress_key:
                        save_progress(rconn, progress_key, inp.sweep_id, inp.service, progress)
                committed = None
            batches += 1
            if heartbeat is not None:
                heartbeat({"cursor": cursor, "counts": asdict(counts)})
            if time.monotonic() - started >= inp.max_seconds:
                upcoming = None  # its reads are dropped; the next call reads that batch again
            if inp.batch_pause_seconds and upcoming is not None:
                time.sleep(inp.batch_pause_seconds)
        if committed is not None:  # the last disposing batch of this call
            with acts.register.engine.begin() as rconn:
                committed.record(rconn, inp, reviewed)
                if progress_key:
                    save_progress(rconn, progress_key, inp.sweep_id, inp.service, progress)
    return SweepBatchesResult(cursor=cursor, done=finished, counts=counts, batches=batches)


def _dispose(
    acts: SweepParts, inp: SweepBatchesInput, conn: Any, plan: StorePlan, chosen: list[Decision], as_of: date
) -> tuple[dict[str, str], int]:
    """Archive, destroy and anonymise the chosen households in the batch's store transaction:
    (archive keys by reference, store rows changed)."""
    archive_keys = acts.archive_households(
        conn,
        plan,
        [
            d
            for d in chosen
            if d.action == "archive_then_destroy" and d.archive_until and d.archive_until >= as_of
        ],
        inp.sweep_id,
        as_of,
    )
    gone = [d for d in chosen if d.action in ("destroy", "archive_then_destroy")]
    rows = (
        destroy_rows(
            conn,
            plan,
            [p for d in gone for p in d.household.people],
            [g for d in gone for g in d.household.groups],
        )
        if gone
        else 0
    )
    by_rule: dict[str, list[Decision]] = {}
    for d in chosen:
        if d.action == "anonymise":
            by_rule.setdefault(d.rule_id or "", []).append(d)
    for rule_id, ds in by_rule.items():
        anon = acts.anonymise_plan_for(inp.service, _anonymise_rule(acts, inp.service, rule_id))
        rows += anonymise_rows(
            conn,
            plan,
            anon,
            [p for d in ds for p in d.household.people],
            [g for d in ds for g in d.household.groups],
        )
    return archive_keys, rows


@dataclass(frozen=True)
class _ReadBatch:
    """A batch as read and decided, before anything is locked or changed."""

    decisions: list[Decision]
    next_cursor: Any
    finished: bool
    already_anonymised: int


class _BatchReader:
    """Reads and decides one batch at a time, each in its own snapshot of the store."""

    def __init__(self, acts: SweepParts, inp: SweepBatchesInput) -> None:
        self.acts, self.inp = acts, inp
        self.plan = acts.plans[inp.service]
        self.engine = store_engine(acts.catalog[inp.service], acts.settings)
        self.as_of = date.fromisoformat(inp.as_of)
        self.open_keys = acts.register.open_request_keys(inp.service)
        self.rules = rules = acts.catalog[inp.service].retention
        self.has_anonymise = any(r.disposal_action == "anonymise" for r in rules)
        self.has_review = any(r.action == "review" for r in rules)

    def read(self, cursor: Any) -> _ReadBatch:
        acts, inp, plan = self.acts, self.inp, self.plan
        skipped = 0
        with store_snapshot(self.engine) as conn:
            households, next_cursor, finished = next_households(conn, plan, cursor, inp.batch_size)
            reviews = None
            with acts.register.engine.connect() as rconn:
                # A household under a store key an earlier disposal used gets a reference of its own.
                refs = resolve_refs(
                    rconn,
                    conn,
                    plan,
                    acts.hash_key,
                    households,
                    lambda rid: _anonymised_by(acts, inp.service, rid),
                )
                if self.has_review:
                    reviews = load_reviews(rconn, inp.service, refs)
            decisions = evaluate(
                conn, plan, households, self.as_of, self.open_keys, acts.hash_key, reviews, refs=refs
            )
        if self.has_anonymise:
            with acts.register.engine.connect() as rconn:
                marked = already_anonymised(rconn, inp.service, [d.ref for d in decisions])
            kept = []
            for d in decisions:
                row = marked.get(d.ref)
                if row is None:
                    kept.append(d)
                elif row.status == "done":
                    skipped += 1
                elif d.dispose or d.reason in ("not_due", "no_rule", "linked"):
                    # An interrupted anonymisation: finish it (clearing twice changes nothing)
                    # under the rule and date it was recorded with; the cleared store may
                    # show no rule or date at all now.
                    d.dispose, d.reason, d.action = True, None, "anonymise"
                    d.rule_id, d.due = row.rule_id, row.due_on or d.due
                    kept.append(d)
                else:
                    kept.append(d)
            decisions = kept
        return _ReadBatch(decisions, next_cursor, finished, skipped)


@contextmanager
def store_snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction whose reads all see the store as it was at the first of them.

    PostgreSQL and MariaDB: REPEATABLE READ. SQLite: an explicit deferred BEGIN (the driver
    opens transactions only for writes; WAL keeps the snapshot while another connection
    writes). Always rolled back: nothing is written here."""
    name = engine.dialect.name
    options = {"isolation_level": "REPEATABLE READ"} if name in ("postgresql", "mysql", "mariadb") else {}
    with engine.connect().execution_options(**options) as conn:
        if name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


@dataclass(frozen=True)
class _Committed:
    """A disposing batch whose store transaction has committed: what the register marks done."""

    refs: list[str]
    rows: int
    archive_keys: dict[str, str]

    def record(self, rconn: Any, inp: SweepBatchesInput, reviewed: bool) -> None:
        record_done(rconn, inp.service, self.refs, self.rows, self.archive_keys, reviewed=reviewed)


def _anonymised_by(acts: SweepParts, service: str, rule_id: str) -> AnonymisePlan:
    """The plan an earlier anonymisation under ``rule_id`` followed. Where the catalogue no longer
    anonymises at all, an empty plan: the register's word is taken that the household is done."""
    rules = acts.catalog[service].retention
    if not any(r.disposal_action == "anonymise" for r in rules):
        return AnonymisePlan(frozenset([acts.plans[service].person_table]), {})
    return acts.anonymise_plan_for(service, _anonymise_rule(acts, service, rule_id))


def _anonymise_rule(acts: SweepParts, service: str, rule_id: str) -> str:
    rules = acts.catalog[service].retention
    if any(r.rule_id == rule_id and r.disposal_action == "anonymise" for r in rules):
        return rule_id
    return next(r.rule_id for r in rules if r.disposal_action == "anonymise")
