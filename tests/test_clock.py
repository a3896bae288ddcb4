"""Statutory clock: known dates worked out by hand against the England bank holiday calendar.

Handy anchors: 1 Jan 2026 and 1 Oct 2026 are Thursdays, 1 Mar 2026 is a Sunday, 1 Jun 2026
is a Monday, 1 Feb 2027 is a Monday, 1 Jan 2028 is a Saturday. England bank holidays used:
Good Friday 3 Apr 2026 / Easter Monday 6 Apr 2026, Late Summer 31 Aug 2026, Good Friday
26 Mar 2027 / Easter Monday 29 Mar 2027, Christmas 2027 on Sat/Sun with substitute days Mon
27 and Tue 28 Dec 2027, New Year's Day 2028 on a Saturday with substitute Mon 3 Jan 2028,
Christmas Mon 25 / Boxing Day Tue 26 Dec 2028, Boxing Day Wed 26 Dec 2029.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
import typer
from typer.testing import CliRunner

from rightsflow.clock import (
    ClockState,
    Pause,
    add_calendar_months,
    add_working_days,
    can_extend,
    clock_start,
    compute_deadline,
    is_working_day,
    next_working_day_on_or_after,
    paused_days,
    reminder_dates,
    working_days_before,
)

D = date


# --- the holiday calendar itself ---------------------------------------------------------


def test_library_knows_the_2027_substitute_bank_holidays() -> None:
    # Christmas 2027 falls on Sat/Sun; the substitute days are Mon 27 and Tue 28 Dec.
    eng = holidays.UnitedKingdom(subdiv="ENG", years=2027)
    assert eng.get(D(2027, 12, 27)) == "Christmas Day (observed)"
    assert eng.get(D(2027, 12, 28)) == "Boxing Day (observed)"
    assert not is_working_day(D(2027, 12, 27))
    assert not is_working_day(D(2027, 12, 28))
    assert is_working_day(D(2027, 12, 29))


def test_calendar_matches_a_fresh_holidays_calendar() -> None:
    # The module reads the calendar once at import; it must agree day by day with a
    # calendar built now, including the 2027/28 substitute days and the one-off 2022/23 ones.
    eng = holidays.UnitedKingdom(subdiv="ENG", years=range(2020, 2031))
    day = D(2020, 1, 1)
    while day.year <= 2030:
        assert is_working_day(day) == (day.weekday() < 5 and day not in eng), day
        day += timedelta(days=1)
    assert not is_working_day(D(2022, 9, 19))  # State Funeral of Queen Elizabeth II
    assert not is_working_day(D(2023, 5, 8))  # Coronation of Charles III


def test_dates_outside_the_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the bank holiday calendar"):
        is_working_day(D(1999, 12, 31))
    with pytest.raises(ValueError, match="outside the bank holiday calendar"):
        compute_deadline(D(2100, 12, 20))  # due 20 Jan 2101


def test_is_working_day() -> None:
    assert not is_working_day(D(2026, 3, 7))  # Saturday
    assert not is_working_day(D(2026, 3, 8))  # Sunday
    assert not is_working_day(D(2026, 4, 3))  # Good Friday
    assert not is_working_day(D(2026, 8, 31))  # Late Summer bank holiday
    assert is_working_day(D(2026, 3, 9))  # Monday
    # Scotland-only holidays are not England and Wales bank holidays.
    assert is_working_day(D(2026, 1, 2))  # Friday; 2 Jan is a holiday in Scotland only
    assert is_working_day(D(2026, 11, 30))  # Monday; St Andrew's Day, Scotland only


def test_next_working_day_on_or_after() -> None:
    assert next_working_day_on_or_after(D(2026, 3, 9)) == D(2026, 3, 9)  # already a Monday
    # Sat 25 Dec 2027 -> Sun 26 -> substitute Mon 27 -> substitute Tue 28 -> Wed 29.
    assert next_working_day_on_or_after(D(2027, 12, 25)) == D(2027, 12, 29)
    # Sat 1 Jan 2028 -> Sun 2 -> substitute Mon 3 -> Tue 4.
    assert next_working_day_on_or_after(D(2028, 1, 1)) == D(2028, 1, 4)


def test_add_working_days() -> None:
    assert add_working_days(D(2026, 3, 7), 0) == D(2026, 3, 7)  # n=0 leaves even a Saturday
    assert add_working_days(D(2026, 3, 7), 1) == D(2026, 3, 9)  # Sat + 1 -> Mon
    # Thu 2 Apr 2026 + 1 skips Good Friday, the weekend and Easter Monday -> Tue 7 Apr.
    assert add_working_days(D(2026, 4, 2), 1) == D(2026, 4, 7)
    # Across the year end: Thu 23 Dec 2027 + 2 -> Fri 24, (25-28 off) Wed 29.
    assert add_working_days(D(2027, 12, 23), 2) == D(2027, 12, 29)
    with pytest.raises(ValueError, match="negative"):
        add_working_days(D(2026, 3, 9), -1)


def test_working_days_before() -> None:
    assert working_days_before(D(2026, 4, 7), 0) == D(2026, 4, 7)
    # Tue 7 Apr 2026 - 1 skips Easter Monday, the weekend and Good Friday -> Thu 2 Apr.
    assert working_days_before(D(2026, 4, 7), 1) == D(2026, 4, 2)
    # Tue 4 Jan 2028 - 1 skips Mon 3 (substitute), the weekend, Fri 31 Dec is working.
    assert working_days_before(D(2028, 1, 4), 1) == D(2027, 12, 31)


# --- clock start -------------------------------------------------------------------------


def test_clock_start_on_a_saturday_counts_the_saturday() -> None:
    # Received Sat 7 Mar 2026: the clock starts that day, not on Monday 9 Mar,
    # so the deadline is Tue 7 Apr 2026 (a working day; Easter Monday is the 6th).
    start = clock_start(D(2026, 3, 7))
    assert start == D(2026, 3, 7)
    assert compute_deadline(start).deadline == D(2026, 4, 7)


def test_clock_start_from_later_identity_evidence() -> None:
    # Request Mon 2 Mar 2026, ID arrives Tue 10 Mar: clock starts 10 Mar, due Fri 10 Apr.
    start = clock_start(D(2026, 3, 2), identity_received=D(2026, 3, 10))
    assert start == D(2026, 3, 10)
    assert compute_deadline(start).deadline == D(2026, 4, 10)


def test_clock_start_is_the_latest_of_all_dates() -> None:
    assert clock_start(D(2026, 3, 2), D(2026, 3, 10), D(2026, 3, 12), D(2026, 3, 11)) == D(2026, 3, 12)
    assert clock_start(D(2026, 3, 2), fee_received=D(2026, 3, 14)) == D(2026, 3, 14)
    # Evidence that was already on file before the request does not move the start back.
    assert clock_start(D(2026, 3, 2), identity_received=D(2026, 2, 1)) == D(2026, 3, 2)


# --- calendar months ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year: last day of February is the 29th
        (D(2027, 1, 31), 1, D(2027, 2, 28)),  # non-leap year: the 28th
        (D(2026, 3, 31), 1, D(2026, 4, 30)),  # 30-day month
        (D(2026, 1, 15), 1, D(2026, 2, 15)),  # ordinary corresponding date
        (D(2026, 12, 31), 1, D(2027, 1, 31)),  # across the year end
        (D(2026, 11, 30), 3, D(2027, 2, 28)),  # three months, across the year, clamped
        (D(2026, 5, 31), 3, D(2026, 8, 31)),
        (D(2026, 5, 31), 0, D(2026, 5, 31)),
    ],
)
def test_add_calendar_months(start: date, months: int, expected: date) -> None:
    assert add_calendar_months(start, months) == expected


def test_31_january_deadlines_in_leap_and_non_leap_years() -> None:
    # 2028: 29 Feb is a Tuesday, a working day.
    assert compute_deadline(D(2028, 1, 31)).deadline == D(2028, 2, 29)
    # 2027: 28 Feb is a Sunday, so the deadline is Monday 1 Mar 2027.
    assert compute_deadline(D(2027, 1, 31)).deadline == D(2027, 3, 1)


# --- rolling forward to a working day ----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Raw date Sat 17 Oct 2026 -> Mon 19 Oct.
        (D(2026, 9, 17), D(2026, 10, 19)),
        # Raw date Sun 18 Oct 2026 -> Mon 19 Oct.
        (D(2026, 9, 18), D(2026, 10, 19)),
        # Good Friday 26 Mar 2027 -> Sat, Sun, Easter Monday 29 -> Tue 30 Mar.
        (D(2027, 2, 26), D(2027, 3, 30)),
        # Easter Monday 6 Apr 2026 -> Tue 7 Apr.
        (D(2026, 3, 6), D(2026, 4, 7)),
        # Christmas Day Mon 25 Dec 2028 -> Boxing Day Tue 26 -> Wed 27 Dec.
        (D(2028, 11, 25), D(2028, 12, 27)),
        # Boxing Day Wed 26 Dec 2029 -> Thu 27 Dec.
        (D(2029, 11, 26), D(2029, 12, 27)),
        # Substitute Boxing Day Tue 28 Dec 2027 -> Wed 29 Dec.
        (D(2027, 11, 28), D(2027, 12, 29)),
        # Substitute New Year's Day Mon 3 Jan 2028 -> Tue 4 Jan (the raw date is in the next year).
        (D(2027, 12, 3), D(2028, 1, 4)),
        # Already a working day: Fri 10 Apr 2026 stays put.
        (D(2026, 3, 10), D(2026, 4, 10)),
    ],
)
def test_deadline_rolls_to_next_working_day(start: date, expected: date) -> None:
    result = compute_deadline(start)
    assert result.deadline == expected
    assert result.state is ClockState.RUNNING
    assert result.extended_deadline is None


# --- pauses ------------------------------------------------------------------------------


def test_paused_days_counts_both_ends() -> None:
    assert paused_days([Pause(D(2026, 3, 3), D(2026, 3, 5))]) == 3  # 3, 4, 5 Mar
    assert paused_days([Pause(D(2026, 3, 3), D(2026, 3, 3))]) == 1  # answered the same day
    assert paused_days([]) == 0
    # 28 Feb to 1 Mar 2028 crosses the leap day: 28, 29 Feb, 1 Mar.
    assert paused_days([Pause(D(2028, 2, 28), D(2028, 3, 1))]) == 3


def test_one_pause_adds_its_days() -> None:
    # Start Mon 1 Jun 2026, raw date Wed 1 Jul. Paused 3-4 Jun = 2 days -> Fri 3 Jul.
    result = compute_deadline(D(2026, 6, 1), [Pause(D(2026, 6, 3), D(2026, 6, 4))])
    assert result.paused_days == 2
    assert result.deadline == D(2026, 7, 3)


def test_two_pauses_add_their_days() -> None:
    # Start Mon 1 Jun 2026, raw date Wed 1 Jul. Paused 3-5 Jun (3) and 10-11 Jun (2):
    # 1 Jul + 5 = Mon 6 Jul 2026. Given out of order on purpose.
    pauses = [Pause(D(2026, 6, 10), D(2026, 6, 11)), Pause(D(2026, 6, 3), D(2026, 6, 5))]
    result = compute_deadline(D(2026, 6, 1), pauses)
    assert result.paused_days == 5
    assert result.deadline == D(2026, 7, 6)


def test_paused_days_are_added_before_rolling_forward() -> None:
    # Start Thu 17 Sep 2026, raw date Sat 17 Oct; one paused day -> Sun 18 Oct -> Mon 19 Oct.
    # Rolling first (Mon 19) and then adding the day would wrongly give Tue 20 Oct.
    result = compute_deadline(D(2026, 9, 17), [Pause(D(2026, 9, 20), D(2026, 9, 20))])
    assert result.deadline == D(2026, 10, 19)


def test_pause_on_the_clock_start_day_is_allowed() -> None:
    # Start Mon 1 Jun 2026; paused that same day only -> Thu 2 Jul.
    assert compute_deadline(D(2026, 6, 1), [Pause(D(2026, 6, 1), D(2026, 6, 1))]).deadline == D(2026, 7, 2)


def test_unanswered_pause_stops_the_clock() -> None:
    pauses = [Pause(D(2026, 6, 3), D(2026, 6, 5)), Pause(D(2026, 6, 10))]
    result = compute_deadline(D(2026, 6, 1), pauses, extended=True)
    assert result.state is ClockState.STOPPED
    assert result.stopped_since == D(2026, 6, 10)
    assert result.paused_days == 3  # only the answered pause so far
    assert result.deadline is None
    assert result.extension_notice_by is None
    assert result.extended_deadline is None
    assert result.ends_at is None
    assert can_extend(result, D(2026, 12, 1))  # the month is not running
    with pytest.raises(ValueError, match="no answer"):
        paused_days(pauses)


@pytest.mark.parametrize(
    ("pauses", "message"),
    [
        ([Pause(D(2026, 6, 5), D(2026, 6, 3))], "answered on 2026-06-03 before it was asked on 2026-06-05"),
        ([Pause(D(2026, 5, 29), D(2026, 6, 3))], "before the clock start 2026-06-01"),
        # Sharing a day is an overlap, since both ends are counted.
        ([Pause(D(2026, 6, 3), D(2026, 6, 5)), Pause(D(2026, 6, 5), D(2026, 6, 8))], "overlaps"),
        ([Pause(D(2026, 6, 3), D(2026, 6, 10)), Pause(D(2026, 6, 4), D(2026, 6, 5))], "overlaps"),
        # Nothing can follow a pause that is still waiting for its answer.
        ([Pause(D(2026, 6, 3)), Pause(D(2026, 6, 10), D(2026, 6, 11))], "overlaps"),
    ],
)
def test_invalid_pauses_raise(pauses: list[Pause], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_deadline(D(2026, 6, 1), pauses)


# --- extension ---------------------------------------------------------------------------


def test_extension_is_three_months_from_the_clock_start() -> None:
    # Start Tue 10 Mar 2026: one month -> Fri 10 Apr; three months -> Wed 10 Jun.
    result = compute_deadline(D(2026, 3, 10), extended=True)
    assert result.deadline == D(2026, 4, 10)
    assert result.extension_notice_by == D(2026, 4, 10)
    assert result.extended_deadline == D(2026, 6, 10)


def test_extension_rolls_past_bank_holiday_and_includes_pauses() -> None:
    # Start Sun 31 May 2026: one month -> Tue 30 Jun; three months -> Mon 31 Aug, the
    # Late Summer bank holiday -> Tue 1 Sep.
    result = compute_deadline(D(2026, 5, 31), extended=True)
    assert (result.deadline, result.extended_deadline) == (D(2026, 6, 30), D(2026, 9, 1))
    # Start Tue 10 Mar 2026 with 5 paused days: 10 Jun + 5 = Mon 15 Jun; 10 Apr + 5 = Wed 15 Apr.
    result = compute_deadline(D(2026, 3, 10), [Pause(D(2026, 3, 16), D(2026, 3, 20))], extended=True)
    assert (result.deadline, result.extended_deadline) == (D(2026, 4, 15), D(2026, 6, 15))


def test_can_extend_until_the_deadline_day_only() -> None:
    result = compute_deadline(D(2026, 3, 10))  # due Fri 10 Apr 2026
    assert can_extend(result, D(2026, 3, 10))
    assert can_extend(result, D(2026, 4, 10))
    assert not can_extend(result, D(2026, 4, 11))


# --- reminders ---------------------------------------------------------------------------


def test_reminders_skip_bank_holidays() -> None:
    # Deadline Tue 14 Apr 2026. Counting back working days: 13 (1), 10 (2), 9 (3), 8, 7,
    # [6 Easter Monday, 5/4 weekend, 3 Good Friday skipped], 2 (6), 1, 31 Mar, 30 Mar,
    # Fri 27 Mar (10).
    assert reminder_dates(D(2026, 4, 14)) == [D(2026, 3, 27), D(2026, 4, 9)]
    assert reminder_dates(D(2026, 4, 14), days=(3,)) == [D(2026, 4, 9)]
    assert reminder_dates(D(2026, 4, 14), days=()) == []


# --- end of the deadline day -------------------------------------------------------------


def test_ends_at_is_end_of_day_london_in_bst() -> None:
    ends_at = compute_deadline(D(2026, 3, 10)).ends_at  # Fri 10 Apr 2026, BST
    assert ends_at is not None
    assert (ends_at.date(), ends_at.hour, ends_at.minute, ends_at.second) == (D(2026, 4, 10), 23, 59, 59)
    assert ends_at.microsecond == 999_999
    assert str(ends_at.tzinfo) == "Europe/London"
    assert ends_at.utcoffset() == timedelta(hours=1)
    assert ends_at.astimezone(UTC) == datetime(2026, 4, 10, 22, 59, 59, 999_999, tzinfo=UTC)


def test_ends_at_is_end_of_day_london_in_gmt() -> None:
    result = compute_deadline(D(2027, 1, 31), extended=True)  # Mon 1 Mar 2027, GMT
    assert result.ends_at is not None
    assert result.ends_at.utcoffset() == timedelta(0)
    assert result.ends_at.astimezone(UTC) == datetime(2027, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
    # Extended: 30 Apr 2027 (Fri) is in BST.
    assert result.extended_deadline == D(2027, 4, 30)
    assert result.extended_ends_at == datetime(2027, 4, 30, 22, 59, 59, 999_999, tzinfo=UTC)


# --- the CLI -----------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    from rightsflow.cli.deadline import deadline

    app = typer.Typer()
    app.command("deadline")(deadline)
    # A second command keeps Typer from collapsing the app into a bare command.
    app.command("noop")(lambda: None)
    return app


runner = CliRunner()


def test_cli_json_with_extend_prints_four_keys(cli: typer.Typer) -> None:
    result = runner.invoke(
        cli,
        ["deadline", "--received", "2026-03-02", "--identity-received", "2026-03-10", "--extend", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "clock_start": "2026-03-10",
        "deadline": "2026-04-10",
        "extension_notice_by": "2026-04-10",
        "extended_deadline": "2026-06-10",
    }


def test_cli_json_without_extend_prints_two_keys(cli: typer.Typer) -> None:
    # Start Mon 1 Jun 2026 with pauses 3-5 Jun and 10-11 Jun (5 days) -> Mon 6 Jul.
    args = ["deadline", "--received", "2026-06-01", "--json"]
    args += ["--pause", "2026-06-03:2026-06-05", "--pause", "2026-06-10:2026-06-11"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"clock_start": "2026-06-01", "deadline": "2026-07-06"}


def test_cli_open_pause_gives_null_deadline(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["deadline", "--received", "2026-06-01", "--pause", "2026-06-03:", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"clock_start": "2026-06-01", "deadline": None}


def test_cli_human_table(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["deadline", "--received", "2026-03-07", "--extend"])
    assert result.exit_code == 0, result.output
    assert "2026-03-07 (Sat)" in result.stdout
    assert "2026-04-07 (Tue)" in result.stdout
    assert "Extended deadline" in result.stdout
    assert "2026-06-08 (Mon)" in result.stdout  # 7 Jun 2026 is a Sunday


@pytest.mark.parametrize(
    ("args", "bad_value"),
    [
        (["--received", "2026-02-30"], "2026-02-30"),
        (["--received", "07/03/2026"], "07/03/2026"),
        (["--received", "20260307"], "20260307"),
        (["--received", "2026-03-07", "--fee-received", "soon"], "soon"),
        (["--received", "2026-03-07", "--pause", "2026-03-09"], "2026-03-09"),
        (["--received", "2026-03-07", "--pause", "2026-03-09:2026-3-10"], "2026-3-10"),
        (["--received", "2026-03-07", "--pause", "2026-03-12:2026-03-10"], "2026-03-10"),
    ],
)
def test_cli_rejects_bad_input_with_exit_code_2(cli: typer.Typer, args: list[str], bad_value: str) -> None:
    result = runner.invoke(cli, ["deadline", *args, "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert bad_value in result.stderr
    assert result.stderr.startswith("rightsflow: ")
    assert "Traceback" not in result.output
