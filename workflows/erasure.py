"""Erasure: one Art 17 request from filing to a letter and a certificate.

Per service: discover the subject (candidates wait for the DPO), record a consent withdrawal where
that is the ground, assess (a proposal with the exemption, from the catalogue and the records),
wait for the DPO to confirm or change every decision (the ``decide`` update, validated), then for
each service to erase: Article 19 notices to every recipient in its sharing log, then the erasure
itself. Partial outcomes are normal: one service erases while another refuses. The requester's
letter states both; the certificate (no personal data) and the register record the outcome.

Only opaque references cross Temporal; workflow id ``erasure-<request id>``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.discovery import DiscoverInService, DiscoveryActivities
    from activities.erasure import AssessInput, Assessment, EraseInput, EraseResult, ErasureActivities
    from activities.rights import (
        CertificateInput,
        ConsentInput,
        DecisionInput,
        LetterInput,
        Notice,
        NoticeException,
        NoticesInput,
        RightsActivities,
    )
    from activities.subject_access import MatchDecisionInput, RecordInput, SubjectAccessActivities
    from rightsflow.clock import LONDON, compute_deadline
    from rightsflow.erasure import COURT, EXEMPTIONS, GROUNDS, ICO_COMPLAINT, check_decision

EXACT = "exact_identifier"
QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
STORE = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5))
SHORT = timedelta(seconds=60)
LONG = timedelta(minutes=10)


# -- shared by the rights workflows --------------------------------------------------------------------


@dataclass
class ServiceMatchState:
    service: str
    state: str = "pending"  # pending | awaiting_confirmation | found | not_found
    keys: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # "service/key"


@dataclass
class ConfirmInput:
    confirm: list[str] = field(default_factory=list)  # "service/key" candidates that are the subject
    reject: list[str] = field(default_factory=list)
    decided_by: str = "dpo"


async def record(
    request_id: str, key: str, action: str, detail: dict[str, Any] | None = None, **extra: Any
) -> None:
    """Audit entry and request fields in the register (the SAR activity, reused)."""
    await workflow.execute_activity_method(
        SubjectAccessActivities.record_event,
        RecordInput(request_id=request_id, key=key, action=action, detail=detail or {}, **extra),
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
    names = services or await workflow.execute_activity_method(
        DiscoveryActivities.list_services, start_to_close_timeout=SHORT
    )
    for s in names:
        states[s] = ServiceMatchState(s)

    async def one(service: str) -> None:
        st = states[service]
        found = await workflow.execute_activity_method(
            DiscoveryActivities.discover_in_service,
            DiscoverInService(request_id, subject_ref, service),
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
                await workflow.execute_activity_method(
                    SubjectAccessActivities.confirm_matches,
                    MatchDecisionInput(request_id, confirmed),
                    start_to_close_timeout=SHORT,
                    retry_policy=QUICK,
                )
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


def today() -> date:
    return workflow.now().astimezone(LONDON).date()


class RequestStages:
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


def deadline_for(received_on: str) -> str:
    dl = compute_deadline(date.fromisoformat(received_on))
    return dl.deadline.isoformat() if dl.deadline else ""


async def notices(inp: NoticesInput) -> list[Notice]:
    return await workflow.execute_activity_method(
        RightsActivities.send_notices, inp, start_to_close_timeout=LONG, retry_policy=QUICK
    )


async def letter(inp: LetterInput) -> str:
    return await workflow.execute_activity_method(
        RightsActivities.write_rights_letter,
        inp,
        start_to_close_timeout=timedelta(minutes=5),
        retry_policy=QUICK,
    )


async def certificate(inp: CertificateInput) -> str:
    return await workflow.execute_activity_method(
        RightsActivities.write_rights_certificate,
        inp,
        start_to_close_timeout=timedelta(minutes=5),
        retry_policy=QUICK,
    )


# -- the erasure workflow ------------------------------------------------------------------------------


@dataclass
class ErasureInput:
    request_id: str
    subject_ref: str
    received_on: str  # YYYY-MM-DD
    ground: str = "consent-withdrawn"
    services: list[str] | None = None  # None: every catalogued service


@dataclass
class ServiceDecision:
    service: str
    decision: str  # erase | refuse
    exemption: str | None = None  # a key of rightsflow.erasure.EXEMPTIONS when refusing
    reason: str = ""


@dataclass
class DecideInput:
    decisions: list[ServiceDecision] = field(default_factory=list)
    confirm_proposals: bool = False  # every service without an explicit decision takes its proposal
    notice_exceptions: list[NoticeException] = field(default_factory=list)
    decided_by: str = "dpo"


@dataclass
class ServiceView:
    service: str
    state: str  # pending | awaiting_confirmation | not_found | awaiting_decision | decided | erased | refused
    proposal: str | None = None
    proposed_exemption: str | None = None
    holds: list[str] = field(default_factory=list)
    decision: str | None = None
    exemption: str | None = None
    candidates: list[str] = field(default_factory=list)
    recipients: int = 0
    rows_deleted: int = 0
    rows_masked: int = 0
    notices_sent: int = 0
    notices_not_sent: int = 0


@dataclass
class ErasureStatus:
    request_id: str
    stage: str
    received_on: str
    deadline: str
    ground: str
    services: list[ServiceView]


@dataclass
class ErasureResult:
    request_id: str
    erased: list[str]
    refused: list[str]
    notices_sent: int
    notices_not_sent: int
    letter_key: str
    certificate_key: str


@workflow.defn
class Erasure(RequestStages):
    _action = "erasure"

    @workflow.init
    def __init__(self, inp: ErasureInput) -> None:
        self._inp = inp
        self._stage = "filed"
        self._matches: dict[str, ServiceMatchState] = {}
        self._match_decisions: dict[str, bool] = {}
        self._assessed: dict[str, Assessment] = {}
        self._decisions: dict[str, ServiceDecision] = {}
        self._decided_by = "dpo"
        self._exceptions: list[NoticeException] = []
        self._done: dict[str, EraseResult] = {}
        self._notices: dict[str, list[Notice]] = {}

    def _held(self) -> list[str]:
        return [s for s, a in self._assessed.items() if a.proposal.decision != "not_held"]

    @workflow.run
    async def run(self, inp: ErasureInput) -> ErasureResult:
        deadline = deadline_for(inp.received_on)
        await self._to("discovering", clock_start=inp.received_on, deadline=deadline)
        await discover(inp.request_id, inp.subject_ref, inp.services, self._matches, self._match_decisions)
        found = {s: m.keys for s, m in self._matches.items() if m.keys}
        if inp.ground == "consent-withdrawn":
            # The withdrawal is recorded in every service that holds consents, with its date.
            await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        RightsActivities.withdraw_consent,
                        ConsentInput(inp.request_id, s, keys, inp.received_on),
                        start_to_close_timeout=timedelta(minutes=2),
                        retry_policy=STORE,
                    )
                    for s, keys in found.items()
                )
            )
        await self._to("assessing")
        results = await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    ErasureActivities.assess_service,
                    AssessInput(inp.request_id, s, keys, inp.ground),
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=STORE,
                )
                for s, keys in found.items()
            )
        )
        self._assessed = {a.service: a for a in results}
        await self._to("awaiting_decision")
        await workflow.wait_condition(lambda: all(s in self._decisions for s in self._held()))
        for s in self._held():
            d = self._decisions[s]
            basis = EXEMPTIONS[d.exemption] if d.exemption else "UK GDPR Art 17(1)"
            await workflow.execute_activity_method(
                RightsActivities.record_decision,
                DecisionInput(
                    inp.request_id,
                    f"decision:{s}",
                    d.decision,
                    self._decided_by,
                    s,
                    basis,
                    {
                        "proposal": self._assessed[s].proposal.decision,
                        "changed": d.decision != self._assessed[s].proposal.decision,
                        "exemption": d.exemption,
                    },
                ),
                start_to_close_timeout=SHORT,
                retry_policy=QUICK,
            )
        await self._to("erasing")
        erase = [s for s in self._held() if self._decisions[s].decision == "erase"]
        refused = [s for s in self._held() if self._decisions[s].decision == "refuse"]
        on = today().isoformat()
        for s in erase:
            # Notices first: the sharing log is read before the subject's rows go.
            self._notices[s] = await notices(
                NoticesInput(
                    inp.request_id,
                    s,
                    found[s],
                    "erasure",
                    on,
                    "the person's personal data has been erased",
                    self._exceptions,
                )
            )
            self._done[s] = await workflow.execute_activity_method(
                ErasureActivities.erase_service,
                EraseInput(inp.request_id, s, found[s]),
                start_to_close_timeout=LONG,
                retry_policy=STORE,
            )
        sent = sum(n.sent for ns in self._notices.values() for n in ns)
        not_sent = sum(not n.sent for ns in self._notices.values() for n in ns)
        await self._to("writing")
        letter_key = await letter(
            LetterInput(
                inp.request_id,
                inp.subject_ref,
                "erasure_letter.html.j2",
                "erasure-outcome",
                {
                    "received_on": inp.received_on,
                    "erased": erase,
                    "refused": [
                        {
                            "service": s,
                            "exemption": EXEMPTIONS[self._decisions[s].exemption or "public_task"],
                            "reason": self._decisions[s].reason,
                        }
                        for s in refused
                    ],
                    "recipients": {s: [n.recipient for n in ns if n.sent] for s, ns in self._notices.items()},
                    "complaint": ICO_COMPLAINT,
                    "court": COURT,
                },
            )
        )
        cert = await certificate(
            CertificateInput(
                inp.request_id,
                "erasure",
                "outcome",
                {
                    "received_on": inp.received_on,
                    "completed_on": on,
                    "deadline": deadline,
                    "ground": inp.ground,
                    "decided_by": self._decided_by,
                    "services": [
                        {
                            "service": s,
                            "decision": self._decisions[s].decision,
                            "exemption": self._decisions[s].exemption,
                            "proposal": self._assessed[s].proposal.decision,
                            "rows_deleted": self._done[s].rows_deleted if s in self._done else 0,
                            "rows_masked": self._done[s].rows_masked if s in self._done else 0,
                            "article19_sent": sum(n.sent for n in self._notices.get(s, [])),
                            "article19_not_sent": sum(not n.sent for n in self._notices.get(s, [])),
                        }
                        for s in self._held()
                    ],
                    "services_not_holding": sorted(s for s in self._matches if s not in self._held()),
                    "letter_key": letter_key,
                    "backups": "put beyond use until overwritten in the normal backup cycle",
                },
            )
        )
        self._stage = "completed"
        await record(
            inp.request_id,
            "stage:completed",
            "erasure.completed",
            {"erased": erase, "refused": refused, "certificate_key": cert},
            stage="completed",
            status="closed",
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ErasureResult(inp.request_id, erase, refused, sent, not_sent, letter_key, cert)

    # -- queries and updates ------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> ErasureStatus:
        views = []
        for s, m in self._matches.items():
            a = self._assessed.get(s)
            d = self._decisions.get(s)
            state = m.state
            if a and a.proposal.decision != "not_held":
                state = "awaiting_decision" if d is None else "decided"
                if s in self._done:
                    state = "erased"
                elif d and d.decision == "refuse" and self._stage in ("erasing", "writing", "completed"):
                    state = "refused"
            views.append(
                ServiceView(
                    service=s,
                    state=state,
                    candidates=list(m.candidates),
                    proposal=a.proposal.decision if a else None,
                    proposed_exemption=a.proposal.exemption if a else None,
                    holds=list(a.facts.holds) if a else [],
                    decision=d.decision if d else None,
                    exemption=d.exemption if d else None,
                    recipients=a.recipients if a else 0,
                    rows_deleted=self._done[s].rows_deleted if s in self._done else 0,
                    rows_masked=self._done[s].rows_masked if s in self._done else 0,
                    notices_sent=sum(n.sent for n in self._notices.get(s, [])),
                    notices_not_sent=sum(not n.sent for n in self._notices.get(s, [])),
                )
            )
        return ErasureStatus(
            self._inp.request_id,
            self._stage,
            self._inp.received_on,
            deadline_for(self._inp.received_on),
            self._inp.ground,
            views,
        )

    @workflow.update
    def confirm(self, inp: ConfirmInput) -> list[str]:
        for ref in inp.confirm:
            self._match_decisions[ref] = True
        for ref in inp.reject:
            self._match_decisions[ref] = False
        return sorted(r for r, ok in self._match_decisions.items() if ok)

    @confirm.validator
    def _validate_confirm(self, inp: ConfirmInput) -> None:
        validate_confirm(inp, self._matches)

    @workflow.update
    def decide(self, inp: DecideInput) -> list[ServiceView]:
        for d in inp.decisions:
            self._decisions[d.service] = d
        if inp.confirm_proposals:
            for s in self._held():
                if s not in self._decisions:
                    p = self._assessed[s].proposal
                    self._decisions[s] = ServiceDecision(s, p.decision, p.exemption, p.reason)
        self._decided_by = inp.decided_by
        self._exceptions = [*self._exceptions, *inp.notice_exceptions]
        return self.status().services

    @decide.validator
    def _validate_decide(self, inp: DecideInput) -> None:
        if self._stage != "awaiting_decision":
            raise ValueError(f"decisions are taken once every service is assessed (stage: {self._stage})")
        if not inp.decisions and not inp.confirm_proposals and not inp.notice_exceptions:
            raise ValueError("give a decision per service, or confirm the proposals")
        held = set(self._held())
        for d in inp.decisions:
            if d.service not in held:
                raise ValueError(
                    f"{d.service} holds no records about the subject (or is not in this request)"
                )
            check_decision(d.decision, d.exemption)
            if d.decision == "erase" and self._assessed[d.service].facts.holds:
                kinds = ", ".join(self._assessed[d.service].facts.holds)
                if not d.reason.strip():
                    raise ValueError(f"{d.service} has an active {kinds}: erasing needs the reasons recorded")
        for e in inp.notice_exceptions:
            if not e.reason.strip():
                raise ValueError(
                    "a notice not sent needs the reasons (impossible or disproportionate effort)"
                )


__all__ = ["GROUNDS", "ConfirmInput", "DecideInput", "Erasure", "ErasureInput", "ServiceDecision"]
