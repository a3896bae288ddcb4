"""Erasure, rectification, restriction and objection from the command line.

Each filing command records the request in the register and starts its workflow
(``erasure-<id>``, ``rectification-<id>``, ``restriction-<id>``, ``objection-<id>``); the DPO's
decisions are Temporal updates, so a refused one comes back as a clear message. Nothing personal
is printed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, TypeVar

import typer

from rightsflow.config import Settings, load_settings
from rightsflow.erasure import EXEMPTIONS, GROUNDS, RESTRICTION_REASONS
from rightsflow.register import Register

from .common import fail, settings_and_catalog
from .sar import _client, _parse_date
from .search import DobOpt, NameOpt, NhsOpt, PostcodeOpt, UpnOpt, parse_identifiers

T = TypeVar("T")

RequestId = Annotated[str, typer.Argument(metavar="ID", help="The request id printed when it was filed.")]
Received = Annotated[str, typer.Option("--received", metavar="YYYY-MM-DD", help="Day the request arrived.")]
ByOpt = Annotated[str, typer.Option("--by", help="Who decides (recorded in the register).")]
ServiceOpt = Annotated[
    list[str] | None, typer.Option("--service", help="Only these services (default: every service).")
]
PREFIX = {
    "erasure": "erasure",
    "rectification": "rectification",
    "restriction": "restriction",
    "objection": "objection",
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


def _run(settings: Settings, wid: str, action: Callable[[Any], Awaitable[T]]) -> T:
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    async def go() -> T:
        client = await _client(settings)
        return await action(client.get_workflow_handle(wid))

    try:
        return asyncio.run(go())
    except WorkflowUpdateFailedError as exc:
        fail(f"refused: {getattr(exc.cause, 'message', None) or exc.cause or exc}")
    except RPCError as exc:
        if "not found" in str(exc).lower():
            fail(f"no workflow {wid} (is the id right?)")
        fail(f"Temporal at {settings.temporal_address} did not answer ({type(exc).__name__})", code=1)
    except (OSError, RuntimeError) as exc:
        fail(f"cannot reach Temporal at {settings.temporal_address} ({type(exc).__name__})", code=1)


def _file(
    request_type: str, ids: Any, received: date, make_input: Callable[[str, str], Any], run: Any
) -> str:
    settings, _ = settings_and_catalog()

    async def go() -> str:
        client = await _client(settings)  # connect first: nothing is recorded if Temporal is away
        register = Register(settings)
        register.create_schema()
        ref = register.register_subject(ids)
        req = register.create_request(request_type, ref, received_on=received)
        wid = workflow_id(request_type, req.request_id)
        register.update_request(req.request_id, workflow_id=wid)
        await client.start_workflow(
            run, make_input(req.request_id, ref), id=wid, task_queue=settings.task_queue
        )
        return req.request_id

    try:
        return asyncio.run(go())
    except (OSError, RuntimeError) as exc:
        fail(
            f"cannot reach Temporal at {settings.temporal_address} ({type(exc).__name__}); nothing recorded",
            code=1,
        )


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
) -> None:
    """File an erasure request (Art 17); prints its request id."""
    from workflows.erasure import Erasure, ErasureInput

    if ground not in GROUNDS:
        fail(f"--ground must be one of {', '.join(GROUNDS)}")
    day = _parse_date(received, "--received", not_after=date.today())
    ids = parse_identifiers(nhs_number, upn, name, dob, postcode)
    typer.echo(
        _file(
            "erasure",
            ids,
            day,
            lambda rid, ref: ErasureInput(rid, ref, day.isoformat(), ground, service or None),
            Erasure.run,
        )
    )


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
) -> None:
    """Restrict processing of the subject's records in every service that holds them (Art 18)."""
    from workflows.restriction import Restriction, RestrictionInput

    if reason not in RESTRICTION_REASONS:
        fail(f"--reason must be one of {', '.join(RESTRICTION_REASONS)}")
    day = _parse_date(received, "--received", not_after=date.today())
    ids = parse_identifiers(nhs_number, upn, name, dob, postcode)
    typer.echo(
        _file(
            "restriction",
            ids,
            day,
            lambda rid, ref: RestrictionInput(
                rid, ref, day.isoformat(), reason, service or None, notice_days
            ),
            Restriction.run,
        )
    )


def object_(
    received: Received,
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    service: ServiceOpt = None,
) -> None:
    """File an objection (Art 21): processing is restricted everywhere while the DPO weighs it.

    The DPO ends it with ``lift --reason`` (compelling legitimate grounds override the objection)
    or files an erasure for the services where it is upheld.
    """
    from workflows.restriction import Restriction, RestrictionInput

    day = _parse_date(received, "--received", not_after=date.today())
    ids = parse_identifiers(nhs_number, upn, name, dob, postcode)
    typer.echo(
        _file(
            "objection",
            ids,
            day,
            lambda rid, ref: RestrictionInput(
                rid, ref, day.isoformat(), "objection-pending", service or None
            ),
            Restriction.run,
        )
    )


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
) -> None:
    """File a rectification (Art 16): restricted while checked, then corrected or a statement attached."""
    from rightsflow.erasure import rectifiable_fields
    from workflows.rectification import Rectification, RectificationInput

    day = _parse_date(received, "--received", not_after=date.today())
    ids = parse_identifiers(nhs_number, upn, name, dob, postcode)
    _, catalog = settings_and_catalog()
    try:
        if not any(rectifiable_fields(svc, field) for svc in catalog):
            fail(f"no service maps {field}")
    except ValueError as exc:
        fail(str(exc))
    typer.echo(
        _file(
            "rectification",
            ids,
            day,
            lambda rid, ref: RectificationInput(rid, ref, day.isoformat(), field, value, service or None),
            Rectification.run,
        )
    )


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
    by: ByOpt = "dpo",
) -> None:
    """The DPO's decisions: per service for an erasure, accept/decline for a rectification, matches."""
    from activities.rights import NoticeException
    from workflows.erasure import ConfirmInput, DecideInput, Erasure, ServiceDecision
    from workflows.rectification import Rectification, RectifyDecision
    from workflows.restriction import Restriction

    settings = load_settings()
    kind = _request_type(settings, request_id)
    wid = workflow_id(kind, request_id)
    wf = {"erasure": Erasure, "rectification": Rectification}.get(kind, Restriction)
    if confirm_match or reject_match:
        inp = ConfirmInput(list(confirm_match or []), list(reject_match or []), by)
        _run(settings, wid, lambda h: h.execute_update(wf.confirm, inp))
        typer.echo("match decisions recorded")
    if kind == "erasure" and (erase_in or refuse or confirm_proposals or no_notice):
        decisions = [ServiceDecision(s, "erase", None, reason) for s in erase_in or []]
        for item in refuse or []:
            svc, _, exemption = item.partition("=")
            decisions.append(ServiceDecision(svc, "refuse", exemption or None, reason))
        exceptions = []
        for item in no_notice or []:
            where, _, why = item.partition("=")
            svc, _, recipient = where.partition("/")
            exceptions.append(NoticeException(svc, recipient, why))
        views = _run(
            settings,
            wid,
            lambda h: h.execute_update(
                Erasure.decide, DecideInput(decisions, confirm_proposals, exceptions, by)
            ),
        )
        for v in views:
            typer.echo(f"{v.service:40} {v.decision or 'undecided':10} {v.exemption or ''}")
    elif kind == "rectification" and accept is not None:
        out = _run(
            settings,
            wid,
            lambda h: h.execute_update(Rectification.decide, RectifyDecision(accept, reason, statement, by)),
        )
        typer.echo(out)
    elif not (confirm_match or reject_match):
        fail("nothing to decide: see --help")


def lift(
    request_id: RequestId,
    reason: Annotated[str, typer.Option("--reason", help="Why (told to the person before it is lifted).")],
    by: ByOpt = "dpo",
) -> None:
    """Lift a restriction (or end an objection): the person is told, then after the wait it is lifted."""
    from workflows.restriction import LiftInput, Restriction

    settings = load_settings()
    wid = workflow_id(_request_type(settings, request_id), request_id)
    typer.echo(_run(settings, wid, lambda h: h.execute_update(Restriction.lift, LiftInput(reason, by))))


def shorten(
    request_id: RequestId,
    days: Annotated[int, typer.Option("--days", help="The new wait after the person was told (0: now).")],
    by: ByOpt = "dpo",
) -> None:
    """Shorten the wait between telling the person and lifting the restriction."""
    from workflows.restriction import Restriction, ShortenInput

    settings = load_settings()
    wid = workflow_id(_request_type(settings, request_id), request_id)
    typer.echo(_run(settings, wid, lambda h: h.execute_update(Restriction.shorten, ShortenInput(days, by))))


def rights_status(request_id: RequestId, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The live state of an erasure, rectification, restriction or objection request."""
    from workflows.erasure import Erasure
    from workflows.rectification import Rectification
    from workflows.restriction import Restriction

    settings = load_settings()
    kind = _request_type(settings, request_id)
    wf = {"erasure": Erasure, "rectification": Rectification}.get(kind, Restriction)
    st = _run(settings, workflow_id(kind, request_id), lambda h: h.query(wf.status))
    out = asdict(st)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        typer.echo(f"{k:14} {v}")
