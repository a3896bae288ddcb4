"""``rightsflow search``: find a subject in every service's store through the SubjectSearch workflow."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.identity import SubjectIdentifiers
from rightsflow.nhs import InvalidIdentifier

from .common import call, fail, operator, request_service, settings_and_catalog

NhsOpt = Annotated[str | None, typer.Option("--nhs-number", help="NHS number (10 digits, spaces allowed).")]
UpnOpt = Annotated[str | None, typer.Option("--upn", help="Unique Pupil Number.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="Full name; needs --dob.")]
DobOpt = Annotated[str | None, typer.Option("--dob", help="Date of birth, YYYY-MM-DD.")]
PostcodeOpt = Annotated[
    str | None, typer.Option("--postcode", help="Narrows a name and date of birth search.")
]


def parse_identifiers(
    nhs_number: str | None, upn: str | None, name: str | None, dob: str | None, postcode: str | None
) -> SubjectIdentifiers:
    try:
        return SubjectIdentifiers.parse(
            nhs_number=nhs_number, upn=upn, name=name, dob=dob, postcode=postcode, today=date.today()
        )
    except InvalidIdentifier as exc:
        fail(str(exc))


def search(
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find a person in all services' stores; prints opaque per-service references."""
    ids = parse_identifiers(nhs_number, upn, name, dob, postcode)
    settings, catalog = settings_and_catalog()
    found = call(request_service(settings, catalog).search(actor=operator(), subject=ids))
    out = {"request_id": found.request_id, "subject_ref": found.subject_ref, "services": found.services}
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table(title=f"Subject search {found.request_id}")
    for col in ("service", "record", "match", "on"):
        table.add_column(col)
    for s in found.services:
        if not s["matches"]:
            table.add_row(s["service"], "-", "not found", "")
        for m in s["matches"]:
            table.add_row(s["service"], m["record_key"], m["strength"], ", ".join(m["matched_on"]))
    Console().print(table)
