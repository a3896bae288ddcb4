"""Disposition review: listing the review register and recording a records manager's decisions.

The sweep opens an item (``retention_review``) for each household falling due under a ``review``
rule; here a reviewer decides on it:

* **approve** the current stage; after the last of the rule's ``review_stages`` the item is
  ``approved`` and the next sweep disposes of the household by the rule's ``after_review`` action.
  One reviewer approves a stage once: a repeated approval by the same person changes nothing.
* **extend** to a date: the household is not due before it (the sweep reopens the item then).
* **move** to another rule of the same service: the sweep evaluates the household under it.
* **hold**: a flag row with the store's code for the hold kind is written through the catalogue's
  ``flags`` role, so the sweep retains the household with reason ``hold``.

While an item is open the records manager is reminded (``send_reminders``, run by the daily
sweep): after the rule's ``review_remind_after`` working days from the day the item opened or its
current stage began, then every ``review_remind_every`` working days until it is decided. A
reminder is an audit entry (``retention.review.reminder``, once per item and day) and a log line;
the item's row counts them and keeps the day of the last one.

Every decision is appended once to the register's audit log with the keyed-hash household
reference, rule, stage and decision; the hold reason's text stays in the review row and the audit
entry carries its SHA-256 only. Nothing here writes a name or an identifier of a person.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, inspect, or_, select, update

from .catalog import HOLD_KINDS, REVIEW_REMIND_AFTER, REVIEW_REMIND_EVERY, Catalog, ServiceCatalog
from .clock import add_working_days
from .config import Settings
from .db import store_engine
from .register import Register, _now
from .retention import RetentionReview, as_date, ensure_schema
from .storemap import StoreMap

log = logging.getLogger("rightsflow.review")

DECIDABLE = ("open", "extended")
REMINDER_ACTOR = "retention schedule"
LEGAL_BASIS = "UK GDPR Art 5(1)(e) storage limitation; the service's retention schedule (disposition review)"


class ReviewError(ValueError):
    """A decision that cannot be made as asked (names the reference, never a person)."""


@dataclass(frozen=True)
class ReviewItem:
    service: str
    ref: str
    rule_id: str
    stage: int
    stages: int
    due_on: date
    status: str
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    extended_to: date | None
    moved_to: str | None
    hold_kind: str | None
    waiting_since: date | None = None
    reminders_sent: int = 0
    last_reminded_on: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in self.__dict__.items()}


def _item(row: Any) -> ReviewItem:
    return ReviewItem(
        service=row.service,
        ref=row.household_ref,
        rule_id=row.rule_id,
        stage=row.stage,
        stages=row.stages,
        due_on=as_date(row.due_on),  # type: ignore[arg-type]
        status=row.status,
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        extended_to=as_date(row.extended_to),
        moved_to=row.moved_to,
        hold_kind=row.hold_kind,
        waiting_since=as_date(row.waiting_since)
        or (as_date(row.opened_on) if row.decision is None else None),
        reminders_sent=row.reminders_sent or 0,
        last_reminded_on=as_date(row.last_reminded_on),
    )


def list_reviews(engine: Engine, service: str | None = None, everything: bool = False) -> list[ReviewItem]:
    """Items awaiting a decision (or, with ``everything``, every item), by service, due date, ref."""
    ensure_schema(engine)
    t = RetentionReview.__table__  # type: ignore[attr-defined]
    q = select(t)
    if service:
        q = q.where(t.c.service == service)
    if not everything:
        q = q.where(t.c.status == "open")
    q = q.order_by(t.c.service, t.c.due_on, t.c.household_ref, t.c.rule_id)
    with engine.connect() as conn:
        return [_item(r) for r in conn.execute(q)]


def _find(conn: Connection, ref: str, service: str | None, rule: str | None) -> Any:
    t = RetentionReview.__table__  # type: ignore[attr-defined]
    if len(ref) < 8:
        raise ReviewError("give at least 8 characters of the household reference")
    q = select(t).where(t.c.household_ref.startswith(ref), t.c.status != "disposed")
    if service:
        q = q.where(t.c.service == service)
    if rule:
        q = q.where(t.c.rule_id == rule)
    rows = conn.execute(q).all()
    if not rows:
        raise ReviewError(f"no review item {ref}")
    if len(rows) > 1:
        raise ReviewError(f"{ref} matches {len(rows)} review items: give --service and --rule")
    return rows[0]


def _flag_code(svc: ServiceCatalog, kind: str) -> str:
    for code, k in svc.roles.flags.codes.items():
        if k == kind:
            return code
    raise ReviewError(f"{svc.service}: the catalogue maps no flag code to hold kind {kind}")


def write_hold_flag(
    engine: Engine, svc: ServiceCatalog, keys: dict[str, list[str]], kind: str, on: date
) -> bool:
    """An active flag row with the store's code for ``kind`` on the household, unless one exists.

    The flag goes on the household's group where the flags role has a group column (and on its
    first person too where it also has a person column), else on its first person.
    """
    fl = svc.roles.flags
    code = _flag_code(svc, kind)
    m = StoreMap(svc)
    t = m.t(fl.collection)
    columns = {c["name"]: c for c in inspect(engine).get_columns(fl.collection)}

    def typed(column: str, value: str) -> Any:
        try:
            return int(value) if columns[column]["type"].python_type is int else value
        except NotImplementedError:
            return value

    row: dict[str, Any] = {}
    if fl.group_column and keys.get("groups"):
        row[fl.group_column] = typed(fl.group_column, keys["groups"][0])
    person_needed = fl.person_column and (not row or not columns[fl.person_column]["nullable"])
    if person_needed and fl.person_column and keys.get("people"):
        row[fl.person_column] = typed(fl.person_column, keys["people"][0])
    if not row:
        raise ReviewError(f"{svc.service}: the household has no key the flags role can hold")
    where = [m.c(fl.collection, k) == v for k, v in row.items()]
    with engine.begin() as conn:
        active = conn.execute(
            select(m.c(fl.collection, fl.code_field)).where(
                and_(*where),
                m.c(fl.collection, fl.code_field) == code,
                m.c(fl.collection, fl.ended_field).is_(None),
            )
        ).first()
        if active is not None:
            return False
        date_type = columns[fl.date_field]["type"]
        try:
            is_datetime = date_type.python_type is datetime
        except NotImplementedError:
            is_datetime = False
        row[fl.code_field] = code
        row[fl.date_field] = datetime.combine(on, datetime.min.time()) if is_datetime else on
        for pk in inspect(engine).get_pk_constraint(fl.collection)["constrained_columns"]:
            if pk in row:
                continue
            try:
                integer = columns[pk]["type"].python_type is int
            except NotImplementedError:
                integer = False
            if not integer:  # a text key: deterministic, opaque, short
                length = getattr(columns[pk]["type"], "length", None) or 24
                seed = json.dumps([code, sorted(row.items(), key=str)], default=str)
                digest = hashlib.sha256(seed.encode())
                row[pk] = ("rh" + digest.hexdigest())[: min(length, 24)]
        conn.execute(t.insert().values(**row))
    return True


def decide(
    settings: Settings,
    catalog: Catalog,
    register: Register,
    ref: str,
    *,
    by: str,
    approve: bool = False,
    extend_to: date | None = None,
    move_to: str | None = None,
    hold: str | None = None,
    reason: str | None = None,
    service: str | None = None,
    rule: str | None = None,
    today: date | None = None,
) -> tuple[ReviewItem, bool]:
    """Record one decision on a review item. Returns (the item after it, whether anything changed)."""
    chosen = [x for x in (approve, extend_to is not None, move_to is not None, hold is not None) if x]
    if len(chosen) != 1:
        raise ReviewError("give exactly one of --approve, --extend-to, --move-to, --hold")
    if not by.strip():
        raise ReviewError("--by is required")
    today = today or date.today()
    engine = register.engine
    ensure_schema(engine)
    t = RetentionReview.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        row = _find(conn, ref, service, rule)
    svc = catalog[row.service]
    rules = {r.rule_id: r for r in svc.retention}
    values: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    approvals: list[dict[str, Any]] = json.loads(row.approvals or "[]")
    if approve:
        kind = "approve"
        if any(a["by"] == by for a in approvals) or row.status in ("approved", "disposed"):
            return _item(row), False  # this reviewer has approved already: once is enough
        if row.status not in DECIDABLE:
            raise ReviewError(f"{row.household_ref[:12]} is {row.status}: nothing to approve")
        approvals.append({"stage": row.stage, "by": by, "at": _now().isoformat()})
        values["approvals"] = json.dumps(approvals)
        final = row.stage >= row.stages
        values.update(status="approved" if final else "open", stage=row.stage if final else row.stage + 1)
        if not final:
            values["waiting_since"] = today  # the next stage's wait (and its reminders) starts now
        detail["final"] = final
    elif extend_to is not None:
        kind = "extend"
        if row.status == "extended" and as_date(row.extended_to) == extend_to:
            return _item(row), False
        if row.status not in DECIDABLE:
            raise ReviewError(f"{row.household_ref[:12]} is {row.status}: it cannot be extended")
        if extend_to <= today:
            raise ReviewError("--extend-to must be a date after today")
        # the wait for a decision starts again when the sweep reopens the item
        values.update(status="extended", extended_to=extend_to, waiting_since=None)
        detail["extended_to"] = extend_to.isoformat()
    elif move_to is not None:
        kind = "move"
        if row.status == "moved" and row.moved_to == move_to:
            return _item(row), False
        if row.status not in DECIDABLE:
            raise ReviewError(f"{row.household_ref[:12]} is {row.status}: it cannot be moved")
        if move_to not in rules or move_to == row.rule_id:
            raise ReviewError(f"{row.service} has no other retention rule {move_to}")
        values.update(status="moved", moved_to=move_to)
        detail["moved_to"] = move_to
    else:
        kind = "hold"
        if hold not in HOLD_KINDS:
            raise ReviewError(f"--hold must be one of {', '.join(HOLD_KINDS)}")
        if not (reason or "").strip():
            raise ReviewError("--reason is required with --hold")
        code_exists = _flag_code(svc, hold or "")
        wrote = write_hold_flag(
            store_engine(svc, settings), svc, json.loads(row.household_keys), hold or "", today
        )
        if row.status == "held" and row.hold_kind == hold and not wrote:
            return _item(row), False
        values.update(status="held", hold_kind=hold, reason=reason, waiting_since=None)
        detail.update(
            hold_kind=hold,
            flag_code=code_exists,
            reason_sha256=hashlib.sha256((reason or "").encode()).hexdigest(),
        )
    values.update(decision=kind, decided_by=by, decided_at=_now(), updated_at=_now())
    key = dict(service=row.service, household_ref=row.household_ref, rule_id=row.rule_id)
    with engine.begin() as conn:
        conn.execute(update(t).where(*(t.c[k] == v for k, v in key.items())).values(**values))
        after = conn.execute(select(t).where(*(t.c[k] == v for k, v in key.items()))).one()
    stage_of_decision = row.stage
    register.audit(
        f"retention-review:{row.service}:{row.household_ref}:{row.rule_id}:{stage_of_decision}:{kind}:"
        f"{detail.get('extended_to') or detail.get('moved_to') or detail.get('hold_kind') or ''}:{by}",
        actor=by,
        action=f"retention.review.{kind}",
        service=row.service,
        legal_basis=LEGAL_BASIS,
        detail={
            "household_ref": row.household_ref,
            "rule_id": row.rule_id,
            "stage": stage_of_decision,
            "stages": row.stages,
            "status": after.status,
            **detail,
        },
    )
    return _item(after), True


@dataclass(frozen=True)
class Reminder:
    """One reminder sent: the item (keyed-hash reference) and how long it has waited."""

    service: str
    ref: str
    rule_id: str
    stage: int
    stages: int
    waiting_since: date
    number: int


def next_reminder_on(waiting_since: date, last_reminded_on: date | None, after: int, every: int) -> date:
    """The first day a reminder is due: ``after`` working days into the wait, then ``every``
    working days after the last reminder (a reminder from before this wait began does not count)."""
    if last_reminded_on is None or last_reminded_on <= waiting_since:
        return add_working_days(waiting_since, after)
    return add_working_days(last_reminded_on, every)


def send_reminders(
    catalog: Catalog, register: Register, today: date, services: list[str] | None = None
) -> list[Reminder]:
    """Remind the records manager of every open item due a reminder on ``today``. Idempotent.

    Running again on the same day sends nothing twice: each reminder is an audit entry keyed by
    the item and the day, and the row's ``last_reminded_on`` is moved only once. Days missed (no
    sweep ran) are caught up by a single reminder, not one per day missed.
    """
    engine = register.engine
    ensure_schema(engine)
    t = RetentionReview.__table__  # type: ignore[attr-defined]
    q = select(t).where(t.c.status == "open")
    if services:
        q = q.where(t.c.service.in_(services))
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(t.c.service, t.c.household_ref, t.c.rule_id)).all()
    sent: list[Reminder] = []
    for row in rows:
        key = (t.c.service == row.service, t.c.household_ref == row.household_ref, t.c.rule_id == row.rule_id)
        since = as_date(row.waiting_since)
        if since is None:
            # Never decided: the wait began when the item opened. Reopened after an extension or a
            # hold (the sweep that reopens it runs just before this): the wait begins today.
            since = as_date(row.opened_on) if row.decision is None else today
            with engine.begin() as conn:
                conn.execute(update(t).where(*key, t.c.waiting_since.is_(None)).values(waiting_since=since))
        # A rule gone from the catalogue since the item opened: the default schedule still applies.
        rules = catalog[row.service].retention if row.service in catalog.ids else []
        rule = next((r for r in rules if r.rule_id == row.rule_id), None)
        after, every = rule.review_reminders if rule else (REVIEW_REMIND_AFTER, REVIEW_REMIND_EVERY)
        last = as_date(row.last_reminded_on)
        if since is None or last == today or today < next_reminder_on(since, last, after, every):
            continue
        number = (row.reminders_sent or 0) + 1
        # The audit entry first (once per item and day): a retry after a crash between the two
        # writes finds it there and only moves the row on.
        register.audit(
            f"retention-review:{row.service}:{row.household_ref}:{row.rule_id}:reminder:{today.isoformat()}",
            actor=REMINDER_ACTOR,
            action="retention.review.reminder",
            service=row.service,
            legal_basis=LEGAL_BASIS,
            detail={
                "household_ref": row.household_ref,
                "rule_id": row.rule_id,
                "stage": row.stage,
                "stages": row.stages,
                "due_on": as_date(row.due_on),
                "waiting_since": since,
                "reminder": number,
            },
        )
        with engine.begin() as conn:
            moved = conn.execute(
                update(t)
                .where(
                    *key,
                    t.c.status == "open",
                    or_(t.c.last_reminded_on.is_(None), t.c.last_reminded_on < today),
                )
                .values(reminders_sent=t.c.reminders_sent + 1, last_reminded_on=today)
            ).rowcount
        if not moved:
            continue  # another run reminded it first
        log.info(
            "retention review reminder: %s %s %s stage %d/%d awaiting a decision since %s (reminder %d)",
            row.service,
            row.rule_id,
            row.household_ref[:16],
            row.stage,
            row.stages,
            since.isoformat(),
            number,
        )
        sent.append(
            Reminder(row.service, row.household_ref, row.rule_id, row.stage, row.stages, since, number)
        )
    return sent
