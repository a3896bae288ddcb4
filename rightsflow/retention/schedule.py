"""The retention schedule read as dates: periods, due dates and why a household stays."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ..catalog import RetentionPeriod

# Why a household stays; the order is the order of precedence when several apply.
REASONS = ("hold", "restricted", "open_request", "awaiting_review", "linked", "not_due", "no_rule")
ACTION_CARE = {"archive_then_destroy": 3, "review": 2, "anonymise": 1, "destroy": 0}


class RetentionPlanError(ValueError):
    """The catalogue entry cannot be swept as written (names the service and the field)."""


# --------------------------------------------------------------------------------------------------
# dates


def add_period(start: date, period: RetentionPeriod) -> date:
    """``start`` plus years and months; a missing day becomes the month's last (29 Feb -> 28 Feb)."""
    months = start.month - 1 + period.years * 12 + period.months
    year, month = start.year + months // 12, months % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(start.day, (following - timedelta(days=1)).day))


def due_on(trigger: date, period: RetentionPeriod) -> date:
    """The first day a record may be disposed of: kept through the whole anniversary day."""
    return add_period(trigger, period) + timedelta(days=1)


def as_date(value: Any) -> date | None:
    """Dates as the drivers return them from untyped columns (SQLite gives text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
