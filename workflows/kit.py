"""The steps every rights workflow shares: stage recording, discovery with match confirmation,
letters, certificates, Article 19 notices and the wait before a restriction is lifted.

Workflows call activities by name (the names the worker registers), so no workflow imports an
activity module: the sandbox sees only the contracts (standard-library dataclasses) and the clock.
Only opaque references cross Temporal.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import LONDON, compute_deadline
    from rightsflow.contracts.attention import (
        ACTIONS,
        ERROR_TYPES,
        NEEDS_ATTENTION,
        Attention,
        ResolveInput,
    )
    from rightsflow.contracts.correspondence import LetterSent, SendLetterInput
    from rightsflow.contracts.discovery import (
        EXACT,
        ConfirmInput,
        DiscoverInService,
        ServiceMatches,
        ServiceMatchState,
    )
    from rightsflow.contracts.restriction import ShortenInput
    from rightsflow.contracts.rights import CertificateInput, LetterInput, Notice, NoticesInput
    from rightsflow.contracts.subject_access import MatchDecisionInput, RecordInput

QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
STORE = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5))
# Letters are sent through the council's mail relay: a relay that is down is retried for longer.
MAIL = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
SHORT = timedelta(seconds=20)  # register writes and lookups: a killed worker's is retried within the minute
# The acknowledgement every rights request gets first (erasure, rectification, restriction,
# objection, consent withdrawal, portability): a request filed before it existed replays without it.
ACKNOWLEDGEMENT = "rights-acknowledgement"
LONG = timedelta(minutes=10)
# Long activities heartbeat every few seconds (activities/heartbeat.py): a worker that dies mid-activity
# is noticed after this long and the activity runs again on a live worker.
HEARTBEAT = timedelta(seconds=20)  # four missed beats (one every 5 s): a dead worker is noticed fast


def today() -> date:
    return workflow.now().astimezone(LONDON).date()


def deadline_for(received_on: str) -> str:
    dl = compute_deadline(date.fromisoformat(received_on))
    return dl.deadline.isoformat() if dl.deadline else ""


# -- errors retrying cannot fix: the request waits for the DPO -------------------------------------


def attention_reason(err: BaseException) -> str | None:
    """The reason code of an activity failure retrying cannot fix, else None (an outage)."""
    cause = err.cause if isinstance(err, ActivityError) else None
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return ERROR_TYPES.get(cause.type or "", "activity_failed")
    return None


class NeedsAttention:
    """A request that stays open and queryable when a step fails in a way retrying cannot fix:
    the register shows it as needing attention (a reason code), and the ``resolve`` update retries
    the step (once the catalogue or store is corrected) or closes the request."""

    _inp: Any
    _attention: Attention | None = None
    _attention_times: int = 0
    _resolved: int = 0
    _resolution: ResolveInput | None = None

    async def _attend(self, step: str, reason: str) -> None:
        """Wait for the DPO; return to retry the step, raise if the DPO closes the request. Parallel
        steps failing together share one wait."""
        if self._attention is None:
            self._attention_times += 1
            self._attention = Attention(
                reason=reason, step=step, since=workflow.now().isoformat(), times=self._attention_times
            )
            workflow.logger.warning("request needs attention: %s at %s", reason, step)
            await record(
                self._inp.request_id,
                f"attention:{self._attention_times}",
                "request.needs_attention",
                {"reason": reason, "step": step},
                status=NEEDS_ATTENTION,
                attention=reason,
            )
        wanted = self._attention_times
        await workflow.wait_condition(lambda: self._resolved >= wanted)
        assert self._resolution is not None
        if self._resolution.action == "close":
            raise ApplicationError(
                f"closed by the DPO while needing attention ({reason})",
                type="ClosedNeedingAttention",
                non_retryable=True,
            )

    @workflow.update
    async def resolve(self, inp: ResolveInput) -> str:
        assert self._attention is not None
        n, reason = self._attention_times, self._attention.reason
        closing = inp.action == "close"
        await record(
            self._inp.request_id,
            f"attention:{n}:{inp.action}",
            "request.closed_needing_attention" if closing else "request.retried",
            {"reason": reason, "step": self._attention.step},
            actor=inp.decided_by,
            status="closed" if closing else "open",
            stage="closed_unresolved" if closing else None,
            attention=reason if closing else "",
        )
        if closing:
            self._stage = "closed_unresolved"
        self._resolution = inp
        self._attention = None
        self._resolved = n
        return "closed" if closing else "retrying"

    @resolve.validator
    def _validate_resolve(self, inp: ResolveInput) -> None:
        if self._attention is None:
            raise ValueError("the request does not need attention: nothing to retry or close")
        if inp.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")


async def act(name: str, *args: Any, **options: Any) -> Any:
    """Run activity ``name``; an error retrying cannot fix waits for the DPO (``NeedsAttention``),
    then the activity runs again (or the request closes)."""
    service = getattr(args[0], "service", None) if args else None
    step = f"{name}:{service}" if service else name
    while True:
        try:
            return await workflow.execute_activity(name, *args, **options)
        except ActivityError as err:
            reason = attention_reason(err)
            owner = workflow.instance()
            if reason is None or not hasattr(owner, "_attend"):
                raise
            await owner._attend(step, reason)


async def record(
    request_id: str, key: str, action: str, detail: dict[str, Any] | None = None, **extra: Any
) -> None:
    """Audit entry and request fields in the register."""
    await workflow.execute_activity(
        "record_event",
        RecordInput(request_id=request_id, key=key, action=action, detail=detail or {}, **extra),
        start_to_close_timeout=SHORT,
        retry_policy=QUICK,
    )


async def list_services(retry_policy: RetryPolicy | None = None) -> list[str]:
    return await act(
        "list_services", start_to_close_timeout=SHORT, retry_policy=retry_policy, result_type=list[str]
    )


async def discover_one(request_id: str, subject_ref: str, service: str, **options: Any) -> ServiceMatches:
    """One service's matches (exact and candidate store keys), by the discovery activity."""
    options.setdefault("heartbeat_timeout", HEARTBEAT)
    return await act(
        "discover_in_service",
        DiscoverInService(request_id=request_id, subject_ref=subject_ref, service=service),
        result_type=ServiceMatches,
        **options,
    )


async def confirm_matches(request_id: str, confirmed: list[str]) -> None:
    await act(
        "confirm_matches",
        MatchDecisionInput(request_id=request_id, confirmed=confirmed),
        heartbeat_timeout=HEARTBEAT,
        start_to_close_timeout=SHORT,
        retry_policy=QUICK,
    )


async def discover(
    request_id: str,
    subject_ref: str,
    services: list[str] | None,
    states: dict[str, ServiceMatchState],
    decisions: dict[str, bool],
) -> None:
    """Find the subject in every service; candidates wait for a DPO decision in ``decisions``."""
    names = services or await list_services()
    for s in names:
        states[s] = ServiceMatchState(service=s)

    async def one(service: str) -> None:
        st = states[service]
        found = await discover_one(
            request_id,
            subject_ref,
            service,
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=timedelta(days=1),
            retry_policy=STORE,
            activity_id=f"discover-{service}",
        )
        st.keys = [m.record_key for m in found.matches if m.strength == EXACT]
        st.candidates = [f"{service}/{m.record_key}" for m in found.matches if m.strength != EXACT]
        if st.candidates:
            st.state = "awaiting_confirmation"
            await workflow.wait_condition(lambda: all(c in decisions for c in st.candidates))
            confirmed = [c for c in st.candidates if decisions[c]]
            if confirmed:
                await confirm_matches(request_id, confirmed)
            st.keys += [c.partition("/")[2] for c in confirmed]
        st.state = "found" if st.keys else "not_found"

    await asyncio.gather(*(one(s) for s in names))


def validate_confirm(inp: ConfirmInput, states: dict[str, ServiceMatchState]) -> None:
    known = {c for s in states.values() for c in s.candidates}
    if not inp.confirm and not inp.reject:
        raise ValueError("give candidates to confirm or reject")
    for ref in [*inp.confirm, *inp.reject]:
        if ref not in known:
            raise ValueError(f"{ref} is not a candidate match awaiting confirmation")


async def notices(inp: NoticesInput) -> list[Notice]:
    """Article 19 notices to every recipient in one service's sharing log."""
    return await act(
        "send_notices",
        inp,
        heartbeat_timeout=HEARTBEAT,
        start_to_close_timeout=LONG,
        retry_policy=QUICK,
        result_type=list[Notice],
    )


async def letter(inp: LetterInput) -> str:
    return await act(
        "write_rights_letter",
        inp,
        start_to_close_timeout=timedelta(minutes=5),
        heartbeat_timeout=HEARTBEAT,
        retry_policy=QUICK,
        result_type=str,
    )


async def send_letter(
    request_id: str, kind: str, facts: dict[str, Any], *, discriminator: str = ""
) -> LetterSent:
    """A letter from the request's council to the requester: rendered, stored, then emailed or
    queued for the print batch (activity ``send_letter``)."""
    return await act(
        "send_letter",
        SendLetterInput(request_id=request_id, kind=kind, facts=facts, discriminator=discriminator),
        start_to_close_timeout=timedelta(minutes=5),
        heartbeat_timeout=HEARTBEAT,
        retry_policy=MAIL,
        result_type=LetterSent,
    )


async def acknowledge(
    request_id: str, received_on: str, services: list[str] | None, asked: dict[str, Any]
) -> None:
    """Tell the requester their request arrived: the day received, what they asked (``asked``:
    codes and labels, never a value), the statutory deadline and the council's DPO. The first step
    of every rights workflow; behind the ``rights-acknowledgement`` patch so recorded histories
    of requests filed before it replay unchanged."""
    if not workflow.patched(ACKNOWLEDGEMENT):
        return
    facts = {"deadline": deadline_for(received_on), "services": list(services or []), "asked": asked}
    await send_letter(request_id, "acknowledgement", facts)


async def certificate(inp: CertificateInput) -> str:
    return await act(
        "write_rights_certificate",
        inp,
        start_to_close_timeout=timedelta(minutes=5),
        heartbeat_timeout=HEARTBEAT,
        retry_policy=QUICK,
        result_type=str,
    )


class RequestStages(NeedsAttention):
    """A rights workflow's stage: kept for its status query and recorded in the register as
    ``<action>.<stage>`` (once per stage). A subclass sets ``_action`` and holds ``_inp``."""

    _action: ClassVar[str]
    _inp: Any
    _stage: str

    async def _to(self, stage: str, **extra: Any) -> None:
        self._stage = stage
        await record(
            self._inp.request_id, f"stage:{stage}", f"{self._action}.{stage}", {}, stage=stage, **extra
        )


class ConfirmsMatches(RequestStages):
    """A rights workflow whose candidate matches the DPO confirms or rejects (the ``confirm`` update)."""

    _matches: dict[str, ServiceMatchState]
    _match_decisions: dict[str, bool]

    @workflow.update
    def confirm(self, inp: ConfirmInput) -> None:
        for ref in inp.confirm:
            self._match_decisions[ref] = True
        for ref in inp.reject:
            self._match_decisions[ref] = False

    @confirm.validator
    def _validate_confirm(self, inp: ConfirmInput) -> None:
        validate_confirm(inp, self._matches)


class LiftsAfterTelling(ConfirmsMatches):
    """A workflow that tells the person before lifting a restriction, then waits ``_wait_days``
    (the ``shorten`` update cuts the wait once they have been told)."""

    _wait_days: int
    _told_at: Any

    @workflow.update
    def shorten(self, inp: ShortenInput) -> str:
        self._wait_days = inp.days
        return f"lifting {inp.days} day(s) after the person was told"

    @shorten.validator
    def _validate_shorten(self, inp: ShortenInput) -> None:
        if self._stage != "lift_notified":
            raise ValueError("the wait can be shortened once the person has been told of the lifting")
        if not 0 <= inp.days < self._wait_days:
            raise ValueError(f"the new wait must be shorter than {self._wait_days} day(s)")

    async def _wait_before_lifting(self) -> None:
        """The person has been told: wait ``_wait_days`` from then; ``shorten`` restarts the wait."""
        self._told_at = workflow.now()
        await self._to("lift_notified")
        while True:
            version = self._wait_days
            remaining = self._told_at + timedelta(days=self._wait_days) - workflow.now()
            if remaining <= timedelta(0):
                return
            try:
                await workflow.wait_condition(lambda v=version: self._wait_days != v, timeout=remaining)
            except TimeoutError:
                return

    def _lift_on(self) -> str | None:
        if self._told_at is None:
            return None
        return (self._told_at + timedelta(days=self._wait_days)).date().isoformat()
