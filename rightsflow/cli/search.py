"""``rightsflow search``: find a subject in every service's store through the SubjectSearch workflow."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.identity import SubjectIdentifiers
from rightsflow.nhs import InvalidIdentifier
from rightsflow.register import Register

from .common import fail, settings_and_catalog

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


async def _run_search(settings, register: Register, request_id: str, subject_ref: str):  # type: ignore[no-untyped-def]
    from rightsflow.codec import connect_client
    from workflows.subject_search import SubjectSearch, SubjectSearchInput

    client = await connect_client(settings)
    workflow_id = f"subject-search-{request_id}"
    register.update_request(request_id, workflow_id=workflow_id, stage="searching")
    return await client.execute_workflow(
        SubjectSearch.run,
        SubjectSearchInput(request_id=request_id, subject_ref=subject_ref),
        id=workflow_id,
        task_queue=settings.task_queue,
    )


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
    settings, _ = settings_and_catalog()
    register = Register(settings)
    register.create_schema()
    subject_ref = register.register_subject(ids)
    req = register.create_request("subject_search", subject_ref, received_on=date.today())
    try:
        result = asyncio.run(_run_search(settings, register, req.request_id, subject_ref))
    except Exception as exc:  # a connection failure names only the address
        register.update_request(req.request_id, stage="failed")
        fail(
            f"search {req.request_id} did not complete: {type(exc).__name__}: is the worker running at "
            f"{settings.temporal_address}?",
            code=1,
        )
    register.update_request(req.request_id, stage="searched", status="closed")
    out = {
        "request_id": req.request_id,
        "subject_ref": subject_ref,
        "services": [
            {"service": s.service, "matches": [m.__dict__ for m in s.matches]} for s in result.services
        ],
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table(title=f"Subject search {req.request_id}")
    for col in ("service", "record", "match", "on"):
        table.add_column(col)
    for s in result.services:
        if not s.matches:
            table.add_row(s.service, "-", "not found", "")
        for m in s.matches:
            table.add_row(s.service, m.record_key, m.strength, ", ".join(m.matched_on))
    Console().print(table)
