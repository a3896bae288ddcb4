"""The console's calls on subject access requests, through the same filing function and the same
workflow updates the command line uses (``rightsflow.cli.sar``), under the signed-in user.

Used when the installation has no ``rightsflow.request_service``; it holds no rule of its own: the
workflow's validators refuse what may not be done, and the refusal is shown to the user.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import date
from typing import Any

from rightsflow.config import Settings
from rightsflow.register import Register


class SarBridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None

    async def _handle(self, request_id: str) -> Any:
        from rightsflow.cli.sar import workflow_id
        from rightsflow.codec import connect_client

        if self._client is None:
            self._client = await connect_client(self.settings)
        return self._client.get_workflow_handle(workflow_id(request_id))

    async def _update(self, request_id: str, update: Any, arg: Any) -> Any:
        handle = await self._handle(request_id)
        return await handle.execute_update(update, arg)

    # -- reading ---------------------------------------------------------------------------------
    async def status(self, request_id: str) -> dict[str, Any] | None:
        from datetime import timedelta

        from workflows.subject_access import SubjectAccessRequest

        if Register(self.settings).get_request(request_id).request_type != "subject_access":
            return None
        handle = await self._handle(request_id)
        st = await handle.query(SubjectAccessRequest.status, rpc_timeout=timedelta(seconds=5))
        view = st.clock
        return {
            "stage": st.stage,
            "clock_started": view.clock_started,
            "clock_start": view.clock_start,
            "deadline": view.deadline,
            "extended": view.extended,
            "clock_state": view.state,
            "waiting_for": view.waiting_for,
            "days_left": st.days_left,
            "overdue": st.overdue,
            "pauses": view.pauses,
            "services": [{k: v for k, v in asdict(s).items() if k != "claim_key"} for s in st.services],
            "redactions": st.redactions,
            "released": st.released,
        }

    async def redactions(self, request_id: str) -> dict[str, Any]:
        """The redacted records and every redaction (with the withheld text, for the DPO only)."""
        from activities.subject_access import ClaimStore
        from rightsflow.s3 import opaque_key
        from workflows.subject_access import SubjectAccessRequest

        handle = await self._handle(request_id)
        st = await handle.query(SubjectAccessRequest.status)
        if st.stage != "awaiting_review":
            raise LookupError(f"the request is at stage {st.stage.replace('_', ' ')}, not redaction review")
        key = opaque_key("work", request_id, "redacted", f"v{st.review_version}.bin")
        return await asyncio.to_thread(ClaimStore(self.settings).get, key)

    # -- filing ----------------------------------------------------------------------------------
    async def file_sar(self, ids: Any, received: date, *, requester: str, actor: str) -> str:
        from rightsflow.cli.sar import file_request

        request_id = await asyncio.to_thread(file_request, self.settings, ids, received, requester)
        Register(self.settings).audit(
            f"{request_id}:console.filed",
            actor=actor,
            action="console.request.filed",
            request_id=request_id,
        )
        return request_id

    async def file_erasure(self, ids: Any, received: date, *, ground: str, actor: str) -> str:
        """An erasure request (Art 17), filed by the command line's own filing function."""
        from rightsflow.cli.rights import _file
        from workflows.erasure import Erasure, ErasureInput

        def make(rid: str, ref: str) -> Any:
            return ErasureInput(
                request_id=rid, subject_ref=ref, received_on=received.isoformat(), ground=ground
            )

        request_id = await asyncio.to_thread(_file, "erasure", ids, received, make, Erasure.run)
        Register(self.settings).audit(
            f"{request_id}:console.filed", actor=actor, action="console.request.filed", request_id=request_id
        )
        return request_id

    # -- decisions -------------------------------------------------------------------------------
    async def verify(self, request_id: str, *, actor: str, **dates: str | None) -> Any:
        from workflows.subject_access import SubjectAccessRequest, VerifyInput

        return await self._update(
            request_id, SubjectAccessRequest.verify, VerifyInput(**dates, decided_by=actor)
        )

    async def decide_matches(
        self, request_id: str, *, confirm: list[str], reject: list[str], actor: str
    ) -> Any:
        from workflows.subject_access import SubjectAccessRequest, VerifyInput

        inp = VerifyInput(confirm_matches=confirm, reject_matches=reject, decided_by=actor)
        return await self._update(request_id, SubjectAccessRequest.verify, inp)

    async def clarify(
        self, request_id: str, *, actor: str, asked: str | None = None, answered: str | None = None
    ) -> Any:
        from workflows.subject_access import ClarifyInput, SubjectAccessRequest

        view = await self._update(
            request_id, SubjectAccessRequest.clarify, ClarifyInput(asked=asked, answered=answered)
        )
        # The workflow's own entry has no user (its clarify update carries none): record who did it.
        which = "asked" if asked else "answered"
        Register(self.settings).audit(
            f"{request_id}:console.clarification_{which}:{asked or answered}",
            actor=actor,
            action=f"console.clarification_{which}",
            request_id=request_id,
            detail={which: asked or answered},
        )
        return view

    async def extend(self, request_id: str, *, reason: str, actor: str) -> Any:
        from workflows.subject_access import ExtendInput, SubjectAccessRequest

        return await self._update(
            request_id, SubjectAccessRequest.extend, ExtendInput(reason=reason, decided_by=actor)
        )

    async def review(
        self, request_id: str, *, release: list[str], add: list[tuple[str, str]], actor: str
    ) -> Any:
        from rightsflow.contracts.subject_access import AddedRedaction
        from workflows.subject_access import ReviewInput, SubjectAccessRequest

        inp = ReviewInput(
            release=release, add=[AddedRedaction(text=t, basis=b) for t, b in add], decided_by=actor
        )
        return await self._update(request_id, SubjectAccessRequest.review, inp)

    async def approve(self, request_id: str, *, actor: str) -> Any:
        from workflows.subject_access import ApproveInput, SubjectAccessRequest

        return await self._update(request_id, SubjectAccessRequest.approve, ApproveInput(decided_by=actor))

    async def reject(self, request_id: str, *, exemption: str, actor: str) -> Any:
        from workflows.subject_access import RejectInput, SubjectAccessRequest

        return await self._update(
            request_id, SubjectAccessRequest.reject, RejectInput(exemption=exemption, decided_by=actor)
        )

    # -- transfers and portability ---------------------------------------------------------------
    async def _transfer(self, request_id: str, update: str, arg: Any) -> Any:
        from activities.transfer import transfer_workflow_id
        from rightsflow.codec import connect_client

        if self._client is None:
            self._client = await connect_client(self.settings)
        handle = self._client.get_workflow_handle(transfer_workflow_id(request_id))
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
