"""Article 20 portability to the person from the command line.

``rightsflow portability --nhs-number N --from SERVICE [--received D]`` records the request and
starts its PortabilityToPerson workflow (id ``portability-<request id>``); a service whose
processing rests on public task or legal obligation is refused here, before anything is recorded.
``portability-approve`` / ``portability-refuse`` are the DPO's decisions; ``portability-status``
shows the stage and, once sent, the download link and when it expires (never any personal data).
``rightsflow transfer ... --reason portability`` without ``--to`` comes here too.

Settings (environment): RIGHTSFLOW_PORTABILITY_LINK_EXPIRY_HOURS (the link's life; default
RIGHTSFLOW_SAR_LINK_EXPIRY_HOURS, else 168; S3 caps it at 7 days),
RIGHTSFLOW_PORTABILITY_REMOVE_AFTER_DAYS (30: when the package is removed after delivery).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

import typer

from rightsflow.catalog import Catalog
from rightsflow.config import Settings
from rightsflow.identity import SubjectIdentifiers
from rightsflow.portability import art20_applies, art20_refusal, portability_workflow_id
from rightsflow.request_moves import MAX_LINK_HOURS, portability_options  # noqa: F401

from .common import fail, operator, settings_and_catalog, temporal_call, temporal_client
from .search import DobOpt, NameOpt, NhsOpt, PostcodeOpt, UpnOpt, parse_identifiers

RequestId = Annotated[
    str, typer.Argument(metavar="ID", help="The request id printed by `rightsflow portability`.")
]


async def start_portability(
    client: Any,
    settings: Settings,
    catalog: Catalog,
    *,
    service: str,
    ids: SubjectIdentifiers,
    received: date | None = None,
    check_basis: bool = True,
    **options: Any,
) -> tuple[str, Any]:
    """File the request through the request service and start its workflow; returns (request id,
    handle). Raises ValueError (before recording anything) where Article 20 does not apply."""
    from rightsflow.request_service import RequestError, RequestService

    try:
        filed = await RequestService(settings, catalog, client=client).file_portability(
            actor=operator(),
            subject=ids,
            received_on=received,
            service=service,
            check_basis=check_basis,
            **options,
        )
    except RequestError as exc:
        raise ValueError(exc.message) from None
    return filed.request_id, filed.handle


def start_from_command(
    from_service: str,
    ids: SubjectIdentifiers,
    received: date | None,
) -> str:
    """Shared by ``portability`` and ``transfer --reason portability`` without ``--to``."""
    settings, catalog = settings_and_catalog()
    if from_service not in catalog.ids:
        fail(f"--from: no service {from_service!r} in the catalogue ({', '.join(catalog.ids)})")
    if not art20_applies(catalog[from_service]):
        fail(art20_refusal(catalog[from_service]))
    if not (ids.nhs_number or ids.upn):
        fail("portability needs an exact identifier: --nhs-number or --upn")

    async def go() -> str:
        client = await temporal_client(settings)  # connect first: nothing is recorded if Temporal is away
        request_id, _ = await start_portability(
            client, settings, catalog, service=from_service, ids=ids, received=received
        )
        return request_id

    try:
        return temporal_call(settings, go, missing="no workflow for that transfer (is the id right?)")
    except (LookupError, ValueError) as exc:
        fail(str(exc))


def _received(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        fail("--received must be a date as YYYY-MM-DD")
    if d > date.today():
        fail("--received is in the future")
    return d


# -- commands ----------------------------------------------------------------------------------------


def portability(
    from_service: Annotated[str, typer.Option("--from", help="The service (catalogue id).")],
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    received: Annotated[
        str | None, typer.Option("--received", metavar="YYYY-MM-DD", help="Day the request arrived.")
    ] = None,
) -> None:
    """Article 20: send a person their own records (JSON + CSV, BagIt) as a download link; prints the id."""
    if nhs_number is None and upn is None:
        fail("give the requester's --nhs-number or --upn (portability needs an exact identifier)")
    ids = parse_identifiers(nhs_number, upn, name, dob, postcode)
    typer.echo(start_from_command(from_service, ids, _received(received)))


def portability_approve(
    request_id: RequestId,
    by: Annotated[str, typer.Option("--by", help="Who approves (recorded in the register).")] = "dpo",
) -> None:
    """Approve: the package is built and the download link issued."""
    from workflows.portability_person import ApprovePortability, PortabilityToPerson

    settings, _ = settings_and_catalog()

    async def go() -> str:
        client = await temporal_client(settings)
        handle = client.get_workflow_handle(portability_workflow_id(request_id))
        return await handle.execute_update(PortabilityToPerson.approve, ApprovePortability(decided_by=by))

    typer.echo(temporal_call(settings, go, missing="no workflow for that transfer (is the id right?)"))


def portability_refuse(
    request_id: RequestId,
    reason: Annotated[str, typer.Option("--reason", help="Why, with the exemption relied on (recorded).")],
    by: Annotated[str, typer.Option("--by", help="Who refuses (recorded in the register).")] = "dpo",
) -> None:
    """Refuse: nothing is sent."""
    from workflows.portability_person import PortabilityToPerson, RefusePortability

    settings, _ = settings_and_catalog()

    async def go() -> str:
        client = await temporal_client(settings)
        handle = client.get_workflow_handle(portability_workflow_id(request_id))
        return await handle.execute_update(
            PortabilityToPerson.refuse, RefusePortability(reason=reason, decided_by=by)
        )

    typer.echo(temporal_call(settings, go, missing="no workflow for that transfer (is the id right?)"))


def portability_status(
    request_id: RequestId,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a portability request's stage and, once sent, its download link and expiry."""
    from workflows.portability_person import PortabilityToPerson

    settings, _ = settings_and_catalog()

    async def go() -> dict[str, Any]:
        client = await temporal_client(settings)
        handle = client.get_workflow_handle(portability_workflow_id(request_id))
        return asdict(await handle.query(PortabilityToPerson.status))

    st = temporal_call(settings, go, missing="no workflow for that transfer (is the id right?)")
    if as_json:
        typer.echo(json.dumps(st, indent=2, default=str))
        return
    typer.echo(f"request      {st['request_id']} (portability) {st['service']}")
    typer.echo(f"stage        {st['stage']}" + (f", deadline {st['deadline']}" if st["deadline"] else ""))
    if st["refusal"]:
        typer.echo(f"refused      {st['refusal']}")
    if st["collections"] is not None:
        typer.echo(
            f"records      {st['records']} in {len(st['collections'])} record type(s); "
            f"{st['withheld']} third-party item(s) withheld, {st['masked_references']} reference(s) masked"
        )
    if st["link"]:
        typer.echo(f"sent         {st['sent_at']}; link expires {st['link_expires_at']}")
        typer.echo(f"link         {st['link']}")
