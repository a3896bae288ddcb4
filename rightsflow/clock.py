"""Statutory clock for subject-rights requests (UK GDPR Art 12, as the ICO applies it).

Every function here is pure and deterministic so that Temporal workflows can call it
directly: no I/O, no ``datetime.now()``, no sleeping; the caller passes every date in.

Rules implemented (ICO guidance "Time limits for responding to requests"):

* The clock starts on the day the request is received -- or, if later, the day the
  identity evidence, the authority to act for the data subject or a (rare) permitted
  fee arrives. That day counts whether or not it is a working day.
* The response is due on the corresponding calendar date one month later; where the
  following month has no such date, on that month's last day. If the due date is not a
  working day, the requester has until the next working day.
* A complex request may be extended by a further two months (three months from the
  clock start), provided the requester is told within the first month.
* Art 12A (inserted by s.76 Data (Use and Access) Act 2025, in force 5 Feb 2026 under
  SI 2026/82) puts the ICO's "stop the clock" practice on a statutory footing: the
  period does not run while the controller waits for information it reasonably asked
  for (e.g. to clarify the request or confirm identity).

"Working day" means a working day in England and Wales: not a Saturday or Sunday and not
an England bank holiday, substitute days included. Bank holidays come from the
``holidays`` package, read once at import into an immutable set covering 2000-2100
(dates outside raise ValueError), so results depend only on the arguments and on the
installed ``holidays`` release. A release that adds a new one-off bank holiday can
change a computed date, which would break replay of a workflow that computed it before
the upgrade: pin the package, or keep computed dates in workflow state rather than
recomputing them on replay.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Why the calendar is built here, once, rather than on each call: constructing a
# ``holidays`` calendar reads its translation files (``gettext.translation``, which
# calls ``locale.normalize``), and importing ``holidays`` runs ``time.localtime`` (via
# ``dateutil.parser``). Temporal's workflow sandbox rejects both while a workflow runs,
# so a calendar built per call cannot work inside a workflow. A frozenset built at import
# cannot change between calls and needs no I/O afterwards (lookups take no time).
# Workflow modules must import this module inside
# ``workflow.unsafe.imports_passed_through()`` so that the import happens once, outside
# the sandbox. The class is imported from ``holidays.countries`` because the package-level
# ``holidays.UnitedKingdom`` is a lazy loader. Importing takes about 0.2 s because
# ``holidays.countries`` loads every country module.
from holidays.countries import UnitedKingdom

__all__ = [
    "CALENDAR_YEARS",
    "LONDON",
    "ClockState",
    "Deadline",
    "Pause",
    "add_calendar_months",
    "add_working_days",
    "can_extend",
    "clock_start",
    "compute_deadline",
    "end_of_day",
    "is_working_day",
    "next_working_day_on_or_after",
    "paused_days",
    "reminder_dates",
    "working_days_before",
]

LONDON = ZoneInfo("Europe/London")

#: Years for which the bank holiday calendar is known; other dates raise ValueError.
CALENDAR_YEARS = range(2000, 2101)

# England (and Wales) bank holidays, substitute days included. The holidays library also
# lists the weekend day a substitute replaces (e.g. Sat 25 Dec 2027); that is harmless.
_BANK_HOLIDAYS: frozenset[date] = frozenset(UnitedKingdom(subdiv="ENG", years=CALENDAR_YEARS))

_ONE_DAY = timedelta(days=1)


def _is_working_day(d: date) -> bool:
    if d.year not in CALENDAR_YEARS:
        raise ValueError(
            f"{d} is outside the bank holiday calendar ({CALENDAR_YEARS.start}-{CALENDAR_YEARS.stop - 1})"
        )
    return d.weekday() < 5 and d not in _BANK_HOLIDAYS


def _step_working_days(d: date, n: int, step: timedelta) -> date:
    if n < 0:
        raise ValueError(f"number of working days must not be negative, got {n}")
    while n:
        d += step
        if _is_working_day(d):
            n -= 1
    return d


def clock_start(
    received: date,
    identity_received: date | None = None,
    authority_received: date | None = None,
    fee_received: date | None = None,
) -> date:
    """The day the clock starts: the latest of receipt and any awaited evidence or fee.

    The ICO counts time from receipt of the request or, if later, of the identity
    evidence, authority or fee the controller needed. The day itself counts even if it
    is a weekend or bank holiday, so it is never moved to a working day.
    """
    dates = [d for d in (identity_received, authority_received, fee_received) if d is not None]
    return max([received, *dates])


def add_calendar_months(start: date, months: int) -> date:
    """The same day of the month ``months`` later, or that month's last day if it is shorter.

    The ICO's "corresponding calendar date": 31 Jan + 1 month is 28 Feb (29 in a leap
    year), never 2 or 3 March.
    """
    if months < 0:
        raise ValueError(f"months must not be negative, got {months}")
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    # The day before the 1st of the following month is the last day of this one.
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(start.day, (following - _ONE_DAY).day))


def is_working_day(d: date) -> bool:
    """True unless ``d`` is a Saturday, Sunday or England and Wales bank holiday."""
    return _is_working_day(d)


def next_working_day_on_or_after(d: date) -> date:
    """``d`` if it is a working day, else the first working day after it.

    A deadline falling on a weekend or bank holiday moves to the next working day.
    """
    while not _is_working_day(d):
        d += _ONE_DAY
    return d


def add_working_days(d: date, n: int) -> date:
    """The date ``n`` working days after ``d``; ``d`` itself is not counted, n=0 returns ``d``."""
    return _step_working_days(d, n, _ONE_DAY)


def working_days_before(deadline: date, n: int) -> date:
    """The date ``n`` working days before ``deadline``; n=0 returns ``deadline``."""
    return _step_working_days(deadline, n, -_ONE_DAY)


def reminder_dates(deadline_date: date, days: Iterable[int] = (10, 3)) -> list[date]:
    """Reminder dates ``n`` working days before the deadline, one per entry of ``days``, in order.

    Working days, not calendar days, so a reminder never lands on a day nobody is in
    the office and the lead time is not eaten by a bank holiday weekend.
    """
    return [_step_working_days(deadline_date, n, -_ONE_DAY) for n in days]


def end_of_day(d: date) -> datetime:
    """The last instant of ``d`` in London (23:59:59.999999, GMT or BST as applies).

    A response sent at any time on the deadline day is in time, so timers should fire
    after this instant, not at midnight UTC.
    """
    return datetime.combine(d, time.max, tzinfo=LONDON)


@dataclass(frozen=True)
class Pause:
    """A "stop the clock" period: the controller asked the requester for information.

    Both the day of asking and the day of the answer count as paused days. ``answered``
    is None while the controller is still waiting, which stops the clock. Not validated
    on construction (it may be rebuilt from workflow history); see ``compute_deadline``.
    """

    asked: date
    answered: date | None = None


class ClockState(enum.Enum):
    """Whether the statutory period is running or stopped by an unanswered pause."""

    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Deadline:
    """The computed time limits for one request.

    When ``state`` is STOPPED (a pause has no answer yet) the deadline is unknowable,
    so ``deadline``, ``extension_notice_by``, ``extended_deadline`` and ``ends_at`` are
    all None and ``stopped_since`` says when the clock stopped; recompute once the
    answer arrives.
    """

    clock_start: date
    deadline: date | None
    extension_notice_by: date | None
    extended_deadline: date | None
    ends_at: datetime | None
    state: ClockState = ClockState.RUNNING
    paused_days: int = 0
    stopped_since: date | None = None

    @property
    def extended_ends_at(self) -> datetime | None:
        """End of the extended deadline day in London, if an extension applies."""
        return end_of_day(self.extended_deadline) if self.extended_deadline else None


def _validate_pauses(pauses: Iterable[Pause], start: date | None = None) -> list[Pause]:
    """Pauses sorted by date; raises ValueError for a reversed, early or overlapping pause."""
    ordered = sorted(pauses, key=lambda p: p.asked)
    for p in ordered:
        if p.answered is not None and p.answered < p.asked:
            raise ValueError(f"pause answered on {p.answered} before it was asked on {p.asked}")
        if start is not None and p.asked < start:
            raise ValueError(f"pause asked on {p.asked} is before the clock start {start}")
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        # Both ends of a pause are paused days, so sharing a single day is an overlap.
        if earlier.answered is None or later.asked <= earlier.answered:
            ends = "unanswered" if earlier.answered is None else f"answered {earlier.answered}"
            raise ValueError(
                f"pause asked on {later.asked} overlaps the pause asked on {earlier.asked} ({ends})"
            )
    return ordered


def paused_days(pauses: Iterable[Pause]) -> int:
    """Total days the clock was stopped, counting both the asking and the answer day.

    Asked 3 Mar, answered 5 Mar is 3 days. Raises ValueError for invalid or overlapping
    pauses, and for an unanswered pause, whose length is not yet known.
    """
    total = 0
    for p in _validate_pauses(pauses):
        if p.answered is None:
            raise ValueError(f"pause asked on {p.asked} has no answer yet; the clock is stopped")
        total += (p.answered - p.asked).days + 1
    return total


def compute_deadline(start: date, pauses: Sequence[Pause] = (), extended: bool = False) -> Deadline:
    """The one-month deadline (and three-month extended one) for a clock started on ``start``.

    Raises ValueError for a pause answered before it was asked, asked before ``start``,
    or overlapping another. With an unanswered pause the result is STOPPED, with no dates.
    """
    ordered = _validate_pauses(pauses, start)
    if ordered and ordered[-1].answered is None:
        return Deadline(
            clock_start=start,
            deadline=None,
            extension_notice_by=None,
            extended_deadline=None,
            ends_at=None,
            state=ClockState.STOPPED,
            paused_days=paused_days(ordered[:-1]),
            stopped_since=ordered[-1].asked,
        )
    stopped = paused_days(ordered)
    # Order matters: add the paused days to the raw calendar-month date FIRST, THEN roll
    # forward to a working day. Rolling first and adding afterwards could land on a
    # weekend or bank holiday, and would give the controller more time than it has.
    shift = timedelta(days=stopped)
    due = next_working_day_on_or_after(add_calendar_months(start, 1) + shift)
    extended_due = next_working_day_on_or_after(add_calendar_months(start, 3) + shift) if extended else None
    return Deadline(
        clock_start=start,
        deadline=due,
        # The requester must be told of an extension, with reasons, within the first month.
        extension_notice_by=due,
        extended_deadline=extended_due,
        ends_at=end_of_day(due),
        state=ClockState.RUNNING,
        paused_days=stopped,
    )


def can_extend(deadline: Deadline, today: date) -> bool:
    """Whether an extension can still be notified: only up to and including the deadline day.

    While the clock is stopped the month is not running, so the window is still open.
    """
    if deadline.deadline is None:
        return True
    return today <= deadline.deadline
