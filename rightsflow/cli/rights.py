"""Erasure, rectification, restriction and objection from the command line.

Each filing command records the request in the register and starts its workflow
(``erasure-<id>``, ``rectification-<id>``, ``restriction-<id>``, ``objection-<id>``,
``consent-withdrawal-<id>``); the DPO's
decisions are Temporal updates, so a refused one comes back as a clear message. Nothing personal
is printed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, TypeVar

import typer

from rightsflow.catalog import Catalog
from rightsflow.config import Settings, load_settings
from rightsflow.erasure import EXEMPTIONS, GROUNDS, RESTRICTION_REASONS
from rightsflow.register import Register

from .common import (
    actor,
    call,
    council,
    fail,
    operator,
    request_service,
    settings_and_catalog,
    temporal_call,
)
from .common import temporal_client as _client
from .parties import (
    ControllerOpt,
    Parties,
    RequesterAddressOpt,
    RequesterEmailOpt,
    RequesterNameOpt,
    RequesterOpt,
    resolve_parties,
)
from .sar import received_and_subject
from .search import DobOpt, NameOpt, NhsOpt, PostcodeOpt, UpnOpt

T = TypeVar("T")

RequestId = Annotated[str, typer.Argument(metavar="ID", help="The request id printed when it was filed.")]
Received = Annotated[str, typer.Option("--received", metavar="YYYY-MM-DD", help="Day the request arrived.")]
ByOpt = Annotated[str, typer.Option("--by", help="Who decides (recorded in the register).")]
ServiceOpt = Annotated[
    list[str] | None,
    typer.Option("--service", help="Only these services (default: every service of the council)."),
]
PREFIX = {
    "erasure": "erasure",
    "rectification": "rectification",
    "restriction": "restriction",
    "objection": "objection",
    "consent_withdrawal": "consent-withdrawal",
}


def workflow_id(request_type: str, request_id: str) -> str:
    return f"{PREFIX[request_type]}-{request_id}"


def _request_type(settings: Settings, request_id: str) -> str:
    try:
        kind = Register(settings).get_request(request_id).request_type
    except LookupError:
        fail(f"no request {request_id} in the register")
    if kind not in PREFIX:
        fail(f"request {request_id} is a {kind} request; use its own commands")
    return kind


def _workflow_class(kind: str) -> Any:
    """The workflow class behind a request type (for its updates and queries)."""
    from workflows.erasure import Erasure
    from workflows.objection import ConsentWithdrawal, Objection
    from workflows.rectification import Rectification
    from workflows.restriction import Restriction

    classes: dict[str, Any] = {
        "erasure": Erasure,
        "rectification": Rectification,
        "restriction": Restriction,
        "objection": Objection,
        "consent_withdrawal": ConsentWithdrawal,
    }
    return classes[kind]


def _run(settings: Settings, wid: str, action: Callable[[Any], Awaitable[T]]) -> T:
    async def go() -> T:
        client = await _client(settings)
        return await action(client.get_workflow_handle(wid))

    return temporal_call(settings, go, missing=f"no workflow {wid} (is the id right?)")


def _parties(
    catalog: Catalog,
    controller: str | None,
    requester: str,
    name: str | None,
    email: str | None,
    address: str | None,
    service: list[str] | None,
) -> tuple[Parties, list[str] | None]:
    """The council and requester, and the services the request reaches (only that council's)."""
    who = resolve_parties(catalog, controller, requester, name, email, address)
    if who.services is None:
        return who, service
    # A service not in the catalogue at all is left for the request service to name.
    known = {svc.service for svc in catalog}
    outside = [s for s in service or [] if s in known and s not in who.services]
    if outside:
        fail(f"--service {outside[0]} is not one of the services of controller {who.controller}")
    return who, service or who.services


def _common(ids: Any, day: date, who: Parties) -> dict[str, Any]:
    """What every filing passes to the request service: who acts, the subject, the day, and the
    council and requester the request is made to and by (sealed in the register for letters)."""
    return {
        "actor": operator(),
        "subject": ids,
        "received_on": day,
        "requester": who.requester,
        "controller": who.controller,
        "requester_details": who.details,
    }


def _filing(
    received: str,
    subject: tuple[str | None, str | None, str | None, str | None, str | None],
    parties: tuple[str | None, str, str | None, str | None, str | None],
    service: list[str] | None,
) -> tuple[Any, list[str] | None, dict[str, Any]]:
    """Check a filing command's input (one line and nothing written on a fault): the request
    service for these settings, the services the request reaches, and the common arguments."""
    day, ids = received_and_subject(received, *subject)
    settings, catalog = settings_and_catalog()
    code = council(settings, catalog, parties[0])
    who, services = _parties(catalog, code, *parties[1:], service)
    return request_service(settings, catalog), services, _common(ids, day, who)


def _filed(filing: Awaitable[Any]) -> str:
    """File through the request service; the new request's id."""
    return str(call(filing).request_id)


# -- filing ------------------------------------------------------------------------------------------


def erase(
    received: Received,
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    ground: Annotated[str, typer.Option("--ground", help="|".join(GROUNDS))] = "consent-withdrawn",
    service: ServiceOpt = None,
    controller: ControllerOpt = None,
    requester: RequesterOpt = "self",
    requester_name: RequesterNameOpt = None,
    requester_email: RequesterEmailOpt = None,
    requester_address: RequesterAddressOpt = None,
) -> None:
    """File an erasure request (Art 17); prints its request id."""
    svc, services, common = _filing(
        received,
        (nhs_number, upn, name, dob, postcode),
        (controller, requester, requester_name, requester_email, requester_address),
        service,
    )
    typer.echo(_filed(svc.file_erasure(ground=ground, services=services, **common)))


def restrict(
    received: Received,
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="|".join(RESTRICTION_REASONS))] = "accuracy",
    notice_days: Annotated[int, typer.Option("--notice-days", help="Wait between telling and lifting.")] = 14,
    service: ServiceOpt = None,
    controller: ControllerOpt = None,
    requester: RequesterOpt = "self",
    requester_name: RequesterNameOpt = None,
    requester_email: RequesterEmailOpt = None,
    requester_address: RequesterAddressOpt = None,
) -> None:
    """Restrict processing of the subject's records in every service that holds them (Art 18)."""
    svc, services, common = _filing(
        received,
        (nhs_number, upn, name, dob, postcode),
        (controller, requester, requester_name, requester_email, requester_address),
        service,
    )
    filing = svc.file_restriction(reason=reason, notice_days=notice_days, services=services, **common)
    typer.echo(_filed(filing))


def object_(
    received: Received,
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    service: ServiceOpt = None,
    controller: ControllerOpt = None,
    requester: RequesterOpt = "self",
    requester_name: RequesterNameOpt = None,
    requester_email: RequesterEmailOpt = None,
    requester_address: RequesterAddressOpt = None,
    notice_days: Annotated[
        int, typer.Option("--notice-days", help="Wait between telling the person and lifting.")
    ] = 14,
) -> None:
    """File an objection (Art 21): consent-based services stop; the others are restricted while weighed.

    In a consent-based service the consent is recorded as withdrawn and processing is restricted;
    erasure is offered. Elsewhere the DPO decides per service: ``decide ID --service S --uphold
    --reason TEXT`` (stays stopped; erasure offered) or ``--override`` (compelling legitimate
    grounds: the person is told, then the restriction is lifted after the wait).
    """
    svc, services, common = _filing(
        received,
        (nhs_number, upn, name, dob, postcode),
        (controller, requester, requester_name, requester_email, requester_address),
        service,
    )
    filing = svc.file_objection(services=services, notice_days=notice_days, **common)
    typer.echo(_filed(filing))


def withdraw_consent(
    received: Received,
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="Only these consent-based services (default: every one)."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the outcome and print it.")] = False,
    controller: ControllerOpt = None,
    requester: RequesterOpt = "self",
    requester_name: RequesterNameOpt = None,
    requester_email: RequesterEmailOpt = None,
    requester_address: RequesterAddressOpt = None,
) -> None:
    """Record a withdrawal of consent (Art 7(3)) in the consent-based services; sharing stops.

    A withdrawal date already recorded is kept. Erasure is offered; the command prints how to file it.
    """
    from rightsflow.objection import erasure_hint
    from workflows.objection import ConsentWithdrawal

    day, ids = received_and_subject(received, nhs_number, upn, name, dob, postcode)
    settings, catalog = settings_and_catalog()
    consent_based = [svc.service for svc in catalog if svc.lawful_basis.consent_based]
    code = council(settings, catalog, controller)
    who, _ = _parties(catalog, code, requester, requester_name, requester_email, requester_address, service)
    # Only consent-based services have a consent to withdraw: of the council's, those.
    if service is None and who.services is not None:
        consent_based = [s for s in consent_based if s in who.services]
        if not consent_based:
            fail(f"controller {who.controller} has no consent-based service: there is no consent to withdraw")
    chosen = service or (consent_based if who.services is not None else None)
    request_id = _filed(
        request_service(settings, catalog).file_consent_withdrawal(services=chosen, **_common(ids, day, who))
    )
    services = sorted(set(service or consent_based))
    typer.echo(request_id)
    hint = erasure_hint(day.isoformat(), services, "consent-withdrawn")
    if wait:
        wid = workflow_id("consent_withdrawal", request_id)

        async def outcome(h: Any) -> Any:
            await h.result()
            return await h.query(ConsentWithdrawal.status)

        result = _run(settings, wid, outcome)
        for s in result.services:
            new, kept = result.withdrawn.get(s, 0), result.already.get(s, 0)
            typer.echo(f"{s:40} consents withdrawn now {new}, already withdrawn {kept} (their date kept)")
        if not result.erasure_offered:
            typer.echo("no consent recorded for the subject: nothing to erase on this ground")
            return
        hint = result.erasure_hint or hint
    typer.echo("erasure offered (UK GDPR Art 17(1)(b)); to file it:")
    typer.echo(f"  {hint}")


def rectify(
    received: Received,
    field: Annotated[
        str,
        typer.Option(
            "--field",
            help="Identity (date_of_birth, nhs_number, upn, postcode) "
            "or data category (user.name.last, user.contact.phone_number).",
        ),
    ],
    value: Annotated[str, typer.Option("--value", help="The corrected value.")],
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    service: ServiceOpt = None,
    controller: ControllerOpt = None,
    requester: RequesterOpt = "self",
    requester_name: RequesterNameOpt = None,
    requester_email: RequesterEmailOpt = None,
    requester_address: RequesterAddressOpt = None,
) -> None:
    """File a rectification (Art 16): restricted while checked, then corrected or a statement attached."""
    svc, services, common = _filing(
        received,
        (nhs_number, upn, name, dob, postcode),
        (controller, requester, requester_name, requester_email, requester_address),
        service,
    )
    filing = svc.file_rectification(field=field, value=value, services=services, **common)
    typer.echo(_filed(filing))


# -- decisions ---------------------------------------------------------------------------------------


def decide(
    request_id: RequestId,
    erase_in: Annotated[
        list[str] | None, typer.Option("--erase", metavar="SERVICE", help="Erase in SERVICE.")
    ] = None,
    refuse: Annotated[
        list[str] | None,
        typer.Option(
            "--refuse",
            metavar="SERVICE=EXEMPTION",
            help=f"Refuse in SERVICE; EXEMPTION one of {', '.join(EXEMPTIONS)}.",
        ),
    ] = None,
    confirm_proposals: Annotated[
        bool, typer.Option("--confirm-proposals", help="Take every other proposal.")
    ] = False,
    accept: Annotated[
        bool | None, typer.Option("--accept/--decline", help="Rectification: accept or decline.")
    ] = None,
    statement: Annotated[
        str, typer.Option("--statement", help="Declined rectification: the person's statement.")
    ] = "",
    reason: Annotated[str, typer.Option("--reason", help="The reasons (recorded; told to the person).")] = "",
    no_notice: Annotated[
        list[str] | None,
        typer.Option(
            "--no-notice",
            metavar="SERVICE/RECIPIENT=REASON",
            help="Art 19 notice not sent: impossible or disproportionate.",
        ),
    ] = None,
    confirm_match: Annotated[list[str] | None, typer.Option("--confirm-match", metavar="SERVICE/KEY")] = None,
    reject_match: Annotated[list[str] | None, typer.Option("--reject-match", metavar="SERVICE/KEY")] = None,
    uphold: Annotated[
        bool | None,
        typer.Option(
            "--uphold/--override",
            help="Objection: uphold it in each --service (stops), or override it (compelling grounds).",
        ),
    ] = None,
    service: Annotated[
        list[str] | None, typer.Option("--service", help="Objection: the services this decision is for.")
    ] = None,
    by: ByOpt = "dpo",
) -> None:
    """The DPO's decisions: per service for an erasure or an objection, accept/decline for a
    rectification, matches."""
    if uphold is not None and not service:
        fail("--uphold/--override needs the --service it is for")
    if uphold is not None and not reason.strip():
        fail("--uphold/--override needs the --reason told to the person")
    settings = load_settings()
    kind = _request_type(settings, request_id)
    svc, who = request_service(settings), actor(by)
    if confirm_match or reject_match:
        call(
            svc.confirm_matches(
                request_id, actor=who, confirm=confirm_match or (), reject=reject_match or ()
            )
        )
        typer.echo("match decisions recorded")
    if kind == "erasure" and (erase_in or refuse or confirm_proposals or no_notice):
        refusals = dict(item.partition("=")[::2] for item in refuse or [])
        exceptions = []
        for item in no_notice or []:
            where, _, why = item.partition("=")
            place, _, recipient = where.partition("/")
            exceptions.append((place, recipient, why))
        views = call(
            svc.decide_erasure(
                request_id,
                actor=who,
                erase=erase_in or (),
                refuse={k: v or None for k, v in refusals.items()},
                confirm_proposals=confirm_proposals,
                no_notice=exceptions,
                reason=reason,
            )
        )
        for v in views:
            typer.echo(f"{v.service:40} {v.decision or 'undecided':10} {v.exemption or ''}")
    elif kind == "objection" and uphold is not None:
        objection_views = call(
            svc.decide_objection(
                request_id, actor=who, services=service or (), uphold=uphold, reason=reason
            )
        )
        for ov in objection_views:
            typer.echo(f"{ov.service:40} {ov.state:12} {ov.decision or ''}")
    elif kind == "rectification" and accept is not None:
        typer.echo(
            call(
                svc.decide_rectification(
                    request_id, actor=who, accept=accept, reason=reason, statement=statement
                )
            )
        )
    elif not (confirm_match or reject_match):
        fail("nothing to decide: see --help")


def lift(
    request_id: RequestId,
    reason: Annotated[str, typer.Option("--reason", help="Why (told to the person before it is lifted).")],
    by: ByOpt = "dpo",
) -> None:
    """Lift a restriction (or end an objection): the person is told, then after the wait it is lifted."""
    typer.echo(call(request_service().lift(request_id, actor=actor(by), reason=reason)))


def shorten(
    request_id: RequestId,
    days: Annotated[int, typer.Option("--days", help="The new wait after the person was told (0: now).")],
    by: ByOpt = "dpo",
) -> None:
    """Shorten the wait between telling the person and lifting the restriction."""
    typer.echo(call(request_service().shorten(request_id, actor=actor(by), days=days)))


def rights_status(request_id: RequestId, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The live state of an erasure, rectification, restriction, objection or consent withdrawal."""
    settings = load_settings()
    kind = _request_type(settings, request_id)
    wf = _workflow_class(kind)
    st = _run(settings, workflow_id(kind, request_id), lambda h: h.query(wf.status))
    out = asdict(st)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        typer.echo(f"{k:14} {v}")
