"""One request service behind every filing and every decision, for the CLI and the console alike.

Filing a request is always the same four steps: check the input (nothing is written if a check
fails), register the subject (sealed identifiers, keyed-hash index), create the request in the
register, start its workflow. A decision is an update to the request's workflow. Views read the
register (the list of open requests) and the workflow (one request's live status).

Interface (every method is async, every method takes ``actor``: who acts, recorded in the audit
log, e.g. ``cli:<os user>`` or ``console:<signed-in user>``)::

    service = RequestService(settings, catalog=None, client=None)   # connects lazily
    async with RequestService(settings) as service: ...              # or this; close() at the end

    # filing: each returns Filed(request_id, workflow_id, subject_ref)
    await service.file_sar(actor=, subject=, received_on=, requester="self", services=None,
                           controller=None, requester_details=None)
    await service.file_erasure(actor=, subject=, received_on=, ground="consent-withdrawn", services=None, ...)
    await service.file_rectification(actor=, subject=, received_on=, field=, value=, services=None, ...)
    await service.file_restriction(actor=, subject=, received_on=, reason="accuracy", notice_days=14,
                                   services=None, ...)
    await service.file_objection(actor=, subject=, received_on=, services=None, notice_days=14, ...)
    await service.file_consent_withdrawal(actor=, subject=, received_on=, services=None, ...)
    await service.file(actor=, request_type=, subject=, received_on=, workflow=<Workflow.run>,
                       make_input=lambda request_id, subject_ref: <input>, workflow_id_prefix=,
                       requester="self", controller=None, requester_details=None)   # any other kind
    await service.search(actor=, subject=) -> SearchOutcome          # SubjectSearch, to the end

    ``subject`` is a SubjectIdentifiers or a dict of nhs_number / upn / name / dob / postcode (text,
    as typed); ``received_on`` a date or "YYYY-MM-DD" (from 2000-01-01 to today); ``services`` a
    list of catalogued service ids of the request's council (None: all the council's services).
    ``controller`` is the council's code; None: the catalogue's only council, else the setting
    RIGHTSFLOW_DEFAULT_CONTROLLER, else the filing is refused (Refused, nothing written).

    # decisions of a subject access request (each returns the workflow's answer)
    await service.verify(request_id, actor=, identity_received=None, authority_received=None,
                         fee_received=None, parental_responsibility=None, child_competent=None,
                         confirm_matches=(), reject_matches=()) -> ClockView
    await service.extend(request_id, actor=, reason=) -> ClockView
    await service.clarify(request_id, actor=, asked=None, answered=None) -> ClockView
    await service.review(request_id, actor=, release=(), withhold=(), basis="third-party") -> RedactResult
    await service.approve(request_id, actor=) ; await service.reject(request_id, actor=, exemption=)
    # decisions of erasure, rectification, restriction, objection, consent withdrawal
    await service.confirm_matches(request_id, actor=, confirm=(), reject=())
    await service.decide_erasure(request_id, actor=, erase=(), refuse={service: exemption},
                                 confirm_proposals=False, no_notice=[(service, recipient, reason)],
                                 reason="") -> list[ServiceView]
    await service.decide_objection(request_id, actor=, services=, uphold=, reason=) -> list[...]
    await service.decide_rectification(request_id, actor=, accept=, reason="", statement="") -> str
    await service.lift(request_id, actor=, reason=) -> str
    await service.shorten(request_id, actor=, days=) -> str
    await service.resolve(request_id, actor=, action="retry"|"close", note="") -> str   # needs attention
    await service.outcome(request_id, actor=)      # waits for the workflow's end; its final status

    # views
    await service.list_requests(actor=) -> list[dict]    # open requests, soonest deadline first
    await service.status(request_id, actor=) -> dict     # one request, JSON-ready
    await service.redactions(request_id, actor=) -> list[dict]   # SAR under review (shows the text)
    await service.request_type(request_id, actor=) -> str

Errors are ``RequestError`` subclasses, each with a one-line ``message`` that names no identifier:
``Refused`` (bad input, or the workflow refused the decision: nothing written), ``NotFound``,
``Unavailable`` (Temporal or the archive cannot be reached; says what to do), ``KeysMissing``
(production keys not provided; says which and how). ``exit_code`` is what the CLI exits with.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, TypeVar

from .catalog import Catalog, load_catalog
from .config import Settings
from .identity import SubjectIdentifiers
from .nhs import InvalidIdentifier
from .request_checks import (
    REQUESTERS,
    check_controller,
    check_notice_days,
    check_received,
    check_services,
    parse_day,
    sar_options,
    scope_services,
    validate_rectification,
)
from .request_decisions import RequestDecisions
from .request_errors import KeysMissing, NotFound, Refused, RequestError, Unavailable  # noqa: F401
from .request_moves import FilesMoves

UPDATE_ATTEMPTS = 3  # tries of one decision's update before Temporal is said to be unavailable
T = TypeVar("T")

PREFIX = {
    "subject_access": "sar",
    "subject_search": "subject-search",
    "erasure": "erasure",
    "rectification": "rectification",
    "restriction": "restriction",
    "objection": "objection",
    "consent_withdrawal": "consent-withdrawal",
}


@dataclass(frozen=True)
class Filed:
    request_id: str
    workflow_id: str
    subject_ref: str
    handle: Any = field(default=None, compare=False, repr=False)  # the started workflow's handle


@dataclass(frozen=True)
class SearchOutcome:
    request_id: str
    subject_ref: str
    services: list[dict[str, Any]]  # [{"service": id, "matches": [{"record_key", "strength", ...}]}]


def workflow_id(request_type: str, request_id: str) -> str:
    return f"{PREFIX[request_type]}-{request_id}"


def _workflow_class(kind: str) -> Any:
    from workflows.erasure import Erasure
    from workflows.objection import ConsentWithdrawal, Objection
    from workflows.rectification import Rectification
    from workflows.restriction import Restriction
    from workflows.subject_access import SubjectAccessRequest

    return {
        "subject_access": SubjectAccessRequest,
        "erasure": Erasure,
        "rectification": Rectification,
        "restriction": Restriction,
        "objection": Objection,
        "consent_withdrawal": ConsentWithdrawal,
    }[kind]


def _subject(subject: SubjectIdentifiers | Mapping[str, Any]) -> SubjectIdentifiers:
    if isinstance(subject, SubjectIdentifiers):
        return subject
    try:
        return SubjectIdentifiers.parse(
            nhs_number=subject.get("nhs_number") or None,
            upn=subject.get("upn") or None,
            name=subject.get("name") or None,
            dob=subject.get("dob") or subject.get("date_of_birth") or None,
            postcode=subject.get("postcode") or None,
            today=date.today(),
        )
    except InvalidIdentifier as exc:
        raise Refused(str(exc)) from None


def _key_error(exc: Exception) -> RequestError | None:
    from .keys import KeyMaterialError

    if isinstance(exc, KeyMaterialError):
        return KeysMissing(str(exc))
    return None


class RequestService(RequestDecisions, FilesMoves):
    """Files requests and passes decisions to their workflows; see the module docstring."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, *, client: Any = None) -> None:
        self.settings = settings
        self._catalog = catalog
        self._client = client
        self._register: Any = None

    async def __aenter__(self) -> RequestService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Forget the client and register handle (the CLI's runner then shuts Temporal's runtime)."""
        self._client = None
        self._register = None

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.settings.catalog_dir)
        return self._catalog

    def register(self) -> Any:
        if self._register is None:
            from .register import Register

            try:
                register = Register(self.settings)
                register.create_schema()
            except Exception as exc:  # noqa: BLE001 - keys first, then an unreachable database
                raise _key_error(exc) or Unavailable(
                    f"the register ({self.settings.register_url.split(':', 1)[0]}) cannot be opened "
                    f"({type(exc).__name__}); check RIGHTSFLOW_REGISTER_URL and that its database runs"
                ) from None
            self._register = register
        return self._register

    async def client(self) -> Any:
        if self._client is None:
            from .codec import connect_client

            try:
                self._client = await connect_client(self.settings)
            except Exception as exc:  # noqa: BLE001 - every way a connection fails names the address
                raise _key_error(exc) or Unavailable(
                    f"cannot reach Temporal at {self.settings.temporal_address} ({type(exc).__name__}): "
                    "start it (rightsflow up) or set TEMPORAL_ADDRESS"
                ) from None
        return self._client

    def _request(self, request_id: str) -> Any:
        try:
            return self.register().get_request(request_id)
        except LookupError:
            raise NotFound(f"no request {request_id} in the register (is the id right?)") from None

    async def request_type(self, request_id: str, *, actor: str = "") -> str:
        return str(self._request(request_id).request_type)

    async def _call(self, request_id: str, action: Callable[[Any, Any], Awaitable[T]], *kinds: str) -> T:
        """``action(handle, workflow class)`` on the request's workflow; refusals become Refused."""
        from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
        from temporalio.service import RPCError

        req = self._request(request_id)
        kind = req.request_type
        if kinds and kind not in kinds:
            raise Refused(f"request {request_id} is a {kind.replace('_', ' ')} request: use its own commands")
        client = await self.client()
        wid = req.workflow_id or workflow_id(kind, request_id)
        try:
            return await action(client.get_workflow_handle(wid), _workflow_class(kind))
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise Refused(f"refused: {getattr(cause, 'message', None) or cause or exc}") from None
        except RPCTimeoutOrCancelledError:
            # The server took the call but did not answer in time (an update waits for a busy
            # worker): unavailable, so ``_update`` sends it again under the same id.
            raise Unavailable(
                f"Temporal at {self.settings.temporal_address} did not answer in time; "
                "the decision may still be applied: look at the request before deciding again"
            ) from None
        except RPCError as exc:
            if "not found" in str(exc).lower():
                raise NotFound(f"no workflow for request {request_id}: it was never started") from None
            raise Unavailable(
                f"Temporal at {self.settings.temporal_address} did not answer ({type(exc).__name__}); "
                "is the worker running (rightsflow worker)?"
            ) from None
        except Exception as exc:  # noqa: BLE001 - a missing key, or the connection dropped
            key = _key_error(exc)
            if key or not isinstance(exc, (OSError, RuntimeError)):
                raise key or exc from None
            raise Unavailable(
                f"cannot reach Temporal at {self.settings.temporal_address} ({type(exc).__name__})"
            ) from None

    async def _update(self, request_id: str, name: str, arg: Any, *kinds: str) -> Any:
        # One id for this decision, sent again while Temporal does not answer in time (a worker
        # busy with a thousand requests): the same update, so it is applied once. A later,
        # identical decision is a new update with an id of its own.
        update_id = f"{name}-{uuid.uuid4().hex}"
        for attempt in range(UPDATE_ATTEMPTS):
            try:
                return await self._call(
                    request_id, lambda h, wf: h.execute_update(getattr(wf, name), arg, id=update_id), *kinds
                )
            except Unavailable:
                if attempt == UPDATE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    # -- filing --------------------------------------------------------------------------------
    async def file(
        self,
        *,
        actor: str,
        request_type: str,
        subject: SubjectIdentifiers | Mapping[str, Any],
        received_on: date | str | None,
        workflow: Any,
        make_input: Callable[[str, str], Any],
        workflow_id_prefix: str | None = None,
        requester: str = "self",
        controller: str | None = None,
        requester_details: dict[str, object] | None = None,
        id_prefix: str | None = None,
    ) -> Filed:
        """Register the subject, create the request, start ``workflow`` with ``make_input(id, ref)``.

        The generic entry point (transfers and portability file through it). Temporal is reached
        first, so nothing is recorded when it is away; a workflow that cannot start marks the
        request failed.
        """
        controller = self._controller(controller)
        ids = _subject(subject)
        day = check_received(received_on) if received_on is not None else None
        if requester not in REQUESTERS:
            raise Refused(f"the requester must be one of {', '.join(REQUESTERS)}")
        client = await self.client()  # connect first: nothing is recorded if Temporal is away
        register = self.register()
        from .register import new_ref
        try:
            ref = register.register_subject(ids)
            req = register.create_request(
                request_type,
                ref,
                received_on=day,
                requester=requester,
                actor=actor,
                controller=controller,
                requester_details=requester_details,
                request_id=new_ref(id_prefix) if id_prefix else None,
            )
        except Exception as exc:  # noqa: BLE001
            raise _key_error(exc) or exc from None
        prefix = workflow_id_prefix or PREFIX.get(request_type, request_type.replace("_", "-"))
        wid = f"{prefix}-{req.request_id}"
        register.update_request(req.request_id, workflow_id=wid)
        try:
            handle = await client.start_workflow(
                workflow, make_input(req.request_id, ref), id=wid, task_queue=self.settings.task_queue
            )
        except Exception as exc:  # noqa: BLE001 - recorded, then said plainly
            register.update_request(req.request_id, status="closed", stage="not_started")
            raise _key_error(exc) or Unavailable(
                f"request {req.request_id} was recorded but its workflow could not start "
                f"({type(exc).__name__}); Temporal at {self.settings.temporal_address} must be running"
            ) from None
        return Filed(request_id=req.request_id, workflow_id=wid, subject_ref=ref, handle=handle)

    def _controller(self, code: str | None) -> str:
        """The council the request is made to (refused, nothing written, when it cannot be told)."""
        return check_controller(self.catalog, code, self.settings.default_controller)

    def _services(self, services: Iterable[str] | None, controller: str | None = None) -> list[str]:
        """The catalogued services named, within the council's reach; none named: all the council's."""
        named = check_services(self.catalog, services)
        return scope_services(self.catalog, self._controller(controller), named)

    def _scoped(self, services: Iterable[str] | None, common: dict[str, Any]) -> list[str]:
        """Resolve the council into ``common`` (what ``file`` records) and the services it reaches."""
        common["controller"] = self._controller(common.get("controller"))
        return self._services(services, common["controller"])

    async def file_sar(
        self,
        *,
        actor: str,
        subject: SubjectIdentifiers | Mapping[str, Any],
        received_on: date | str,
        requester: str = "self",
        services: Iterable[str] | None = None,
        controller: str | None = None,
        requester_details: dict[str, object] | None = None,
    ) -> Filed:
        from rightsflow.contracts.subject_access import SarInput
        from workflows.subject_access import SubjectAccessRequest

        controller = self._controller(controller)
        chosen = self._services(services, controller)
        day = check_received(received_on)
        options = sar_options()
        return await self.file(
            actor=actor,
            request_type="subject_access",
            subject=subject,
            received_on=day,
            requester=requester,
            controller=controller,
            requester_details=requester_details,
            workflow=SubjectAccessRequest.run,
            make_input=lambda rid, ref: SarInput(
                request_id=rid,
                subject_ref=ref,
                received_on=day.isoformat(),
                requester=requester,
                services=chosen,
                **options,
            ),
        )

    async def _file_right(
        self, kind: str, workflow: Any, make: Callable[[str, str, str], Any], **common: Any
    ) -> Filed:
        day = check_received(common.pop("received_on"))
        return await self.file(
            request_type=kind,
            received_on=day,
            workflow=workflow,
            make_input=lambda rid, ref: make(rid, ref, day.isoformat()),
            **common,
        )

    async def file_erasure(
        self, *, ground: str = "consent-withdrawn", services: Iterable[str] | None = None, **common: Any
    ) -> Filed:
        from rightsflow.contracts.erasure import ErasureInput
        from workflows.erasure import Erasure

        from .erasure import GROUNDS

        if ground not in GROUNDS:
            raise Refused(f"the ground must be one of {', '.join(GROUNDS)}")
        chosen = self._scoped(services, common)
        return await self._file_right(
            "erasure",
            Erasure.run,
            lambda rid, ref, day: ErasureInput(
                request_id=rid, subject_ref=ref, received_on=day, ground=ground, services=chosen
            ),
            **common,
        )

    async def file_restriction(
        self,
        *,
        reason: str = "accuracy",
        notice_days: int = 14,
        services: Iterable[str] | None = None,
        **common: Any,
    ) -> Filed:
        from rightsflow.contracts.restriction import RestrictionInput
        from workflows.restriction import Restriction

        from .erasure import RESTRICTION_REASONS

        if reason not in RESTRICTION_REASONS:
            raise Refused(f"the reason must be one of {', '.join(RESTRICTION_REASONS)}")
        check_notice_days(notice_days)
        chosen = self._scoped(services, common)
        return await self._file_right(
            "restriction",
            Restriction.run,
            lambda rid, ref, day: RestrictionInput(
                request_id=rid,
                subject_ref=ref,
                received_on=day,
                reason=reason,
                services=chosen,
                notice_days=notice_days,
            ),
            **common,
        )

    async def file_objection(
        self, *, services: Iterable[str] | None = None, notice_days: int = 14, **common: Any
    ) -> Filed:
        from rightsflow.contracts.objection import ObjectionInput
        from workflows.objection import Objection

        check_notice_days(notice_days)
        chosen = self._scoped(services, common)
        return await self._file_right(
            "objection",
            Objection.run,
            lambda rid, ref, day: ObjectionInput(
                request_id=rid, subject_ref=ref, received_on=day, services=chosen, notice_days=notice_days
            ),
            **common,
        )

    async def file_consent_withdrawal(self, *, services: Iterable[str] | None = None, **common: Any) -> Filed:
        from rightsflow.contracts.objection import ConsentWithdrawalInput
        from workflows.objection import ConsentWithdrawal

        named = list(services or [])
        chosen = self._scoped(named, common)
        consent_based = [s for s in chosen if self.catalog[s].lawful_basis.consent_based]
        if named:
            for s in chosen:
                if s not in consent_based:
                    raise Refused(
                        f"{s} is not consent-based: there is no consent to withdraw (file an objection)"
                    )
        picked = sorted(set(consent_based))
        if not picked:
            raise Refused(
                f"controller {common['controller']} has no consent-based service: there is no consent "
                "to withdraw"
            )
        return await self._file_right(
            "consent_withdrawal",
            ConsentWithdrawal.run,
            lambda rid, ref, day: ConsentWithdrawalInput(
                request_id=rid, subject_ref=ref, received_on=day, services=picked
            ),
            **common,
        )

    async def file_rectification(
        self, *, field: str, value: str, services: Iterable[str] | None = None, **common: Any
    ) -> Filed:
        from rightsflow.contracts.rectification import RectificationInput
        from workflows.rectification import Rectification

        chosen = self._scoped(services, common)
        value = validate_rectification(self.catalog, field, value, chosen)
        return await self._file_right(
            "rectification",
            Rectification.run,
            lambda rid, ref, day: RectificationInput(
                request_id=rid, subject_ref=ref, received_on=day, field=field, value=value, services=chosen
            ),
            **common,
        )

    async def search(self, *, actor: str, subject: SubjectIdentifiers | Mapping[str, Any]) -> SearchOutcome:
        """Find the subject in every store (the SubjectSearch workflow, waited for)."""
        from rightsflow.contracts.discovery import SubjectSearchInput
        from workflows.subject_search import SubjectSearch

        ids = _subject(subject)
        client = await self.client()
        register = self.register()
        ref = register.register_subject(ids)
        req = register.create_request("subject_search", ref, received_on=date.today(), actor=actor)
        wid = workflow_id("subject_search", req.request_id)
        register.update_request(req.request_id, workflow_id=wid, stage="searching")
        try:
            result = await client.execute_workflow(
                SubjectSearch.run,
                SubjectSearchInput(request_id=req.request_id, subject_ref=ref),
                id=wid,
                task_queue=self.settings.task_queue,
            )
        except Exception as exc:  # noqa: BLE001 - a search that did not finish is closed as failed
            register.update_request(req.request_id, stage="failed", status="closed")
            raise _key_error(exc) or Unavailable(
                f"search {req.request_id} did not complete ({type(exc).__name__}): Temporal at "
                f"{self.settings.temporal_address} must be running, with a worker (rightsflow worker)"
            ) from None
        register.update_request(req.request_id, stage="searched", status="closed")
        services = [
            {"service": s.service, "matches": [asdict(m) for m in s.matches]} for s in result.services
        ]
        return SearchOutcome(request_id=req.request_id, subject_ref=ref, services=services)

    # -- views -------------------------------------------------------------------------------
    async def list_requests(self, *, actor: str = "") -> list[dict[str, Any]]:
        """Open rights requests, soonest statutory deadline first (those without one last)."""
        today = date.today()
        rows = [
            {
                "request_id": r.request_id,
                "type": r.request_type,
                "status": r.status,
                "stage": r.stage,
                "attention": getattr(r, "attention", None),
                "requester": r.requester,
                "controller": getattr(r, "controller", None),
                "received_on": r.received_on.isoformat() if r.received_on else None,
                "clock_start": r.clock_start.isoformat() if r.clock_start else None,
                "deadline": r.deadline.isoformat() if r.deadline else None,
                "days_left": (r.deadline - today).days if r.deadline else None,
            }
            for r in self.register().open_requests()
            if r.request_type != "subject_search"
        ]
        rows.sort(key=lambda r: (r["deadline"] is None, r["deadline"] or ""))
        return rows

    async def status(self, request_id: str, *, actor: str = "") -> dict[str, Any]:
        from .request_views import request_status

        return await request_status(self, self._request(request_id))

    async def redactions(self, request_id: str, *, actor: str = "") -> list[dict[str, Any]]:
        from .request_views import redacted_document

        return list((await redacted_document(self, request_id))["redactions"])

    async def _check_withheld_text_occurs(self, request_id: str, texts: list[str]) -> None:
        from .request_views import text_occurs_in_gathered

        missing = [
            i for i, t in enumerate(texts, 1) if not await text_occurs_in_gathered(self, request_id, t)
        ]
        if missing:
            which = "it" if len(texts) == 1 else "text " + ", ".join(str(i) for i in missing)
            raise Refused(
                f"{which} occurs in none of the records gathered for request {request_id}: check the "
                "spelling (nothing was added)"
            )


__all__ = [
    "Filed",
    "KeysMissing",
    "NotFound",
    "Refused",
    "RequestError",
    "RequestService",
    "SearchOutcome",
    "Unavailable",
    "parse_day",
    "sar_options",
    "workflow_id",
]
