"""The requests queue as a caseworker reads it: plain-English type and stage, the statutory clock,
working days left and a badge. Read from the register only (no Temporal call per row)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from rightsflow.clock import is_working_day
from rightsflow.register import AuditEntry, Register, RequestMatch, RightsRequest

TYPE_LABELS = {
    "subject_access": "Subject access",
    "erasure": "Erasure",
    "rectification": "Rectification",
    "restriction": "Restriction",
    "objection": "Objection",
    "consent_withdrawal": "Consent withdrawal",
    "portability": "Portability",
    "transfer": "Transfer to another authority",
}

STAGE_LABELS = {
    "filed": "Filed",
    "gathering": "Gathering records",
    "redacting": "Redacting",
    "awaiting_review": "Redaction review",
    "awaiting_approval": "Awaiting approval",
    "packing": "Preparing the pack",
    "packaging": "Preparing the package",
    "sent": "Sent",
    "completed": "Completed",
    "closed": "Closed",
    "refused": "Refused",
    "rejected": "Refused",
    "resolving": "Resolving",
    "checking": "Checking",
    "lifted": "Lifted",
    "handed_off": "Handed off",
    "awaiting_acknowledgement": "Awaiting acknowledgement",
    "awaiting_removal": "Awaiting removal",
    "waiting_for_delivery": "Waiting for delivery",
    "not_applicable": "Not applicable",
    "discovering": "Finding the person's records",
    "assessing": "Assessing each service",
    "awaiting_decision": "Awaiting a decision",
    "erasing": "Erasing",
    "writing": "Writing the letters",
    "restricted": "Restricted",
    "restricting": "Restricting",
    "lift_notified": "Person told: lifting after the wait",
    "withdrawing": "Withdrawing consent",
    "closed_unresolved": "Closed without an outcome",
}

SOON_WORKING_DAYS = 5
SORTS = {
    "deadline": "Deadline",
    "received": "Received",
    "type": "Type",
    "stage": "Stage",
    "days_left": "Working days left",
}


def stage_label(stage: str | None) -> str:
    if not stage:
        return "-"
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def working_days_between(today: date, deadline: date) -> int:
    """Working days left until the deadline (the deadline day counts); negative once it has passed."""
    if deadline >= today:
        d, n = today + timedelta(days=1), 0
        while d <= deadline:
            n += is_working_day(d)
            d += timedelta(days=1)
        return n
    d, n = deadline + timedelta(days=1), 0
    while d <= today:
        n += is_working_day(d)
        d += timedelta(days=1)
    return -n


@dataclass(frozen=True)
class Badge:
    text: str
    css: str  # a govuk-tag colour modifier


OVERDUE = Badge("Overdue", "govuk-tag--red")
DUE_SOON = Badge("Due within 5 working days", "govuk-tag--orange")
PAUSED = Badge("Paused", "govuk-tag--grey")
ON_TRACK = Badge("On track", "govuk-tag--green")
WAITING = Badge("Clock not started", "govuk-tag--blue")
CLOSED = Badge("Closed", "govuk-tag--grey")


@dataclass(frozen=True)
class QueueRow:
    request_id: str
    request_type: str
    type_label: str
    stage: str | None
    stage_label: str
    status: str
    received_on: date | None
    clock_start: date | None
    deadline: date | None
    days_left: int | None
    badge: Badge
    services: tuple[str, ...]
    assignee: str | None = None


def badge_for(status: str, deadline: date | None, days_left: int | None, paused: bool) -> Badge:
    if status == "closed":
        return CLOSED
    if paused:
        return PAUSED
    if deadline is None or days_left is None:
        return WAITING
    if days_left < 0:
        return OVERDUE
    if days_left <= SOON_WORKING_DAYS:
        return DUE_SOON
    return ON_TRACK


def _paused_requests(register: Register, ids: list[str]) -> set[str]:
    """Requests whose latest clarification entry asks (the clock is stopped until the answer)."""
    if not ids:
        return set()
    with register.session() as s:
        latest = (
            select(AuditEntry.request_id, func.max(AuditEntry.entry_id).label("last"))
            .where(AuditEntry.request_id.in_(ids), AuditEntry.action.like("%clarification_%"))
            .group_by(AuditEntry.request_id)
            .subquery()
        )
        rows = s.execute(
            select(AuditEntry.request_id, AuditEntry.action).join(
                latest, AuditEntry.entry_id == latest.c.last
            )
        )
        return {rid for rid, action in rows if action.endswith("clarification_asked")}


def queue_rows(
    register: Register,
    *,
    show: str = "open",
    request_type: str | None = None,
    service: str | None = None,
    assignee: str | None = None,
    today: date | None = None,
) -> list[QueueRow]:
    """Every request (not subject searches) by ``show`` (open, closed, all), type, service and
    the caseworker it is assigned to."""
    today = today or date.today()
    with register.session() as s:
        q = select(RightsRequest).where(RightsRequest.request_type != "subject_search")
        if show == "open":
            q = q.where(RightsRequest.status != "closed")
        elif show == "closed":
            q = q.where(RightsRequest.status == "closed")
        if request_type:
            q = q.where(RightsRequest.request_type == request_type)
        if assignee:
            q = q.where(RightsRequest.assignee == assignee)
        requests = list(s.scalars(q))
        services: dict[str, set[str]] = {}
        ids = [r.request_id for r in requests]
        if ids:
            for rid, svc in s.execute(
                select(RequestMatch.request_id, RequestMatch.service).where(RequestMatch.request_id.in_(ids))
            ):
                services.setdefault(rid, set()).add(svc)
    if service is not None:  # a service lead sees only requests that touch their service
        requests = [r for r in requests if service in services.get(r.request_id, set())]
    paused = _paused_requests(register, [r.request_id for r in requests if r.status != "closed"])
    rows = []
    for r in requests:
        left = working_days_between(today, r.deadline) if r.deadline and r.status != "closed" else None
        rows.append(
            QueueRow(
                request_id=r.request_id,
                request_type=r.request_type,
                type_label=TYPE_LABELS.get(r.request_type, r.request_type),
                stage=r.stage,
                stage_label=stage_label(r.stage),
                status=r.status,
                received_on=r.received_on,
                clock_start=r.clock_start,
                deadline=r.deadline,
                days_left=left,
                badge=badge_for(r.status, r.deadline, left, r.request_id in paused),
                services=tuple(sorted(services.get(r.request_id, ()))),
                assignee=r.assignee,
            )
        )
    return rows


def sort_rows(rows: list[QueueRow], key: str, descending: bool = False) -> list[QueueRow]:
    far = date.max if not descending else date.min

    def k(r: QueueRow) -> tuple:  # requests without the value go last either way
        value = {
            "deadline": r.deadline,
            "received": r.received_on,
            "type": r.type_label,
            "stage": r.stage_label,
            "days_left": r.days_left,
        }.get(key, r.deadline)
        return (value is None, value if value is not None else far, r.request_id)

    rows = sorted(rows, key=k, reverse=descending)
    if descending:  # keep the rows without a value at the end
        rows = [r for r in rows if k(r)[0] is False] + [r for r in rows if k(r)[0] is True]
    return rows


def rows_csv(rows: list[QueueRow]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "Request",
            "Type",
            "Stage",
            "Received",
            "Clock start",
            "Deadline",
            "Working days left",
            "Status",
            "Assignee",
        ]
    )
    for r in rows:
        w.writerow(
            [
                r.request_id,
                r.type_label,
                r.stage_label,
                r.received_on or "",
                r.clock_start or "",
                r.deadline or "",
                "" if r.days_left is None else r.days_left,
                r.badge.text,
                r.assignee or "",
            ]
        )
    return out.getvalue()
