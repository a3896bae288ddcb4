"""Restriction (Art 18): restrict the subject's records in every service, lift only after telling them.

Discover the subject, set the restricted field in every service that holds them (stored only:
sweeps, sharing and transfers skip restricted people), tell each recipient in the sharing logs
(Art 19), write the letter and a certificate, then wait. ``lift`` starts the lifting: the person is
told first (a letter), then a wait of ``notice_days`` that the DPO can shorten (``shorten``);
then the restriction is cleared, recipients are told, and a second certificate is written.

Workflow id ``restriction-<request id>``; opaque references only.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.kit import (
    HEARTBEAT,
    QUICK,
    STORE,
    LiftsAfterTelling,
    acknowledge,
    act,
    certificate,
    deadline_for,
    discover,
    letter,
    notices,
    record,
    today,
)

with workflow.unsafe.imports_passed_through():
    from rightsflow.contracts.discovery import ServiceMatchState
    from rightsflow.contracts.erasure import RESTRICTION_REASONS
    from rightsflow.contracts.restriction import LiftInput, RestrictionInput, RestrictionStatus, ShortenInput
    from rightsflow.contracts.rights import CertificateInput, LetterInput, Notice, NoticesInput, RestrictInput


@workflow.defn
class Restriction(LiftsAfterTelling):
    _action = "restriction"

    @workflow.init
    def __init__(self, inp: RestrictionInput) -> None:
        self._inp = inp
        self._stage = "filed"
        self._matches: dict[str, ServiceMatchState] = {}
        self._match_decisions: dict[str, bool] = {}
        self._lift: LiftInput | None = None
        self._wait_days = inp.notice_days
        self._told_at = None
        self._notices: list[Notice] = []

    async def _set(self, found: dict[str, list[str]], restrict: bool) -> None:
        on = today().isoformat()
        await asyncio.gather(
            *(
                act(
                    "set_restriction",
                    RestrictInput(
                        request_id=self._inp.request_id,
                        service=s,
                        record_keys=keys,
                        restrict=restrict,
                        on=on,
                        reason=self._inp.reason,
                    ),
                    heartbeat_timeout=HEARTBEAT,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=STORE,
                )
                for s, keys in found.items()
            )
        )
        kind = "restriction" if restrict else "restriction_lifted"
        for s, keys in found.items():
            self._notices += await notices(
                NoticesInput(request_id=self._inp.request_id, service=s, record_keys=keys, kind=kind, on=on)
            )

    @workflow.run
    async def run(self, inp: RestrictionInput) -> str:
        await acknowledge(inp.request_id, inp.received_on, inp.services, {"reason": inp.reason})
        deadline = deadline_for(inp.received_on)
        await self._to("discovering", clock_start=inp.received_on, deadline=deadline)
        await discover(inp.request_id, inp.subject_ref, inp.services, self._matches, self._match_decisions)
        found = {s: m.keys for s, m in self._matches.items() if m.keys}
        await self._set(found, True)
        services = sorted(found)
        await letter(
            LetterInput(
                request_id=inp.request_id,
                subject_ref=inp.subject_ref,
                template="restriction_letter.html.j2",
                name="restricted",
                context={"services": services, "reason": inp.reason, "lifting": False},
            )
        )
        await certificate(
            CertificateInput(
                request_id=inp.request_id,
                kind="restriction",
                name="restricted",
                body={
                    "reason": inp.reason,
                    "services": services,
                    "on": today().isoformat(),
                    "article19_sent": sum(n.sent for n in self._notices),
                },
            )
        )
        await self._to("restricted")
        await workflow.wait_condition(lambda: self._lift is not None)
        assert self._lift is not None
        # The person is told before the restriction is lifted (Art 18(3)).
        await letter(
            LetterInput(
                request_id=inp.request_id,
                subject_ref=inp.subject_ref,
                template="restriction_letter.html.j2",
                name="lift-notice",
                context={
                    "services": services,
                    "reason": self._lift.reason,
                    "lifting": True,
                    "notice_days": self._wait_days,
                },
            )
        )
        await self._wait_before_lifting()
        await self._set(found, False)
        await certificate(
            CertificateInput(
                request_id=inp.request_id,
                kind="restriction",
                name="lifted",
                body={
                    "services": services,
                    "on": today().isoformat(),
                    "told_person_first": True,
                    "wait_days": self._wait_days,
                },
            )
        )
        self._stage = "lifted"
        await record(
            inp.request_id,
            "stage:lifted",
            "restriction.lifted",
            {"services": services},
            stage="lifted",
            status="closed",
            actor=self._lift.decided_by,
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "lifted"

    @workflow.query
    def status(self) -> RestrictionStatus:
        return RestrictionStatus(
            request_id=self._inp.request_id,
            stage=self._stage,
            reason=self._inp.reason,
            deadline=deadline_for(self._inp.received_on),
            services=sorted(s for s, m in self._matches.items() if m.keys),
            candidates=[c for m in self._matches.values() for c in m.candidates],
            notices_sent=sum(n.sent for n in self._notices),
            lift_on=self._lift_on(),
            attention=self._attention,
        )

    @workflow.update
    def lift(self, inp: LiftInput) -> str:
        self._lift = inp
        return "the person will be told, then the restriction lifted"

    @lift.validator
    def _validate_lift(self, inp: LiftInput) -> None:
        if self._stage != "restricted":
            raise ValueError(f"nothing to lift yet (stage: {self._stage})")
        if not inp.reason.strip():
            raise ValueError("lifting a restriction needs the reasons the person will be told")


def check_reason(reason: str) -> None:
    if reason not in RESTRICTION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(RESTRICTION_REASONS)}")


__all__ = [
    "QUICK",
    "LiftInput",
    "LiftsAfterTelling",
    "Restriction",
    "RestrictionInput",
    "ShortenInput",
    "check_reason",
]
