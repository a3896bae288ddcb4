"""``rightsflow letters ID`` and ``rightsflow print-batch``: the letters of a request, and the post.

``letters`` lists every letter a request has produced (what it is, when, who it went to by role,
its S3 keys, a presigned link to its PDF) and every delivery (email with its message id, post in
a print batch, or why it was not sent). ``print-batch`` makes one PDF of a day's postal letters.
Names and addresses are never printed: the PDF behind the link holds them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.register import Register

from .common import fail, settings_and_catalog

LINK_SECONDS = 3600
CHANNEL_WORDS = {"email": "email", "post": "post", "none": "no address"}


def _delivery_words(d: dict) -> str:
    if d["status"] == "sent":
        return f"emailed {d['at']} ({d['message_id']})"
    if d["status"] == "printed":
        return f"printed for post {d['at']}"
    if d["status"] == "queued":
        return "waiting for the print batch"
    if d["status"] == "failed":
        return f"email failed {d['at']} ({d['note']}): will be retried"
    return f"not sent: {d['note']}"


def letters(
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The letters a request has produced, with their deliveries and a link to each PDF."""
    from rightsflow.letters import Letters

    settings, catalog = settings_and_catalog()
    register = Register(settings)
    try:
        register.get_request(request_id)
    except LookupError:
        fail(f"no request {request_id} in the register")
    service = Letters(settings, catalog, register)
    found = service.letters_of(request_id)
    out = []
    for v in found:
        row = asdict(v)
        try:
            row["pdf_link"] = service.link(v.pdf_key, LINK_SECONDS)
        except Exception:  # noqa: BLE001 - S3 unreachable: the listing still helps
            row["pdf_link"] = None
        row["format"] = "PDF and HTML"
        out.append(row)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    if not out:
        typer.echo(f"No letters yet for {request_id}.")
        return
    table = Table(title=f"Letters for {request_id}")
    for col in ("letter", "date", "to", "sent", "PDF (S3 key)"):
        table.add_column(col, overflow="fold")
    for row in out:
        sent = "; ".join(_delivery_words(d) for d in row["deliveries"]) or "not yet sent"
        table.add_row(
            row["title"],
            row["created_at"][:10],
            "the requester" if row["addressee"] == "requester" else "an organisation",
            sent,
            row["pdf_key"],
        )
    Console().print(table)
    typer.echo(
        f"Links to each PDF (valid for {LINK_SECONDS // 60} minutes): rightsflow letters {request_id} --json"
    )


def print_batch(
    day: Annotated[
        str | None,
        typer.Option("--date", help="The day whose postal letters to print (YYYY-MM-DD; default today)."),
    ] = None,
) -> None:
    """One PDF of the day's postal letters not yet printed, locked in S3, with a link to print it."""
    from rightsflow.letters import Letters
    from rightsflow.mail import Mailer

    try:
        when = date.fromisoformat(day) if day else datetime.now(UTC).date()
    except ValueError:
        fail("--date must be a date as YYYY-MM-DD")
    settings, catalog = settings_and_catalog()
    service = Letters(settings, catalog, Register(settings))
    key, count = Mailer(service, config=None).print_batch(when)
    if key is None:
        typer.echo(f"No postal letters to print for {when.isoformat()}.")
        return
    typer.echo(f"Print batch for {when.isoformat()}: {count} letter(s) in one PDF")
    typer.echo(f"  S3 key: {key}")
    typer.echo(f"  link (1 hour): {service.link(key, LINK_SECONDS)}")
