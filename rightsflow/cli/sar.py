"""Subject access requests from the command line: file, verify, extend, clarify, review, decide, see.

Every command talks to the request's SubjectAccessRequest workflow (id ``sar-<request id>``)
through the encrypting client; decisions are Temporal updates, so a refused one (approving before
the clock has started, twice, an extension after the first month) comes back as a clear message.
Nothing personal is printed except by ``redactions``, which shows the DPO what is withheld.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.config import Settings, load_settings
from rightsflow.register import Register

from .common import (
    actor,
    call,
    council,
    fail,
    operator,
    request_service,
    settings_and_catalog,
    temporal_client,
)
from .parties import (
    ControllerOpt,
    RequesterAddressOpt,
    RequesterEmailOpt,
    RequesterNameOpt,
    RequesterOpt,
    resolve_parties,
)
from .search import DobOpt, NameOpt, NhsOpt, PostcodeOpt, UpnOpt, parse_identifiers

T = TypeVar("T")

RequestId = Annotated[str, typer.Argument(metavar="ID", help="The request id printed by `rightsflow sar`.")]
DateOpt = str | None  # YYYY-MM-DD
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Who decides, if not you (default: cli:<your user name>); in the audit log."),
]

REQUESTERS = ("self", "parent", "representative")


def workflow_id(request_id: str) -> str:
    return f"sar-{request_id}"


def received_and_subject(
    received: str,
    nhs_number: str | None,
    upn: str | None,
    name: str | None,
    dob: str | None,
    postcode: str | None,
) -> tuple[date, Any]:
    """A request's --received day (not in the future) and its subject's identifiers, both checked."""
    from rightsflow.request_checks import check_received
    from rightsflow.request_service import RequestError

    try:
        day = check_received(received, "--received")
    except RequestError as exc:
        fail(exc.message, exc.exit_code)
    return day, parse_identifiers(nhs_number, upn, name, dob, postcode)


def _echo_clock(view: Any) -> None:
    if not view.clock_started:
        typer.echo(f"clock not started: waiting for {' and '.join(view.waiting_for)} evidence")
        return
    typer.echo(f"clock start  {view.clock_start}")
    if view.state == "stopped":
        typer.echo("deadline     clock stopped (awaiting clarification)")
    else:
        typer.echo(f"deadline     {view.deadline}" + (" (extended)" if view.extended else ""))
    if view.paused_days:
        typer.echo(f"paused days  {view.paused_days}")


# -- filing ------------------------------------------------------------------------------------------


def file_request(
    settings: Settings,
    ids: Any,
    received: date,
    requester: str = "self",
    services: list[str] | None = None,
    *,
    controller: str | None = None,
    requester_details: dict[str, object] | None = None,
    actor: str | None = None,
) -> str:
    """Record the request in the register and start its workflow (the request service); its id."""
    from rightsflow.request_service import RequestService

    async def go() -> str:
        filed = await RequestService(settings).file_sar(
            actor=actor or operator(),
            subject=ids,
            received_on=received,
            requester=requester,
            services=services,
            controller=controller,
            requester_details=requester_details,
        )
        return filed.request_id

    return call(go())


def sar(
    received: Annotated[
        str, typer.Option("--received", metavar="YYYY-MM-DD", help="Day the request arrived.")
    ],
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    requester: RequesterOpt = "self",
    controller: ControllerOpt = None,
    requester_name: RequesterNameOpt = None,
    requester_email: RequesterEmailOpt = None,
    requester_address: RequesterAddressOpt = None,
) -> None:
    """File a subject access request to one council; prints its request id."""
    received_on, ids = received_and_subject(received, nhs_number, upn, name, dob, postcode)
    settings, catalog = settings_and_catalog()
    code = council(settings, catalog, controller)
    who = resolve_parties(catalog, code, requester, requester_name, requester_email, requester_address)
    request_id = file_request(
        settings,
        ids,
        received_on,
        who.requester,
        who.services,
        controller=who.controller,
        requester_details=who.details,
    )
    typer.echo(request_id)


# -- identity, authority, fee ----------------------------------------------------------------------


def verify(
    request_id: RequestId,
    identity_received: Annotated[
        DateOpt, typer.Option("--identity-received", metavar="YYYY-MM-DD", help="Identity evidence arrived.")
    ] = None,
    authority_received: Annotated[
        DateOpt,
        typer.Option(
            "--authority-received", metavar="YYYY-MM-DD", help="Evidence of authority to act arrived."
        ),
    ] = None,
    fee_received: Annotated[
        DateOpt, typer.Option("--fee-received", metavar="YYYY-MM-DD", help="A fee arrived.")
    ] = None,
    parental_responsibility: Annotated[
        bool | None,
        typer.Option(
            "--parental-responsibility/--no-parental-responsibility",
            help="A parent acting for a child: parental responsibility checked.",
        ),
    ] = None,
    child_competent: Annotated[
        bool | None,
        typer.Option("--child-competent/--child-not-competent", help="The child's competence, noted."),
    ] = None,
    confirm_match: Annotated[
        list[str] | None, typer.Option("--confirm-match", metavar="SERVICE/KEY", help="Confirm a candidate.")
    ] = None,
    reject_match: Annotated[
        list[str] | None, typer.Option("--reject-match", metavar="SERVICE/KEY", help="Reject a candidate.")
    ] = None,
    by: ByOpt = None,
) -> None:
    """Record identity / authority / fee evidence (the clock starts on the latest) or match decisions."""
    view = call(
        request_service().verify(
            request_id,
            actor=actor(by),
            identity_received=identity_received,
            authority_received=authority_received,
            fee_received=fee_received,
            parental_responsibility=parental_responsibility,
            child_competent=child_competent,
            confirm_matches=list(confirm_match or []),
            reject_matches=list(reject_match or []),
        )
    )
    _echo_clock(view)


# -- the clock --------------------------------------------------------------------------------------


def extend(
    request_id: RequestId,
    reason: Annotated[str, typer.Option("--reason", help="Why (told to the requester in a letter).")],
    by: ByOpt = None,
) -> None:
    """Extend the deadline to three months from the start (only within the first month)."""
    _echo_clock(call(request_service().extend(request_id, actor=actor(by), reason=reason)))


def clarify(
    request_id: RequestId,
    asked: Annotated[
        DateOpt,
        typer.Option("--asked", metavar="YYYY-MM-DD", help="Day clarification was asked: the clock stops."),
    ] = None,
    answered: Annotated[
        DateOpt, typer.Option("--answered", metavar="YYYY-MM-DD", help="Day the answer arrived: it restarts.")
    ] = None,
) -> None:
    """Stop the clock while waiting for clarification, and restart it when the answer arrives."""
    _echo_clock(call(request_service().clarify(request_id, actor=operator(), asked=asked, answered=answered)))


# -- review and decision ---------------------------------------------------------------------------


def redactions(request_id: RequestId, as_json: JsonOpt = False) -> None:
    """List what is withheld, where and on what legal basis (shows the withheld text to the DPO)."""
    rows = call(request_service().redactions(request_id, actor=operator()))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Redactions for {request_id}")
    for col in ("id", "service", "record", "field", "kind", "withheld", "released"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["redaction_id"],
            r["service"],
            f"{r['collection']}/{r['record_key']}",
            r["field"],
            r["kind"],
            r["text"],
            "yes" if r["released"] else "",
        )
    Console().print(table)


def _review(request_id: str, release_ids: list[str], texts: list[str], basis: str, by: str | None) -> None:
    result = call(
        request_service().review(
            request_id, actor=actor(by), release=release_ids, withhold=texts, basis=basis
        )
    )
    typer.echo(f"withheld {result.redactions}, released {result.released}")


def release(
    request_id: RequestId,
    redaction: Annotated[
        list[str], typer.Option("--redaction", metavar="RID", help="A redaction id; repeatable.")
    ],
    by: ByOpt = None,
) -> None:
    """Release redactions (the DPO decided disclosure is reasonable or the third party consented)."""
    _review(request_id, list(redaction), [], "third-party", by)


def withhold(
    request_id: RequestId,
    text: Annotated[
        list[str], typer.Option("--text", help="Text to withhold wherever it appears; repeatable.")
    ],
    basis: Annotated[
        str, typer.Option("--basis", help="third-party (Sch 2 para 16) or serious-harm (Sch 3).")
    ] = "third-party",
    by: ByOpt = None,
) -> None:
    """Add redactions the automatic pass missed, with their legal basis (text that occurs in no
    gathered record is refused: check its spelling)."""
    _review(request_id, [], list(text), basis, by)


def approve(request_id: RequestId, by: ByOpt = None) -> None:
    """Approve the response: the pack is built, stored under Object Lock and a link is issued."""
    call(request_service().approve(request_id, actor=actor(by)))
    typer.echo(f"approved {request_id}: the pack is being prepared (see `rightsflow status {request_id}`)")


def reject(
    request_id: RequestId,
    exemption: Annotated[str, typer.Option("--exemption", help="The exemption relied on.")],
    by: ByOpt = None,
) -> None:
    """Refuse the request, stating the exemption; a refusal letter names the ICO and the courts."""
    call(request_service().reject(request_id, actor=actor(by), exemption=exemption))
    typer.echo(f"refused {request_id}")


# -- seeing requests ----------------------------------------------------------------------------------


def status(request_id: RequestId, as_json: JsonOpt = False) -> None:
    """A request's stage, clock, pauses, extension and each service's gathering state."""
    settings = load_settings()
    try:
        kind = Register(settings).get_request(request_id).request_type
    except LookupError:
        fail(f"no request {request_id} in the register")
    if kind in ("transfer", "portability"):  # both sides of a handoff
        from .transfer import transfer_status

        return transfer_status(request_id, as_json)
    if kind in ("erasure", "rectification", "restriction", "objection", "consent_withdrawal"):
        from .rights import rights_status

        return rights_status(request_id, as_json)
    out = call(request_service().status(request_id, actor=operator()))
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(f"request      {request_id} ({out['type']}, {out['status']})")
    typer.echo(f"stage        {out['stage']}")
    typer.echo(f"received     {out['received_on']}")
    if out.get("live") and not out.get("clock_started"):
        typer.echo(f"clock        not started: waiting for {' and '.join(out['waiting_for'])} evidence")
    else:
        typer.echo(f"clock start  {out['clock_start'] or '-'}")
        typer.echo(f"deadline     {out['deadline'] or '-'}" + (" (extended)" if out.get("extended") else ""))
    if out.get("days_left") is not None:
        typer.echo(f"days left    {out['days_left']}" + (" (OVERDUE)" if out.get("overdue") else ""))
    for asked, answered in out.get("pauses", []):
        typer.echo(f"pause        {asked} -> {answered or 'awaiting answer'}")
    if out.get("services"):
        table = Table(title="services")
        for col in ("service", "state", "records", "candidates", "store failures"):
            table.add_column(col)
        for s in out["services"]:
            table.add_row(
                s["service"],
                s["state"],
                str(s["records"]),
                ", ".join(s["candidates"]) or "",
                str(s["failures"]) if s["failures"] else "",
            )
        Console().print(table)
    if out.get("stage") == "awaiting_review":
        typer.echo(f"redactions   {out['redactions']} withheld, {out['released']} released")
    if out.get("pack_key"):
        typer.echo(f"pack         s3://{load_settings().s3_bucket}/{out['pack_key']}")
    if out.get("problem"):  # the archive or Temporal did not answer: say which, and what to do
        typer.echo(f"problem      {out['problem']}")


def requests(as_json: JsonOpt = False) -> None:
    """Open rights requests, soonest statutory deadline first."""
    rows = call(request_service().list_requests(actor=operator()))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Open rights requests")
    for col in ("request", "type", "stage", "received", "clock start", "deadline", "days left"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["request_id"],
            r["type"],
            r["stage"] or "",
            r["received_on"] or "",
            r["clock_start"] or "-",
            r["deadline"] or "-",
            "-" if r["days_left"] is None else str(r["days_left"]),
        )
    Console().print(table)


# -- the demo ------------------------------------------------------------------------------------------


def run_sar_demo(
    settings: Settings | None = None, *, timeout: float = 300, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """On a running stack: a SAR for the demo child known to two services, filed to a delivered pack.

    Files the request (received today), records identity evidence today, waits for gathering and
    redaction, approves, and returns (and prints) where the pack is.
    """
    from rightsflow.catalog import load_catalog
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.seed import shared_child_example
    from workflows.subject_access import ApproveInput, SubjectAccessRequest, VerifyInput

    settings = settings or load_settings()
    catalog = load_catalog(settings.catalog_dir)
    # A parent asks Lewisham for their child's records: only Lewisham's services are searched.
    council = "lewisham" if "lewisham" in catalog.controllers else catalog.default_controller
    services = catalog.services_of(council) if council else list(catalog.services)
    urls = {s: catalog[s].store.resolved_url(settings.home) for s in services}
    child = shared_child_example(urls)
    today = date.today()
    parent = {
        "kind": "parent",
        "name": "Sam Taylor",
        "email": "sam.taylor@example.org",
        "address": ["14 Brownhill Road", "London", "SE6 2AB"],
    }
    request_id = file_request(
        settings,
        SubjectIdentifiers.parse(nhs_number=child.nhs_number),
        today,
        "parent" if council else "self",
        services if council else None,
        controller=council,
        requester_details=parent if council else None,
    )
    echo(f"filed subject access request {request_id} (a child known to {len(child.services)} services)")

    async def go() -> Any:
        client = await temporal_client(settings)
        handle = client.get_workflow_handle_for(SubjectAccessRequest.run, workflow_id(request_id))
        await handle.execute_update(
            SubjectAccessRequest.verify,
            VerifyInput(
                identity_received=today.isoformat(),
                authority_received=today.isoformat() if council else None,
                parental_responsibility=True if council else None,
            ),
        )
        deadline = time.monotonic() + timeout
        while True:
            st = await handle.query(SubjectAccessRequest.status)
            if st.stage == "awaiting_review":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"request {request_id} still at stage {st.stage}")
            await asyncio.sleep(0.5)
        echo(
            f"gathered from {', '.join(s.service for s in st.services if s.state == 'gathered')}; "
            f"{st.redactions} third-party redaction(s); deadline {st.clock.deadline}"
        )
        await handle.execute_update(SubjectAccessRequest.approve, ApproveInput(decided_by="demo"))
        return await handle.result()

    result = asyncio.run(go())
    pack = result.pack
    echo(f"pack: s3://{settings.s3_bucket}/{pack.pack_key} (sha256 {pack.sha256[:16]}…)")
    echo(f"link (expires {pack.link_expires_at}): {pack.link}")
    echo(f"letters: rightsflow letters {request_id}")
    return {"request_id": request_id, "pack_key": pack.pack_key, "link": pack.link, "sha256": pack.sha256}


def demo() -> None:
    """File a SAR for a demo child known to two services and take it to a delivered pack."""
    settings, _ = settings_and_catalog()
    try:
        run_sar_demo(settings, echo=typer.echo)
    except (OSError, RuntimeError, TimeoutError, LookupError) as exc:
        fail(f"the demo did not complete: {type(exc).__name__}: {exc}", code=1)
