"""The register's retention tables (disposals, progress, review items) and how a sweep reads and
writes them. Keyed-hash references and opaque store keys only: no personal data."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    String,
    Text,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..register import RegisterBase, Timestamp, _now
from .households import _key_chunks
from .schedule import as_date

if TYPE_CHECKING:
    from .decisions import Decision


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
    for ch in _key_chunks(conn, refs):
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
# register helpers


@dataclass(frozen=True)
class AnonymisedRow:
    """The register's row of an anonymised household: an interrupted one is finished under the
    rule and due date it was recorded with (the store, cleared, no longer shows them)."""

    status: str
    rule_id: str
    due_on: date | None


def already_anonymised(conn: Connection, service: str, refs: list[str]) -> dict[str, AnonymisedRow]:
    """ref -> the register's row for anonymised households among ``refs``."""
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    out: dict[str, AnonymisedRow] = {}
    for ch in _key_chunks(conn, refs):
        q = select(t.c.household_ref, t.c.status, t.c.rule_id, t.c.due_on).where(
            and_(t.c.service == service, t.c.household_ref.in_(ch), t.c.action == "anonymise")
        )
        out.update({r[0]: AnonymisedRow(r[1], r[2], as_date(r[3])) for r in conn.execute(q)})
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
    for ch in _key_chunks(conn, refs):
        q = select(t.c.household_ref, t.c.status).where(t.c.service == service, t.c.household_ref.in_(ch))
        existing.update({r[0]: r[1] for r in conn.execute(q)})
    rows = []
    now = _now()  # one batch, one moment
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
            "recorded_at": now,
        }
        status = existing.get(d.ref)
        if status is None:
            rows.append({"service": service, "household_ref": d.ref, **values})
        elif status == "pending":
            conn.execute(update(t).where(t.c.service == service, t.c.household_ref == d.ref).values(**values))
    if rows:
        conn.execute(insert(t), rows)


def record_done(
    conn: Connection,
    service: str,
    refs: list[str],
    rows: int,
    archive_keys: dict[str, str] | None = None,
    reviewed: bool = True,
) -> None:
    """Mark households done (``rows``: store rows changed by the batch, kept on the first); forget
    the store key. ``reviewed``: the service has review rules, so approved review items of these
    households are now disposed of (a service without them has no items to look for)."""
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    for ch in _key_chunks(conn, refs):
        # By reference only: a reference is one household's, and its pending row is this sweep's
        # (record_pending made it so). Naming the sweep too led SQLite to the sweep's index,
        # read through every row the sweep had written so far, once per batch.
        conn.execute(
            update(t)
            .where(t.c.service == service, t.c.household_ref.in_(ch), t.c.status == "pending")
            .values(status="done", household_key=None)
        )
    if refs:
        conn.execute(update(t).where(t.c.service == service, t.c.household_ref == refs[0]).values(rows=rows))
    for ref, key in (archive_keys or {}).items():
        conn.execute(
            update(t).where(t.c.service == service, t.c.household_ref == ref).values(archive_key=key)
        )
    if not reviewed:
        return
    r = RetentionReview.__table__  # type: ignore[attr-defined]
    for ch in _key_chunks(conn, refs):
        conn.execute(
            update(r)
            .where(r.c.service == service, r.c.household_ref.in_(ch), r.c.status == "approved")
            .values(status="disposed", updated_at=_now())
        )


def has_review_items(conn: Connection, service: str) -> bool:
    """Whether the service has any disposition review item (under a rule it has now, or had)."""
    r = RetentionReview.__table__  # type: ignore[attr-defined]
    return conn.execute(select(r.c.household_ref).where(r.c.service == service).limit(1)).first() is not None


# --------------------------------------------------------------------------------------------------
# the disposition review register, as the sweep reads and writes it


def load_reviews(conn: Connection, service: str, refs: list[str]) -> dict[str, list[ReviewState]]:
    """ref -> review states among ``refs`` (what ``evaluate`` needs)."""
    t = RetentionReview.__table__  # type: ignore[attr-defined]
    out: dict[str, list[ReviewState]] = defaultdict(list)
    for ch in _key_chunks(conn, refs):
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
    for ch in _key_chunks(conn, [d.ref for d in waiting]):
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
