"""The console's request service: the one the command line uses (``rightsflow.request_service``),
with the few views only the console needs. Filing and every decision go through RequestService
itself, under ``console:<signed-in user>``; no filing or decision rule lives here: the workflow's
validators refuse what may not be done, and the refusal is shown to the user.
"""

from __future__ import annotations

from typing import Any

from rightsflow.request_service import RequestService


def console_actor(username: str) -> str:
    """Who acts, as the audit log records it: the signed-in user, through the console."""
    return f"console:{username}"


class ConsoleService(RequestService):
    # -- reading ---------------------------------------------------------------------------------
    async def status(self, request_id: str, *, actor: str = "") -> dict[str, Any] | None:  # type: ignore[override]
        """A subject access request's live workflow view; None when only the register's view exists
        (another kind of request, or Temporal not answering), so the page shows the register's."""
        if await self.request_type(request_id) != "subject_access":
            return None
        view = await super().status(request_id, actor=actor)
        return view if view.get("live") else None

    async def rights_view(self, request_id: str, *, actor: str = "") -> dict[str, Any] | None:
        """An erasure's, rectification's, restriction's, objection's or consent withdrawal's live
        workflow view (stage, each service's state); None when Temporal does not answer."""
        if await self.request_type(request_id) == "subject_access":
            return None
        view = await super().status(request_id, actor=actor)
        return view if view.get("live") else None

    async def redactions(self, request_id: str, *, actor: str = "") -> dict[str, Any]:  # type: ignore[override]
        """The redacted records and every redaction (with the withheld text, for the DPO only)."""
        from rightsflow.request_views import redacted_document

        return await redacted_document(self, request_id)

    # -- transfers and portability ---------------------------------------------------------------
    async def file_portability(
        self,
        *,
        actor: str,
        subject: Any,
        received_on: Any,
        service: str,
        requester: str = "self",
        controller: str | None = None,
        requester_details: dict[str, object] | None = None,
    ) -> Any:
        """Article 20 to the person: a structured copy of one service's records, through the
        request service's general filing (so the register records who filed it, and for which
        council), with the workflow and options ``rightsflow portability`` uses."""
        from rightsflow.portability import art20_applies, art20_refusal
        from rightsflow.request_service import Refused, _subject
        from workflows.portability_person import PortabilityInput, PortabilityToPerson

        cat = self.catalog[service]
        if not art20_applies(cat):
            raise Refused(art20_refusal(cat))
        ids = _subject(subject)
        if not (ids.nhs_number or ids.upn):
            raise Refused("portability needs an exact identifier: the NHS number or the UPN")
        from rightsflow.cli.portability import portability_options
        from rightsflow.request_checks import check_received

        day = check_received(received_on)
        return await self.file(
            actor=actor,
            request_type="portability",
            subject=ids,
            received_on=day,
            requester=requester,
            controller=controller,
            requester_details=requester_details,
            workflow=PortabilityToPerson.run,
            workflow_id_prefix="portability",
            make_input=lambda rid, ref: PortabilityInput(
                request_id=rid,
                subject_ref=ref,
                service=service,
                received_on=day.isoformat(),
                **portability_options(),
            ),
        )

    async def file_transfer(
        self,
        *,
        actor: str,
        subject: Any,
        received_on: Any,
        service: str,
        to_authority: str,
        requester: str = "self",
        controller: str | None = None,
        requester_details: dict[str, object] | None = None,
    ) -> Any:
        """A family moving area: their records from one service to the receiving council, through
        the request service's general filing, with the workflow, intake queue and defaults
        ``rightsflow transfer`` uses. The family is found from the member named."""
        from rightsflow.cli.common import env_number
        from rightsflow.cli.transfer import intake_queue_for
        from rightsflow.request_checks import check_received
        from rightsflow.request_service import Refused, _subject
        from workflows.portability_transfer import PortabilityTransfer, TransferInput

        cat = self.catalog[service]
        if to_authority == cat.authority_code:
            raise Refused("the receiving authority is the sending one")
        if to_authority not in self.catalog.controllers:
            raise Refused("the receiving authority is not a council in the catalogue")
        ids = _subject(subject)
        day = check_received(received_on)
        options = {
            "ack_working_days": int(env_number("RIGHTSFLOW_TRANSFER_ACK_WORKING_DAYS", 15)),
            "lock_days": env_number("RIGHTSFLOW_TRANSFER_LOCK_DAYS", 35),
            "remove_after_days": env_number("RIGHTSFLOW_TRANSFER_REMOVE_AFTER_DAYS", 90),
            "ack_poll_hours": env_number("RIGHTSFLOW_TRANSFER_ACK_POLL_HOURS", 24),
        }
        return await self.file(
            actor=actor,
            request_type="transfer",
            subject=ids,
            received_on=day,
            requester=requester,
            controller=controller,
            requester_details=requester_details,
            workflow=PortabilityTransfer.run,
            workflow_id_prefix="transfer",
            make_input=lambda rid, ref: TransferInput(
                transfer_id=rid,
                subject_ref=ref,
                service=service,
                from_authority=cat.authority_code,
                to_authority=to_authority,
                to_task_queue=intake_queue_for(to_authority),
                reason="moved-area",
                **options,
            ),
        )

    async def _transfer(self, request_id: str, update: Any, arg: Any) -> Any:
        from rightsflow.transfer_exchange import transfer_workflow_id

        client = await self.client()
        handle = client.get_workflow_handle(transfer_workflow_id(request_id))
        return await handle.execute_update(update, arg)

    async def approve_transfer(self, request_id: str, *, actor: str) -> Any:
        from workflows.portability_transfer import ApproveTransfer, PortabilityTransfer

        return await self._transfer(
            request_id, PortabilityTransfer.approve, ApproveTransfer(decided_by=actor)
        )

    async def refuse_transfer(self, request_id: str, *, reason: str, actor: str) -> Any:
        from workflows.portability_transfer import PortabilityTransfer, RefuseTransfer

        return await self._transfer(
            request_id, PortabilityTransfer.refuse, RefuseTransfer(reason=reason, decided_by=actor)
        )
