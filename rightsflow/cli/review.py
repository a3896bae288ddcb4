"""``rightsflow review``: the disposition review register (list items, record decisions)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from .common import fail, settings_and_catalog

review_app = typer.Typer(help="Disposition review of households due under a 'review' retention rule.")


@review_app.command("list")
def list_(
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Decided items too, not only open ones.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Review items awaiting a decision (keyed-hash household references, no personal data), with
    the day each began waiting and the reminders sent about it."""
    from rightsflow.register import Register
    from rightsflow.review import list_reviews

    settings, catalog = settings_and_catalog()
    if service and service not in catalog.ids:
        fail(f"unknown service {service}")
    items = list_reviews(Register(settings).engine, service, everything)
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in items], indent=1))
        return
    if not items:
        typer.echo("No review items.")
        return
    for i in items:
        waiting = f"  waiting since {i.waiting_since.isoformat()}" if i.waiting_since else ""
        reminded = (
            f"  reminded {i.reminders_sent}x, last {i.last_reminded_on.isoformat()}"
            if i.last_reminded_on
            else "  not reminded"
        )
        typer.echo(
            f"{i.ref[:16]}  {i.service:32} {i.rule_id:34} stage {i.stage}/{i.stages}  "
            f"due {i.due_on.isoformat()}  {i.status}{waiting}{reminded}"
        )


@review_app.command()
def decide(
    ref: Annotated[str, typer.Argument(help="The household reference (at least 8 characters).")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve the current stage.")] = False,
    extend_to: Annotated[
        str | None, typer.Option("--extend-to", help="Not due before this date (YYYY-MM-DD).")
    ] = None,
    move_to: Annotated[
        str | None, typer.Option("--move-to", help="Evaluate under this rule instead.")
    ] = None,
    hold: Annotated[str | None, typer.Option("--hold", help="Place a hold of this kind.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required with --hold).")] = None,
    by: Annotated[str, typer.Option("--by", help="Who decides.")] = "records manager",
    service: Annotated[
        str | None, typer.Option("--service", help="Where the reference is ambiguous.")
    ] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Where the reference is ambiguous.")] = None,
) -> None:
    """Record a decision on a review item (and in the audit log)."""
    from rightsflow.register import Register
    from rightsflow.review import ReviewError
    from rightsflow.review import decide as decide_item

    settings, catalog = settings_and_catalog()
    try:
        until = date.fromisoformat(extend_to) if extend_to else None
    except ValueError:
        fail("--extend-to must be a date (YYYY-MM-DD)")
    try:
        item, changed = decide_item(
            settings,
            catalog,
            Register(settings),
            ref,
            by=by,
            approve=approve,
            extend_to=until,
            move_to=move_to,
            hold=hold,
            reason=reason,
            service=service,
            rule=rule,
        )
    except ReviewError as exc:
        fail(str(exc))
    note = "" if changed else " (already recorded: nothing changed)"
    typer.echo(f"{item.ref[:16]} {item.rule_id}: {item.status}, stage {item.stage}/{item.stages}{note}")
