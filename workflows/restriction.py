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
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

from workflows.erasure import (
    QUICK,
    STORE,
    ConfirmsMatches,
    ServiceMatchState,
    certificate,
    deadline_for,
    discover,
    letter,
    notices,
    record,
    today,
)

with workflow.unsafe.imports_passed_through():
    from activities.rights import (
        CertificateInput,
        LetterInput,
        Notice,
        NoticesInput,
        RestrictInput,
        RightsActivities,
    )
    from rightsflow.erasure import RESTRICTION_REASONS


@dataclass
class RestrictionInput:
    request_id: str
    subject_ref: str
    received_on: str
    reason: str = "accuracy"  # accuracy | unlawful | legal-claims | objection-pending
    services: list[str] | None = None
    notice_days: int = 14  # the wait between telling the person and lifting


@dataclass
class LiftInput:
    reason: str
    decided_by: str = "dpo"


@dataclass
class ShortenInput:
    days: int  # the new wait from the day the person was told (0: lift now)
    decided_by: str = "dpo"


class LiftsAfterTelling(ConfirmsMatches):
    """A workflow that tells the person before lifting a restriction, then waits ``_wait_days``
    (the ``shorten`` update cuts the wait once they have been told)."""

    _wait_days: int

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


@dataclass
class RestrictionStatus:
    request_id: str
    stage: str
    reason: str
    deadline: str
    services: list[str]
    candidates: list[str]
    notices_sent: int
    lift_on: str | None


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
                workflow.execute_activity_method(
                    RightsActivities.set_restriction,
                    RestrictInput(self._inp.request_id, s, keys, restrict, on, self._inp.reason),
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=STORE,
                )
                for s, keys in found.items()
            )
        )
        kind = "restriction" if restrict else "restriction_lifted"
        for s, keys in found.items():
            self._notices += await notices(NoticesInput(self._inp.request_id, s, keys, kind, on))

    @workflow.run
    async def run(self, inp: RestrictionInput) -> str:
        deadline = deadline_for(inp.received_on)
        await self._to("discovering", clock_start=inp.received_on, deadline=deadline)
        await discover(inp.request_id, inp.subject_ref, inp.services, self._matches, self._match_decisions)
        found = {s: m.keys for s, m in self._matches.items() if m.keys}
        await self._set(found, True)
        services = sorted(found)
        await letter(
            LetterInput(
                inp.request_id,
                inp.subject_ref,
                "restriction_letter.html.j2",
                "restricted",
                {"services": services, "reason": inp.reason, "lifting": False},
            )
        )
        await certificate(
            CertificateInput(
                inp.request_id,
                "restriction",
                "restricted",
                {
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
                inp.request_id,
                inp.subject_ref,
                "restriction_letter.html.j2",
                "lift-notice",
                {
                    "services": services,
                    "reason": self._lift.reason,
                    "lifting": True,
                    "notice_days": self._wait_days,
                },
            )
        )
        self._told_at = workflow.now()
        await self._to("lift_notified")
        while True:
            version = self._wait_days
            remaining = self._told_at + timedelta(days=self._wait_days) - workflow.now()
            if remaining <= timedelta(0):
                break
            try:
                await workflow.wait_condition(lambda v=version: self._wait_days != v, timeout=remaining)
            except TimeoutError:
                break
        await self._set(found, False)
        await certificate(
            CertificateInput(
                inp.request_id,
                "restriction",
                "lifted",
                {
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
        lift_on = None
        if self._told_at is not None:
            lift_on = (self._told_at + timedelta(days=self._wait_days)).date().isoformat()
        return RestrictionStatus(
            self._inp.request_id,
            self._stage,
            self._inp.reason,
            deadline_for(self._inp.received_on),
            sorted(s for s, m in self._matches.items() if m.keys),
            [c for m in self._matches.values() for c in m.candidates],
            sum(n.sent for n in self._notices),
            lift_on,
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


__all__ = ["QUICK", "LiftInput", "Restriction", "RestrictionInput", "ShortenInput", "check_reason"]
