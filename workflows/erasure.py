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
from datetime import timedelta

from temporalio import workflow

from workflows.kit import (
    HEARTBEAT,
    LONG,
    QUICK,
    SHORT,
    STORE,
    ConfirmsMatches,
    RequestStages,
    acknowledge,
    act,
    certificate,
    deadline_for,
    discover,
    letter,
    notices,
    record,
    today,
    validate_confirm,
)

with workflow.unsafe.imports_passed_through():
    from rightsflow.contracts.discovery import ConfirmInput, ServiceMatchState
    from rightsflow.contracts.erasure import (
        COURT,
        EXEMPTIONS,
        GROUNDS,
        ICO_COMPLAINT,
        AssessInput,
        Assessment,
        DecideInput,
        EraseInput,
        EraseResult,
        ErasureInput,
        ErasureResult,
        ErasureStatus,
        ServiceDecision,
        ServiceView,
        check_decision,
    )
    from rightsflow.contracts.rights import (
        CertificateInput,
        ConsentInput,
        DecisionInput,
        LetterInput,
        Notice,
        NoticeException,
        NoticesInput,
    )


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
        await acknowledge(inp.request_id, inp.received_on, inp.services, {"ground": inp.ground})
        deadline = deadline_for(inp.received_on)
        await self._to("discovering", clock_start=inp.received_on, deadline=deadline)
        await discover(inp.request_id, inp.subject_ref, inp.services, self._matches, self._match_decisions)
        found = {s: m.keys for s, m in self._matches.items() if m.keys}
        if inp.ground == "consent-withdrawn":
            # The withdrawal is recorded in every service that holds consents, with its date.
            await asyncio.gather(
                *(
                    act(
                        "withdraw_consent",
                        ConsentInput(
                            request_id=inp.request_id,
                            service=s,
                            record_keys=keys,
                            withdrawn_on=inp.received_on,
                        ),
                        heartbeat_timeout=HEARTBEAT,
                        start_to_close_timeout=timedelta(minutes=2),
                        retry_policy=STORE,
                    )
                    for s, keys in found.items()
                )
            )
        await self._to("assessing")
        results = await asyncio.gather(
            *(
                act(
                    "assess_service",
                    AssessInput(request_id=inp.request_id, service=s, record_keys=keys, ground=inp.ground),
                    heartbeat_timeout=HEARTBEAT,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=STORE,
                    result_type=Assessment,
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
            await act(
                "record_decision",
                DecisionInput(
                    request_id=inp.request_id,
                    key=f"decision:{s}",
                    decision=d.decision,
                    decided_by=self._decided_by,
                    service=s,
                    legal_basis=basis,
                    detail={
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
                    request_id=inp.request_id,
                    service=s,
                    record_keys=found[s],
                    kind="erasure",
                    on=on,
                    detail="the person's personal data has been erased",
                    exceptions=self._exceptions,
                )
            )
            self._done[s] = await act(
                "erase_service",
                EraseInput(request_id=inp.request_id, service=s, record_keys=found[s]),
                heartbeat_timeout=HEARTBEAT,
                start_to_close_timeout=LONG,
                retry_policy=STORE,
                result_type=EraseResult,
            )
        sent = sum(n.sent for ns in self._notices.values() for n in ns)
        not_sent = sum(not n.sent for ns in self._notices.values() for n in ns)
        await self._to("writing")
        letter_key = await letter(
            LetterInput(
                request_id=inp.request_id,
                subject_ref=inp.subject_ref,
                template="erasure_letter.html.j2",
                name="erasure-outcome",
                context={
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
                    # What stays after the erasure, and why: the letter says it instead of "all erased".
                    "kept": {
                        s: {
                            "for_others": self._done[s].kept_for_others,
                            "masked": self._done[s].kept_masked,
                            "mentions_removed": self._done[s].mentions_removed,
                        }
                        for s in erase
                        if s in self._done
                    },
                    "complaint": ICO_COMPLAINT,
                    "court": COURT,
                },
            )
        )
        cert = await certificate(
            CertificateInput(
                request_id=inp.request_id,
                kind="erasure",
                name="outcome",
                body={
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
                            "mentions_removed": self._done[s].mentions_removed if s in self._done else 0,
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
        return ErasureResult(
            request_id=inp.request_id,
            erased=erase,
            refused=refused,
            notices_sent=sent,
            notices_not_sent=not_sent,
            letter_key=letter_key,
            certificate_key=cert,
        )

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
            request_id=self._inp.request_id,
            stage=self._stage,
            received_on=self._inp.received_on,
            deadline=deadline_for(self._inp.received_on),
            ground=self._inp.ground,
            services=views,
            attention=self._attention,
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
                    self._decisions[s] = ServiceDecision(
                        service=s, decision=p.decision, exemption=p.exemption, reason=p.reason
                    )
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


__all__ = [
    "GROUNDS",
    "LONG",
    "QUICK",
    "SHORT",
    "STORE",
    "ConfirmInput",
    "ConfirmsMatches",
    "DecideInput",
    "Erasure",
    "ErasureInput",
    "NoticeException",
    "RequestStages",
    "ServiceDecision",
    "ServiceMatchState",
    "certificate",
    "deadline_for",
    "discover",
    "letter",
    "notices",
    "record",
    "today",
]
