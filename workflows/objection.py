"""Objection (Art 21) and consent withdrawal (Art 7(3)).

``Objection``: discover the subject; assess each service that holds them (the erasure activity,
reused: lawful basis, hold flags, the Art 17 proposal the DPO is offered). A consent-based service
with no hold flag *stops*: the withdrawal is recorded with the date the objection arrived in its
consents role, processing is restricted and erasure is offered. Every other service is restricted
while the DPO *weighs* the objection; the ``decide`` update takes ``uphold`` or ``override`` per
service with the reasons. Upheld: the processing stays stopped and erasure is offered. Overridden
(compelling legitimate grounds): the person is told first, then after ``notice_days`` (which the
DPO can ``shorten``) the restriction is lifted and the recipients are told (Art 19). Every decision
goes in the register with its Art 21(1) basis; letters and certificates as for the other rights.

``ConsentWithdrawal``: discover the subject in the consent-based services, record the withdrawal
date in each consents role (a date already there is kept), offer erasure and write to the person.
Sharing then stops: ``rightsflow.sharing.may_share`` refuses a subject whose consents are all
withdrawn.

Workflow ids ``objection-<request id>`` and ``consent-withdrawal-<request id>``; opaque
references only (the DPO's reasons travel inside the encrypted payload and reach only the letter).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

from workflows.kit import (
    HEARTBEAT,
    QUICK,
    SHORT,
    STORE,
    ConfirmsMatches,
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
    from rightsflow.contracts.erasure import COURT, ICO_COMPLAINT, AssessInput, Assessment
    from rightsflow.contracts.objection import (
        ConsentWithdrawalInput,
        ConsentWithdrawalResult,
        ConsentWithdrawalStatus,
        ObjectionDecideInput,
        ObjectionDecision,
        ObjectionInput,
        ObjectionResult,
        ObjectionServiceView,
        ObjectionStatus,
    )
    from rightsflow.contracts.rights import (
        CertificateInput,
        ConsentInput,
        ConsentResult,
        DecisionInput,
        LetterInput,
        Notice,
        NoticesInput,
        RestrictInput,
    )
    from rightsflow.objection import (
        BASIS_PENDING,
        BASIS_STOPPED,
        ERASURE_AFTER_OBJECTION,
        ERASURE_AFTER_WITHDRAWAL,
        check_objection_decision,
        decision_basis,
        erasure_hint,
        route,
    )


# -- shared steps ---------------------------------------------------------------------------------


async def _withdraw(request_id: str, service: str, keys: list[str], on: str) -> ConsentResult:
    return await act(
        "withdraw_consent",
        ConsentInput(request_id=request_id, service=service, record_keys=keys, withdrawn_on=on),
        heartbeat_timeout=HEARTBEAT,
        start_to_close_timeout=timedelta(minutes=2),
        retry_policy=STORE,
        result_type=ConsentResult,
    )


async def _restrict(request_id: str, service: str, keys: list[str], restrict: bool, reason: str) -> int:
    return await act(
        "set_restriction",
        RestrictInput(
            request_id=request_id,
            service=service,
            record_keys=keys,
            restrict=restrict,
            on=today().isoformat(),
            reason=reason,
        ),
        heartbeat_timeout=HEARTBEAT,
        start_to_close_timeout=timedelta(minutes=2),
        retry_policy=STORE,
        result_type=int,
    )


async def _offer_erasure(request_id: str, service: str, ground: str, basis: str) -> None:
    """The register records that erasure is offered; the DPO files it with ``rightsflow erase``."""
    await record(
        request_id,
        f"erasure-offered:{service}",
        "erasure.offered",
        {"service": service, "ground": ground},
        legal_basis=basis[:200],
    )


# -- objection ------------------------------------------------------------------------------------


@workflow.defn
class Objection(LiftsAfterTelling):
    _action = "objection"

    @workflow.init
    def __init__(self, inp: ObjectionInput) -> None:
        self._inp = inp
        self._stage = "filed"
        self._matches: dict[str, ServiceMatchState] = {}
        self._match_decisions: dict[str, bool] = {}
        self._assessed: dict[str, Assessment] = {}
        self._routes: dict[str, str] = {}
        self._consents: dict[str, ConsentResult] = {}
        self._decisions: dict[str, ObjectionDecision] = {}
        self._decided_by = "dpo"
        self._offered: list[str] = []
        self._lifted: list[str] = []
        self._notices: list[Notice] = []
        self._wait_days = inp.notice_days
        self._told_at = None

    def _route(self, r: str) -> list[str]:
        return sorted(s for s, x in self._routes.items() if x == r)

    async def _notify(self, found: dict[str, list[str]], services: list[str], kind: str) -> None:
        on = today().isoformat()
        for s in services:
            self._notices += await notices(
                NoticesInput(
                    request_id=self._inp.request_id, service=s, record_keys=found[s], kind=kind, on=on
                )
            )

    async def _decision(
        self, service: str, decision: str, by: str, basis: str, detail: dict[str, Any]
    ) -> None:
        await act(
            "record_decision",
            DecisionInput(
                request_id=self._inp.request_id,
                key=f"decision:{service}",
                decision=decision,
                decided_by=by,
                service=service,
                legal_basis=basis,
                detail=detail,
            ),
            start_to_close_timeout=SHORT,
            retry_policy=QUICK,
        )

    @workflow.run
    async def run(self, inp: ObjectionInput) -> ObjectionResult:
        rid = inp.request_id
        await acknowledge(rid, inp.received_on, inp.services, {})
        deadline = deadline_for(inp.received_on)
        await self._to("discovering", clock_start=inp.received_on, deadline=deadline)
        await discover(rid, inp.subject_ref, inp.services, self._matches, self._match_decisions)
        held = await self._assess({s: m.keys for s, m in self._matches.items() if m.keys})
        stopped, weighing = self._route("stop"), self._route("weigh")
        await self._restrict_all(held, stopped, weighing)
        letter_keys = [await self._tell_received(stopped, weighing)]
        upheld: list[str] = []
        overridden: list[str] = []
        if weighing:
            upheld, overridden = await self._weigh(weighing)
            # The person is told the outcome, and of any lifting, before anything is lifted (Art 18(3)).
            letter_keys.append(await self._tell_decided(upheld, overridden))
            if overridden:
                await self._lift(held, overridden)
        outcome = {"stopped": stopped, "upheld": upheld, "overridden": overridden}
        cert = await self._certify(held, outcome, deadline, letter_keys)
        self._stage = "completed"
        await record(
            rid,
            "stage:completed",
            "objection.completed",
            {**outcome, "erasure_offered": self._offered, "certificate_key": cert},
            stage="completed",
            status="closed",
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ObjectionResult(
            request_id=rid,
            stopped=stopped,
            upheld=upheld,
            overridden=overridden,
            erasure_offered=list(self._offered),
            notices_sent=sum(n.sent for n in self._notices),
            letter_keys=letter_keys,
            certificate_key=cert,
        )

    # -- the stages of run, in order (each keeps its commands in the order recorded histories hold) --

    async def _assess(self, found: dict[str, list[str]]) -> dict[str, list[str]]:
        """Assess every service holding the subject, route each (stop or weigh); the held ones' keys."""
        rid = self._inp.request_id
        results = await asyncio.gather(
            *(
                act(
                    "assess_service",
                    AssessInput(request_id=rid, service=s, record_keys=keys, ground="objection"),
                    heartbeat_timeout=HEARTBEAT,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=STORE,
                    result_type=Assessment,
                )
                for s, keys in found.items()
            )
        )
        self._assessed = {a.service: a for a in results}
        self._routes = {
            s: route(a.facts.consent_based, a.facts.holds) for s, a in self._assessed.items() if a.facts.held
        }
        return {s: found[s] for s in self._routes}

    async def _restrict_all(
        self, held: dict[str, list[str]], stopped: list[str], weighing: list[str]
    ) -> None:
        """Consent-based services stop (consent withdrawn, erasure offered); every holding service is
        restricted and its recipients told; the others are recorded as being weighed."""
        rid, inp = self._inp.request_id, self._inp
        await self._to("restricting")
        for s in stopped:  # the objection withdraws consent, dated the day it arrived
            self._consents[s] = await _withdraw(rid, s, held[s], inp.received_on)
        await asyncio.gather(
            *(
                _restrict(rid, s, held[s], True, "objection" if s in stopped else "objection-pending")
                for s in held
            )
        )
        await self._notify(held, sorted(held), "restriction")
        for s in stopped:
            await self._decision(
                s,
                "processing_stopped",
                "rightsflow",
                BASIS_STOPPED,
                {
                    "route": "stop",
                    "consents_withdrawn": self._consents[s].withdrawn + self._consents[s].already,
                },
            )
            if self._assessed[s].proposal.decision == "erase":
                await _offer_erasure(rid, s, "consent-withdrawn", ERASURE_AFTER_WITHDRAWAL)
                self._offered.append(s)
        for s in weighing:
            await record(
                rid,
                f"weighing:{s}",
                "objection.weighing",
                {"service": s, "holds": self._assessed[s].facts.holds},
                legal_basis=BASIS_PENDING[:200],
            )

    async def _tell_received(self, stopped: list[str], weighing: list[str]) -> str:
        """The letter saying what stopped and what is weighed, and the certificate of the restriction."""
        inp = self._inp
        key = await letter(
            LetterInput(
                request_id=inp.request_id,
                subject_ref=inp.subject_ref,
                template="objection_letter.html.j2",
                name="objection-received",
                context={
                    "decided": False,
                    "received_on": inp.received_on,
                    "stopped": stopped,
                    "weighing": weighing,
                    "complaint": ICO_COMPLAINT,
                    "court": COURT,
                },
            )
        )
        await certificate(
            CertificateInput(
                request_id=inp.request_id,
                kind="objection",
                name="restricted",
                body={
                    "received_on": inp.received_on,
                    "on": today().isoformat(),
                    "stopped": stopped,
                    "weighing": weighing,
                    "erasure_offered": list(self._offered),
                    "article19_sent": sum(n.sent for n in self._notices),
                },
            )
        )
        return key

    async def _weigh(self, weighing: list[str]) -> tuple[list[str], list[str]]:
        """Wait for the DPO's decision on every weighed service, record each; (upheld, overridden)."""
        await self._to("awaiting_decision")
        await workflow.wait_condition(lambda: all(s in self._decisions for s in weighing))
        upheld = [s for s in weighing if self._decisions[s].decision == "uphold"]
        overridden = [s for s in weighing if self._decisions[s].decision == "override"]
        for s in weighing:
            d = self._decisions[s]
            await self._decision(
                s,
                f"objection_{'upheld' if d.decision == 'uphold' else 'overridden'}",
                self._decided_by,
                decision_basis(d.decision),
                {"route": "weigh", "decision": d.decision, "reasons": "stated in the decision letter"},
            )
        for s in upheld:
            await _offer_erasure(self._inp.request_id, s, "objection", ERASURE_AFTER_OBJECTION)
            self._offered.append(s)
        return upheld, overridden

    async def _tell_decided(self, upheld: list[str], overridden: list[str]) -> str:
        """The decision letter: each service's outcome and reasons, and the wait before any lifting."""
        inp = self._inp
        return await letter(
            LetterInput(
                request_id=inp.request_id,
                subject_ref=inp.subject_ref,
                template="objection_letter.html.j2",
                name="objection-decision",
                context={
                    "decided": True,
                    "received_on": inp.received_on,
                    "upheld": [{"service": s, "reason": self._decisions[s].reason} for s in upheld],
                    "overridden": [{"service": s, "reason": self._decisions[s].reason} for s in overridden],
                    "notice_days": self._wait_days,
                    "complaint": ICO_COMPLAINT,
                    "court": COURT,
                },
            )
        )

    async def _lift(self, held: dict[str, list[str]], overridden: list[str]) -> None:
        """After the wait the person was told of, lift the overridden restrictions; recipients told."""
        await self._wait_before_lifting()
        await asyncio.gather(
            *(_restrict(self._inp.request_id, s, held[s], False, "objection") for s in overridden)
        )
        self._lifted = list(overridden)
        await self._notify(held, overridden, "restriction_lifted")

    async def _certify(
        self, held: dict[str, list[str]], outcome: dict[str, list[str]], deadline: str, letter_keys: list[str]
    ) -> str:
        """The outcome certificate (references and counts only); its key."""
        inp = self._inp
        stopped, upheld, overridden = outcome["stopped"], outcome["upheld"], outcome["overridden"]
        return await certificate(
            CertificateInput(
                request_id=inp.request_id,
                kind="objection",
                name="outcome",
                body={
                    "received_on": inp.received_on,
                    "completed_on": today().isoformat(),
                    "deadline": deadline,
                    "decided_by": self._decided_by,
                    "services": [
                        {
                            "service": s,
                            "route": self._routes[s],
                            "outcome": (
                                "stopped"
                                if s in stopped
                                else ("upheld" if s in upheld else "overridden_and_lifted")
                            ),
                            "legal_basis": BASIS_STOPPED
                            if s in stopped
                            else decision_basis(self._decisions[s].decision),
                            "consent_withdrawn_on": inp.received_on if s in stopped else None,
                            "erasure_offered": s in self._offered,
                        }
                        for s in sorted(held)
                    ],
                    "services_not_holding": sorted(s for s in self._matches if s not in held),
                    "article19_sent": sum(n.sent for n in self._notices),
                    "told_person_before_lifting": bool(overridden),
                    "wait_days": self._wait_days if overridden else None,
                    "letter_keys": letter_keys,
                },
            )
        )

    @workflow.query
    def status(self) -> ObjectionStatus:
        views = []
        for s, m in self._matches.items():
            r = self._routes.get(s)
            d = self._decisions.get(s)
            state = m.state
            if r == "stop" and self._stage not in ("filed", "discovering"):
                state = "stopped"
            elif r == "weigh" and self._stage not in ("filed", "discovering"):
                state = "restricted" if d is None else ("upheld" if d.decision == "uphold" else "overridden")
                if s in self._lifted:
                    state = "lifted"
            c = self._consents.get(s)
            views.append(
                ObjectionServiceView(
                    service=s,
                    state=state,
                    route=r,
                    holds=list(self._assessed[s].facts.holds) if s in self._assessed else [],
                    consents_withdrawn=(c.withdrawn + c.already) if c else 0,
                    decision=d.decision if d else None,
                    erasure_offered=s in self._offered,
                    candidates=list(m.candidates),
                )
            )
        return ObjectionStatus(
            request_id=self._inp.request_id,
            stage=self._stage,
            received_on=self._inp.received_on,
            deadline=deadline_for(self._inp.received_on),
            services=views,
            notices_sent=sum(n.sent for n in self._notices),
            lift_on=self._lift_on(),
            erasure_offered=list(self._offered),
            erasure_hint=erasure_hint(self._inp.received_on, self._offered, "objection")
            if self._offered
            else None,
            attention=self._attention,
        )

    @workflow.update
    def decide(self, inp: ObjectionDecideInput) -> list[ObjectionServiceView]:
        for d in inp.decisions:
            self._decisions[d.service] = d
        self._decided_by = inp.decided_by
        return self.status().services

    @decide.validator
    def _validate_decide(self, inp: ObjectionDecideInput) -> None:
        if self._stage != "awaiting_decision":
            raise ValueError(f"decisions are taken once processing is restricted (stage: {self._stage})")
        if not inp.decisions:
            raise ValueError("give a decision (uphold or override) per service")
        weighing = set(self._route("weigh"))
        for d in inp.decisions:
            if d.service not in weighing:
                stopped = d.service in self._routes
                raise ValueError(
                    f"{d.service} is consent-based: its processing has stopped, there is nothing to weigh"
                    if stopped
                    else f"{d.service} holds no records about the subject (or is not in this request)"
                )
            if d.service in self._decisions:
                raise ValueError(f"{d.service} is already decided ({self._decisions[d.service].decision})")
            check_objection_decision(d.decision, d.reason)


# -- consent withdrawal -------------------------------------------------------------------------------


@workflow.defn
class ConsentWithdrawal(ConfirmsMatches):
    _action = "consent_withdrawal"

    @workflow.init
    def __init__(self, inp: ConsentWithdrawalInput) -> None:
        self._inp = inp
        self._stage = "filed"
        self._matches: dict[str, ServiceMatchState] = {}
        self._match_decisions: dict[str, bool] = {}
        self._results: dict[str, ConsentResult] = {}
        self._offered: list[str] = []

    def _hint(self) -> str | None:
        if not self._offered:
            return None
        return erasure_hint(self._inp.received_on, self._offered, "consent-withdrawn")

    @workflow.run
    async def run(self, inp: ConsentWithdrawalInput) -> ConsentWithdrawalResult:
        rid = inp.request_id
        await acknowledge(rid, inp.received_on, inp.services, {})
        await self._to("discovering", clock_start=inp.received_on)
        await discover(rid, inp.subject_ref, inp.services, self._matches, self._match_decisions)
        found = {s: m.keys for s, m in self._matches.items() if m.keys}
        await self._to("withdrawing")
        results = await asyncio.gather(
            *(_withdraw(rid, s, keys, inp.received_on) for s, keys in found.items())
        )
        self._results = {r.service: r for r in results}
        withdrawn = sorted(s for s, r in self._results.items() if r.supported and r.withdrawn + r.already)
        for s in withdrawn:
            await _offer_erasure(rid, s, "consent-withdrawn", ERASURE_AFTER_WITHDRAWAL)
            self._offered.append(s)
        letter_key = await letter(
            LetterInput(
                request_id=rid,
                subject_ref=inp.subject_ref,
                template="consent_withdrawal_letter.html.j2",
                name="consent-withdrawn",
                context={"services": withdrawn, "withdrawn_on": inp.received_on},
            )
        )
        self._stage = "completed"
        await record(
            rid,
            "stage:completed",
            "consent_withdrawal.completed",
            {
                "services": withdrawn,
                "newly_withdrawn": {s: r.withdrawn for s, r in self._results.items()},
                "erasure_offered": self._offered,
                "letter_key": letter_key,
            },
            stage="completed",
            status="closed",
            legal_basis="UK GDPR Art 7(3)",
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ConsentWithdrawalResult(
            request_id=rid,
            services=list(results),
            erasure_offered=list(self._offered),
            letter_key=letter_key,
            erasure_hint=self._hint(),
        )

    @workflow.query
    def status(self) -> ConsentWithdrawalStatus:
        return ConsentWithdrawalStatus(
            request_id=self._inp.request_id,
            stage=self._stage,
            received_on=self._inp.received_on,
            services=sorted(s for s, m in self._matches.items() if m.keys),
            candidates=[c for m in self._matches.values() for c in m.candidates],
            withdrawn={s: r.withdrawn for s, r in self._results.items()},
            already={s: r.already for s, r in self._results.items()},
            erasure_offered=list(self._offered),
            erasure_hint=self._hint(),
            attention=self._attention,
        )


__all__ = [
    "ConsentWithdrawal",
    "ConsentWithdrawalInput",
    "Objection",
    "ObjectionDecideInput",
    "ObjectionDecision",
    "ObjectionInput",
]
