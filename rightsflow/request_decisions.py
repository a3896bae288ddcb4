"""The decisions the request service passes to a request's workflow, as Temporal updates.

Mixed into :class:`rightsflow.request_service.RequestService` (see its module docstring for the
interface); kept apart so that filing and decisions each read in one sitting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .request_checks import check_received, check_services, check_text

RIGHTS = ("erasure", "rectification", "restriction", "objection", "consent_withdrawal")


class RequestDecisions:
    """Updates to a request's workflow; each takes ``actor`` (who decides, in the audit log)."""

    settings: Any
    catalog: Any
    register: Any
    _update: Any
    _call: Any
    request_type: Any

    # -- decisions of a subject access request ------------------------------------------------
    async def verify(
        self,
        request_id: str,
        *,
        actor: str,
        identity_received: date | str | None = None,
        authority_received: date | str | None = None,
        fee_received: date | str | None = None,
        parental_responsibility: bool | None = None,
        child_competent: bool | None = None,
        confirm_matches: Iterable[str] = (),
        reject_matches: Iterable[str] = (),
    ) -> Any:
        from rightsflow.contracts.subject_access import VerifyInput

        days = {
            what: check_received(value, what).isoformat() if value is not None else None
            for what, value in (
                ("the identity evidence date", identity_received),
                ("the authority evidence date", authority_received),
                ("the fee date", fee_received),
            )
        }
        inp = VerifyInput(
            identity_received=days["the identity evidence date"],
            authority_received=days["the authority evidence date"],
            fee_received=days["the fee date"],
            parental_responsibility=parental_responsibility,
            child_competent=child_competent,
            confirm_matches=list(confirm_matches),
            reject_matches=list(reject_matches),
            decided_by=actor,
        )
        return await self._update(request_id, "verify", inp, "subject_access")

    async def extend(self, request_id: str, *, actor: str, reason: str) -> Any:
        from rightsflow.contracts.subject_access import ExtendInput

        reason = check_text(reason, "the reason", required=True, limit=2000)
        return await self._update(
            request_id, "extend", ExtendInput(reason=reason, decided_by=actor), "subject_access"
        )

    async def clarify(
        self,
        request_id: str,
        *,
        actor: str,
        asked: date | str | None = None,
        answered: date | str | None = None,
    ) -> Any:
        from rightsflow.contracts.subject_access import ClarifyInput

        if (asked is None) == (answered is None):
            raise _refused("give either the day clarification was asked or the day it was answered")
        a = check_received(asked, "the day clarification was asked").isoformat() if asked else None
        b = check_received(answered, "the day the answer arrived").isoformat() if answered else None
        view = await self._update(request_id, "clarify", ClarifyInput(asked=a, answered=b), "subject_access")
        # The update carries no actor of its own: the register's audit log says who stopped the clock.
        self.register().audit(
            f"{request_id}:clarify:{'asked' if a else 'answered'}:{a or b}",
            actor=actor,
            action="subject_access.clarification_" + ("asked" if a else "answered"),
            request_id=request_id,
        )
        return view

    async def review(
        self,
        request_id: str,
        *,
        actor: str,
        release: Iterable[str] = (),
        withhold: Iterable[str] = (),
        basis: str = "third-party",
    ) -> Any:
        from rightsflow.contracts.subject_access import AddedRedaction, ReviewInput

        from .redaction import BASES

        if basis not in BASES:
            raise _refused(f"the basis must be one of {', '.join(BASES)}")
        texts = [check_text(t, "the text to withhold", required=True) for t in withhold]
        if texts:
            await self._check_withheld_text_occurs(request_id, texts)
        inp = ReviewInput(
            release=list(release),
            add=[AddedRedaction(text=t, basis=basis) for t in texts],
            decided_by=actor,
        )
        return await self._update(request_id, "review", inp, "subject_access")

    async def approve(self, request_id: str, *, actor: str) -> Any:
        from rightsflow.contracts.subject_access import ApproveInput

        return await self._update(request_id, "approve", ApproveInput(decided_by=actor), "subject_access")

    async def reject(self, request_id: str, *, actor: str, exemption: str) -> Any:
        from rightsflow.contracts.subject_access import RejectInput

        exemption = check_text(exemption, "the exemption", required=True, limit=500)
        return await self._update(
            request_id, "reject", RejectInput(exemption=exemption, decided_by=actor), "subject_access"
        )

    # -- decisions of the other rights -------------------------------------------------------
    async def confirm_matches(
        self, request_id: str, *, actor: str, confirm: Iterable[str] = (), reject: Iterable[str] = ()
    ) -> Any:
        from rightsflow.contracts.discovery import ConfirmInput

        inp = ConfirmInput(confirm=list(confirm), reject=list(reject), decided_by=actor)
        return await self._update(request_id, "confirm", inp, *RIGHTS)

    async def decide_erasure(
        self,
        request_id: str,
        *,
        actor: str,
        erase: Iterable[str] = (),
        refuse: Mapping[str, str | None] | None = None,
        confirm_proposals: bool = False,
        no_notice: Iterable[tuple[str, str, str]] = (),
        reason: str = "",
    ) -> Any:
        from rightsflow.contracts.erasure import DecideInput, ServiceDecision
        from rightsflow.contracts.rights import NoticeException

        from .erasure import EXEMPTIONS

        reason = check_text(reason, "the reason", limit=2000)
        decisions = [ServiceDecision(service=s, decision="erase", reason=reason) for s in erase]
        for svc, exemption in (refuse or {}).items():
            if exemption and exemption not in EXEMPTIONS:
                raise _refused(f"the exemption must be one of {', '.join(EXEMPTIONS)}")
            decisions.append(
                ServiceDecision(service=svc, decision="refuse", exemption=exemption or None, reason=reason)
            )
        check_services(self.catalog, [d.service for d in decisions])
        exceptions = [NoticeException(service=s, recipient=r, reason=why) for s, r, why in no_notice]
        inp = DecideInput(
            decisions=decisions,
            confirm_proposals=confirm_proposals,
            notice_exceptions=exceptions,
            decided_by=actor,
        )
        return await self._update(request_id, "decide", inp, "erasure")

    async def decide_objection(
        self, request_id: str, *, actor: str, services: Iterable[str], uphold: bool, reason: str
    ) -> Any:
        from rightsflow.contracts.objection import ObjectionDecideInput, ObjectionDecision

        chosen = check_services(self.catalog, services) or []
        if not chosen:
            raise _refused("an objection is decided per service: name the services")
        reason = check_text(reason, "the reason told to the person", required=True, limit=2000)
        decision = "uphold" if uphold else "override"
        inp = ObjectionDecideInput(
            decisions=[ObjectionDecision(service=s, decision=decision, reason=reason) for s in chosen],
            decided_by=actor,
        )
        return await self._update(request_id, "decide", inp, "objection")

    async def decide_rectification(
        self, request_id: str, *, actor: str, accept: bool, reason: str = "", statement: str = ""
    ) -> Any:
        from rightsflow.contracts.rectification import RectifyDecision

        inp = RectifyDecision(
            accept=accept,
            reason=check_text(reason, "the reason", limit=2000),
            statement=check_text(statement, "the statement", limit=5000),
            decided_by=actor,
        )
        return await self._update(request_id, "decide", inp, "rectification")

    async def lift(self, request_id: str, *, actor: str, reason: str) -> Any:
        from rightsflow.contracts.restriction import LiftInput

        kind = await self.request_type(request_id)
        if kind == "objection":
            raise _refused(
                "an objection is ended per service: decide it with --override for the service and a reason"
            )
        if kind != "restriction":
            raise _refused(
                f"request {request_id} is a {kind.replace('_', ' ')} request: there is no "
                "restriction to lift on its own"
            )
        reason = check_text(reason, "the reason", required=True, limit=2000)
        return await self._update(
            request_id, "lift", LiftInput(reason=reason, decided_by=actor), "restriction"
        )

    async def shorten(self, request_id: str, *, actor: str, days: int) -> Any:
        from rightsflow.contracts.restriction import ShortenInput

        kind = await self.request_type(request_id)
        if kind not in RIGHTS or not hasattr(_workflow_class(kind), "shorten"):
            raise _refused(
                f"request {request_id} is a {kind.replace('_', ' ')} request: "
                "there is no lifting wait to shorten"
            )
        if days < 0:
            raise _refused("the wait must be zero days (lift now) or more")
        return await self._update(request_id, "shorten", ShortenInput(days=days, decided_by=actor))

    async def resolve(self, request_id: str, *, actor: str, action: str = "retry", note: str = "") -> Any:
        """A request needing attention: retry the failed step, or close the request."""
        from rightsflow.contracts.attention import ResolveInput

        if action not in ("retry", "close"):
            raise _refused("the action must be retry or close")
        inp = ResolveInput(action=action, decided_by=actor, note=check_text(note, "the note", limit=2000))
        return await self._update(request_id, "resolve", inp)

    async def outcome(self, request_id: str, *, actor: str = "") -> Any:
        """Wait for the request's workflow to end; returns its final status."""

        async def wait(handle: Any, wf: Any) -> Any:
            await handle.result()
            return await handle.query(wf.status)

        return await self._call(request_id, wait)


def _refused(message: str) -> Exception:
    from .request_service import Refused

    return Refused(message)


def _workflow_class(kind: str) -> Any:
    from .request_service import _workflow_class as wf

    return wf(kind)
