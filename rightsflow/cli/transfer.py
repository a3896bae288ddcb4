"""Inter-authority transfers from the command line: start, approve or refuse, and see both sides.

``rightsflow transfer --family REF --from SERVICE --to AUTHORITY`` (or identifiers instead of
``--family``) records the transfer in the register and starts its PortabilityTransfer workflow
(id ``transfer-<transfer id>``); ``transfer-approve`` and ``transfer-refuse`` are the DPO's
decisions (Temporal updates, refused with a clear message where the validator says no);
``transfer-status`` shows the sender's stage and, where the receiving authority's intake runs on
the same Temporal namespace, the receiver's. Nothing personal is printed.

Settings (environment): RIGHTSFLOW_TRANSFER_ACK_WORKING_DAYS (15), RIGHTSFLOW_TRANSFER_LOCK_DAYS
(35), RIGHTSFLOW_TRANSFER_REMOVE_AFTER_DAYS (90), RIGHTSFLOW_TRANSFER_ACK_POLL_HOURS (24: how often
the workflow looks for an acknowledgement left in S3), RIGHTSFLOW_INTAKE_QUEUE_<AUTHORITY> (the
receiving authority's intake task queue; default ``rightsflow-intake-<authority>``).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict
from typing import Annotated, Any

import typer

from rightsflow.catalog import Catalog
from rightsflow.config import Settings
from rightsflow.identity import SubjectIdentifiers
from rightsflow.request_moves import REASONS, family_identifiers, intake_queue_for  # noqa: F401
from rightsflow.transfer_exchange import intake_task_queue, intake_workflow_id, transfer_workflow_id  # noqa: F401

from .common import fail, operator, settings_and_catalog, temporal_call, temporal_client
from .search import DobOpt, NameOpt, NhsOpt, PostcodeOpt, UpnOpt, parse_identifiers

_AUTHORITY = re.compile(r"^[a-z][a-z0-9_-]{1,40}$")

TransferId = Annotated[
    str, typer.Argument(metavar="ID", help="The transfer id printed by `rightsflow transfer`.")
]


async def start_transfer(
    client: Any,
    settings: Settings,
    catalog: Catalog,
    *,
    service: str,
    to_authority: str,
    family_ref: str | None = None,
    ids: SubjectIdentifiers | None = None,
    reason: str = "moved-area",
    to_task_queue: str | None = None,
    **options: Any,
) -> tuple[str, Any]:
    """File the transfer through the request service and start its workflow; returns the
    transfer id and the workflow handle. A refusal (nothing recorded) is a ValueError."""
    from rightsflow.request_service import RequestError, RequestService

    service_ = RequestService(settings, catalog, client=client)
    try:
        filed = await service_.file_transfer(
            actor=operator(),
            subject=ids,
            received_on=None,
            service=service,
            to_authority=to_authority,
            family_ref=family_ref,
            reason=reason,
            to_task_queue=to_task_queue,
            **options,
        )
    except RequestError as exc:
        raise ValueError(exc.message) from None
    return filed.request_id, filed.handle


def _run(settings: Settings, call: Any) -> Any:
    return temporal_call(settings, call, missing="no workflow for that transfer (is the id right?)")


# -- commands ----------------------------------------------------------------------------------------


def transfer(
    from_service: Annotated[str, typer.Option("--from", help="The sending service (catalogue id).")],
    to_authority: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="The receiving authority's code, e.g. camden. Without it, --reason portability sends "
            "the person their own records (see `rightsflow portability`).",
        ),
    ] = None,
    family: Annotated[
        str | None,
        typer.Option("--family", help="The family's reference in the sending store (household/case)."),
    ] = None,
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    name: NameOpt = None,
    dob: DobOpt = None,
    postcode: PostcodeOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="moved-area or portability.")] = "moved-area",
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Approve as the DPO filing it (refused, with the reason, where members are restricted "
            "or consent was withdrawn: use transfer-approve --override-basis), then wait for the "
            "receiving authority's acknowledgement and print what it imported.",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds --wait waits for the acknowledgement.")
    ] = 300,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with --wait: the outcome).")] = False,
) -> None:
    """Transfer a family's records to another authority (with --reason portability and no --to: a
    person their own records); prints the id."""
    if reason not in REASONS:
        fail(f"--reason must be one of {', '.join(REASONS)}")  # before anything is read
    if to_authority is None:
        if reason != "portability":
            fail("--to is required (the receiving authority), except with --reason portability")
        if family is not None:
            fail("portability to the person takes the requester's --nhs-number or --upn, not --family")
        from .portability import start_from_command

        if nhs_number is None and upn is None:
            fail("give the requester's --nhs-number or --upn (portability needs an exact identifier)")
        ids = parse_identifiers(nhs_number, upn, name, dob, postcode)
        typer.echo(start_from_command(from_service, ids, None))
        return
    if not _AUTHORITY.match(to_authority):
        fail("--to must be an authority code (lower case letters, digits, '-' or '_')")
    given = any(v is not None for v in (nhs_number, upn, name, dob, postcode))
    if (family is None) == (not given):
        fail("give either --family or a family member's identifiers (--nhs-number, --upn, --name/--dob)")
    ids = parse_identifiers(nhs_number, upn, name, dob, postcode) if given else None
    settings, catalog = settings_and_catalog()
    if from_service not in catalog.ids:
        fail(f"--from: no service {from_service!r} in the catalogue ({', '.join(catalog.ids)})")

    async def go() -> str:
        client = await temporal_client(settings)  # connect first: nothing is recorded if Temporal is away
        transfer_id, _ = await start_transfer(
            client,
            settings,
            catalog,
            service=from_service,
            to_authority=to_authority,
            family_ref=family,
            ids=ids,
            reason=reason,
        )
        return transfer_id

    try:
        transfer_id = _run(settings, go)
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    if not wait:
        typer.echo(json.dumps({"transfer_id": transfer_id}) if as_json else transfer_id)
        return

    async def approve_and_wait() -> dict[str, Any]:
        return await wait_for_acknowledgement(await temporal_client(settings), transfer_id, timeout)

    outcome = _run(settings, approve_and_wait)
    if as_json:
        typer.echo(json.dumps(outcome, indent=2))
    else:
        typer.echo(f"transfer     {transfer_id}")
        typer.echo(f"status       {outcome['status']}")
        for what, n in outcome["imported"].items():
            typer.echo(f"imported     {n} {what}")
        for item in outcome["not_placed"]:
            typer.echo(f"not placed   {item['items']} x {item['label']} (filed as: {item['filed_as']})")
    if outcome["status"] != "acknowledged":
        raise typer.Exit(1)


_ACKNOWLEDGED = ("handed_off", "awaiting_removal", "closed")


async def wait_for_acknowledgement(client: Any, transfer_id: str, timeout: float) -> dict[str, Any]:
    """Approve the transfer once its records are gathered, then wait for the receiver's written
    acknowledgement (or ``timeout`` seconds). Returns the outcome the command prints."""
    from workflows.portability_transfer import ApproveTransfer, PortabilityTransfer

    handle = client.get_workflow_handle(transfer_workflow_id(transfer_id))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    approved = False
    while True:
        st = await handle.query(PortabilityTransfer.status)
        if not approved and st.stage == "awaiting_approval":
            await handle.execute_update(PortabilityTransfer.approve, ApproveTransfer(decided_by="dpo"))
            approved = True
        if st.acknowledged_on or st.stage in _ACKNOWLEDGED or st.stage == "refused":
            break
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.5)
    status = "acknowledged" if st.acknowledged_on else st.stage
    if status != "acknowledged" and loop.time() > deadline:
        status = f"waiting ({st.stage})"
    return {
        "transfer_id": transfer_id,
        "status": status,
        "acknowledged_on": st.acknowledged_on,
        "imported": {
            "people (new)": st.people_new,
            "people (already known)": st.people_matched,
            **st.imported,
        },
        "not_placed": st.not_placed,
        "rejections": st.rejections,
    }


def transfer_approve(
    transfer_id: TransferId,
    by: Annotated[str, typer.Option("--by", help="Who approves (recorded in the register).")] = "dpo",
    override_basis: Annotated[
        str | None,
        typer.Option(
            "--override-basis", help="Basis for transferring restricted or withdrawn-consent records."
        ),
    ] = None,
) -> None:
    """Approve a transfer: the package is built and handed to the receiving authority."""
    from workflows.portability_transfer import ApproveTransfer, PortabilityTransfer

    settings, _ = settings_and_catalog()

    async def go() -> str:
        client = await temporal_client(settings)
        handle = client.get_workflow_handle(transfer_workflow_id(transfer_id))
        return await handle.execute_update(
            PortabilityTransfer.approve, ApproveTransfer(decided_by=by, override_basis=override_basis)
        )

    typer.echo(_run(settings, go))


def transfer_refuse(
    transfer_id: TransferId,
    reason: Annotated[str, typer.Option("--reason", help="Why the transfer is refused (recorded).")],
    by: Annotated[str, typer.Option("--by", help="Who refuses (recorded in the register).")] = "dpo",
) -> None:
    """Refuse a transfer: nothing is sent."""
    from workflows.portability_transfer import PortabilityTransfer, RefuseTransfer

    settings, _ = settings_and_catalog()

    async def go() -> str:
        client = await temporal_client(settings)
        handle = client.get_workflow_handle(transfer_workflow_id(transfer_id))
        return await handle.execute_update(
            PortabilityTransfer.refuse, RefuseTransfer(reason=reason, decided_by=by)
        )

    typer.echo(_run(settings, go))


async def both_sides(client: Any, transfer_id: str) -> dict[str, Any]:
    """The sender's status and, where reachable on this namespace, the receiver's intake status."""
    from temporalio.service import RPCError

    from workflows.portability_transfer import PortabilityTransfer
    from workflows.transfer_intake import TransferIntake

    sender = await client.get_workflow_handle(transfer_workflow_id(transfer_id)).query(
        PortabilityTransfer.status
    )
    out: dict[str, Any] = {"sender": asdict(sender), "receiver": None}
    handle = client.get_workflow_handle(intake_workflow_id(transfer_id))
    try:
        desc = await handle.describe()
        out["receiver"] = {"workflow_status": desc.status.name if desc.status else None}
        try:
            intake = await asyncio.wait_for(handle.query(TransferIntake.status), timeout=5)
            out["receiver"].update(asdict(intake))
        except (TimeoutError, RPCError):
            out["receiver"]["stage"] = "waiting for the receiving authority's worker"
    except RPCError:
        pass  # another deployment: the receiver's stage is theirs to see
    return out


def transfer_status(
    transfer_id: TransferId,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a transfer's stage on the sending side and, where visible, the receiving side."""
    settings, _ = settings_and_catalog()

    async def go() -> dict[str, Any]:
        return await both_sides(await temporal_client(settings), transfer_id)

    view = _run(settings, go)
    if as_json:
        typer.echo(json.dumps(view, indent=2, default=str))
        return
    s = view["sender"]
    typer.echo(f"transfer     {s['transfer_id']} ({s['reason']}) {s['service']} -> {s['to_authority']}")
    typer.echo(f"sender       {s['stage']}" + (" (escalated)" if s["escalated"] else ""))
    typer.echo(f"family       {s['members']} member(s), {s['records']} record(s)")
    checks = []
    if s["restricted"]:
        checks.append(f"{s['restricted']} restricted")
    if s["holds"]:
        checks.append("holds: " + ", ".join(s["holds"]))
    if s["consents_withdrawn"]:
        checks.append(f"{s['consents_withdrawn']} consent(s) withdrawn")
    if checks:
        typer.echo(f"checks       {'; '.join(checks)}")
    if s["acknowledge_by"]:
        typer.echo(
            f"acknowledge  by {s['acknowledge_by']}"
            + (f", acknowledged {s['acknowledged_on']}" if s["acknowledged_on"] else "")
        )
    typer.echo(
        f"deliveries   {s['deliveries']}" + (f", {len(s['rejections'])} rejected" if s["rejections"] else "")
    )
    r = view["receiver"]
    typer.echo(f"receiver     {r.get('stage') or r.get('workflow_status') if r else 'not visible from here'}")
