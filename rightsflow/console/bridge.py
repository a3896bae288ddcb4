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

    # -- transfers ---------------------------------------------------------------------------------
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
