"""`rightsflow deadline`: work out the statutory response dates for a subject-rights request."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated

import typer

from rightsflow.cli.common import fail
from rightsflow.clock import ClockState, Pause, clock_start, compute_deadline
from rightsflow.identity import EARLIEST_DATE

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _InputError(ValueError):
    """Bad command-line input; reported on stderr with exit code 2."""


def _parse_date(value: str, option: str) -> date:
    # date.fromisoformat also accepts forms like 20260301 or 2026-W10-1; insist on YYYY-MM-DD.
    if _ISO_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if day < EARLIEST_DATE:  # say so of the date given, not of a deadline worked out from it
                raise _InputError(
                    f"{option} is before {EARLIEST_DATE.isoformat()}: the bank-holiday calendar the "
                    "statutory clock uses starts there"
                )
            return day
    raise _InputError(f"invalid {option} date {value!r}: expected a real date as YYYY-MM-DD")


def _parse_pause(value: str) -> Pause:
    asked, sep, answered = value.partition(":")
    if not sep or ":" in answered:
        raise _InputError(f"invalid --pause {value!r}: expected ASKED:ANSWERED as YYYY-MM-DD:YYYY-MM-DD")
    return Pause(
        asked=_parse_date(asked, "--pause asked"),
        answered=_parse_date(answered, "--pause answered") if answered else None,
    )


def _optional_date(value: str | None, option: str) -> date | None:
    return None if value is None else _parse_date(value, option)


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _show(d: date | None) -> str:
    return "-" if d is None else f"{d.isoformat()} ({d:%a})"


def deadline(
    received: Annotated[
        str,
        typer.Option("--received", metavar="YYYY-MM-DD", help="Day the request was received."),
    ],
    identity_received: Annotated[
        str | None,
        typer.Option(
            "--identity-received", metavar="YYYY-MM-DD", help="Day identity evidence arrived, if later."
        ),
    ] = None,
    fee_received: Annotated[
        str | None,
        typer.Option("--fee-received", metavar="YYYY-MM-DD", help="Day a permitted fee arrived, if later."),
    ] = None,
    authority_received: Annotated[
        str | None,
        typer.Option(
            "--authority-received",
            metavar="YYYY-MM-DD",
            help="Day authority to act for the data subject arrived.",
        ),
    ] = None,
    pause: Annotated[
        list[str] | None,
        typer.Option(
            "--pause",
            metavar="ASKED:ANSWERED",
            help="Stop-the-clock period ASKED:ANSWERED (both days count); repeatable. "
            "ASKED: with no answer means the clock is stopped.",
        ),
    ] = None,
    extend: Annotated[
        bool, typer.Option("--extend", help="The request is complex: show the 3-month extension.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Compute the clock start and response deadline for a subject-rights request."""
    try:
        start = clock_start(
            _parse_date(received, "--received"),
            identity_received=_optional_date(identity_received, "--identity-received"),
            authority_received=_optional_date(authority_received, "--authority-received"),
            fee_received=_optional_date(fee_received, "--fee-received"),
        )
        pauses = [_parse_pause(p) for p in pause or ()]
        result = compute_deadline(start, pauses, extended=extend)
    except ValueError as exc:  # our _InputError, or a pause rejected by the clock
        fail(str(exc))

    if as_json:
        out: dict[str, str | None] = {
            "clock_start": _iso(result.clock_start),
            "deadline": _iso(result.deadline),
        }
        if extend:
            out["extension_notice_by"] = _iso(result.extension_notice_by)
            out["extended_deadline"] = _iso(result.extended_deadline)
        typer.echo(json.dumps(out))
        return

    rows = [("Clock start", _show(result.clock_start)), ("Paused days", str(result.paused_days))]
    if result.state is ClockState.STOPPED:
        rows.append(("Deadline", f"clock stopped since {_show(result.stopped_since)}"))
    else:
        rows.append(("Deadline", _show(result.deadline)))
        if extend:
            rows.append(("Extension notice by", _show(result.extension_notice_by)))
            rows.append(("Extended deadline", _show(result.extended_deadline)))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"{label:<{width}}  {value}")
