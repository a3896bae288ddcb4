"""``rightsflow audit verify``: whether the register's hash-chained audit log is whole."""

from __future__ import annotations

import json
from typing import Annotated

import typer

audit_app = typer.Typer(help="The register's audit log (who did what, when, on what legal basis).")


@audit_app.command("verify")
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check every entry of the audit log links to the one before it and is unchanged.

    Exit code 0 when the chain holds, 1 when it is broken (it says where).
    """
    from rightsflow.config import load_settings
    from rightsflow.register import Register

    register = Register(load_settings())
    register.create_schema()
    report = register.audit_chain_report()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "holds": report.holds,
                    "entries": report.entries,
                    "broken_at_entry": report.broken_at,
                    "broken_at_time": report.broken_at_time.isoformat() if report.broken_at_time else None,
                    "broken_action": report.broken_action,
                    "reason": report.reason,
                    "entries_sharing_a_previous_entry": report.shared_previous,
                },
                indent=1,
            )
        )
    elif report.holds and report.entries == 0:
        typer.echo("The audit log is empty: nothing to verify yet.")
    elif report.holds:
        last = f", the newest recorded {report.last_at:%Y-%m-%d %H:%M} UTC" if report.last_at else ""
        typer.echo(
            f"The audit log's chain holds: {report.entries:,} entries, each linked to the one before{last}."
        )
    else:
        if report.broken_at is not None:
            when = f"{report.broken_at_time:%Y-%m-%d %H:%M} UTC" if report.broken_at_time else "unknown time"
            typer.echo(
                f"The audit log's chain is broken at entry {report.broken_at:,} ({report.broken_action}, "
                f"recorded {when}): {report.reason}. The entries before it are intact.",
                err=True,
            )
        else:
            typer.echo(f"The audit log's chain is broken: {report.reason}.", err=True)
        if report.shared_previous:
            typer.echo(
                f"{report.shared_previous:,} entries link to an entry another entry already links to "
                "(written side by side before appends were serialised).",
                err=True,
            )
    raise typer.Exit(0 if report.holds else 1)
