"""Rectification (Art 16): restrict while checked, then correct everywhere or attach a statement.

Discover the subject; in every service that maps the field (by identity name or data category in
the catalogue) and holds the subject, processing is restricted while the DPO checks. ``decide``
accepts (the value is corrected in each service, a note that a correction was made goes in the
case record, recipients are told under Art 19) or declines (the person's supplementary statement
is attached; an opinion stays recorded as an opinion). The person is told the outcome, then the
restriction is lifted. The audit log records that a change was made, never the values.

Workflow id ``rectification-<request id>``. The new value and the statement travel only inside
the encrypted payload.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.kit import (
    HEARTBEAT,
    STORE,
    ConfirmsMatches,
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
    from rightsflow.contracts.erasure import field_label
    from rightsflow.contracts.rectification import RectificationInput, RectificationStatus, RectifyDecision
    from rightsflow.contracts.rights import (
        CertificateInput,
        LetterInput,
        Notice,
        NoticesInput,
        RectifyInput,
        RectifyResult,
        RestrictInput,
        StatementInput,
    )


@workflow.defn
class Rectification(ConfirmsMatches):
    _action = "rectification"

    @workflow.init
    def __init__(self, inp: RectificationInput) -> None:
        self._inp = inp
        self._stage = "filed"
        self._matches: dict[str, ServiceMatchState] = {}
        self._match_decisions: dict[str, bool] = {}
        self._services: list[str] = []
        self._decision: RectifyDecision | None = None
        self._results: list[RectifyResult] = []
        self._notices: list[Notice] = []

    async def _restrict(self, found: dict[str, list[str]], on: bool) -> None:
        await asyncio.gather(
            *(
                act(
                    "set_restriction",
                    RestrictInput(
                        request_id=self._inp.request_id,
                        service=s,
                        record_keys=found[s],
                        restrict=on,
                        on=today().isoformat(),
                        reason="accuracy",
                    ),
                    heartbeat_timeout=HEARTBEAT,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=STORE,
                )
                for s in self._services
            )
        )

    @workflow.run
    async def run(self, inp: RectificationInput) -> RectificationStatus:
        # The field by its label; the corrected value stays out of the letter until it is decided.
        await acknowledge(inp.request_id, inp.received_on, inp.services, {"field": field_label(inp.field)})
        deadline = deadline_for(inp.received_on)
        await self._to("discovering", clock_start=inp.received_on, deadline=deadline)
        await discover(inp.request_id, inp.subject_ref, inp.services, self._matches, self._match_decisions)
        found = {s: m.keys for s, m in self._matches.items() if m.keys}
        for s, keys in found.items():
            if await act(
                "holds_field",
                RectifyInput(
                    request_id=inp.request_id, service=s, record_keys=keys, field=inp.field, value="", on=""
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STORE,
                result_type=bool,
            ):
                self._services.append(s)
        await self._restrict(found, True)
        await self._to("awaiting_decision")
        await workflow.wait_condition(lambda: self._decision is not None)
        d = self._decision
        assert d is not None
        on = today().isoformat()
        label = field_label(inp.field)
        await record(
            inp.request_id,
            "decision",
            f"rectification.{'accepted' if d.accept else 'declined'}",
            {"services": self._services},
            actor=d.decided_by,
            decision="accepted" if d.accept else "declined",
            legal_basis="UK GDPR Art 16",
        )
        for s in self._services:
            if d.accept:
                self._results.append(
                    await act(
                        "rectify_service",
                        RectifyInput(
                            request_id=inp.request_id,
                            service=s,
                            record_keys=found[s],
                            field=inp.field,
                            value=inp.value,
                            on=on,
                        ),
                        heartbeat_timeout=HEARTBEAT,
                        start_to_close_timeout=timedelta(minutes=5),
                        retry_policy=STORE,
                        result_type=RectifyResult,
                    )
                )
                self._notices += await notices(
                    NoticesInput(
                        request_id=inp.request_id,
                        service=s,
                        record_keys=found[s],
                        kind="rectification",
                        on=on,
                        detail=f"the {label} was corrected",
                        field_label=label,
                        value=inp.value,
                    )
                )
            else:
                await act(
                    "attach_statement",
                    StatementInput(
                        request_id=inp.request_id,
                        service=s,
                        record_keys=found[s],
                        field=inp.field,
                        statement=d.statement,
                        on=on,
                    ),
                    start_to_close_timeout=timedelta(minutes=5),
                    heartbeat_timeout=HEARTBEAT,
                    retry_policy=STORE,
                )
        await letter(
            LetterInput(
                request_id=inp.request_id,
                subject_ref=inp.subject_ref,
                template="rectification_letter.html.j2",
                name="outcome",
                context={
                    "accepted": d.accept,
                    "field": label,
                    "services": self._services,
                    "reason": d.reason,
                    "recipients": sorted({n.recipient for n in self._notices if n.sent}),
                },
            )
        )
        # Told the outcome: the restriction put on while checking is lifted.
        await self._restrict(found, False)
        await certificate(
            CertificateInput(
                request_id=inp.request_id,
                kind="rectification",
                name="outcome",
                body={
                    "field": inp.field,
                    "decision": "accepted" if d.accept else "declined",
                    "on": on,
                    "services": [
                        {"service": r.service, "columns": r.fields, "rows": r.rows, "note": r.note}
                        for r in self._results
                    ]
                    or self._services,
                    "article19_sent": sum(n.sent for n in self._notices),
                },
            )
        )
        self._stage = "completed"
        await record(
            inp.request_id,
            "stage:completed",
            "rectification.completed",
            {},
            stage="completed",
            status="closed",
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    @workflow.query
    def status(self) -> RectificationStatus:
        return RectificationStatus(
            request_id=self._inp.request_id,
            stage=self._stage,
            field=self._inp.field,
            deadline=deadline_for(self._inp.received_on),
            services=list(self._services),
            candidates=[c for m in self._matches.values() for c in m.candidates],
            decision=None
            if self._decision is None
            else ("accepted" if self._decision.accept else "declined"),
            corrected=[r.service for r in self._results if r.fields],
            notices_sent=sum(n.sent for n in self._notices),
            attention=self._attention,
        )

    @workflow.update
    def decide(self, inp: RectifyDecision) -> str:
        self._decision = inp
        return "accepted" if inp.accept else "declined"

    @decide.validator
    def _validate_decide(self, inp: RectifyDecision) -> None:
        if self._stage != "awaiting_decision":
            raise ValueError(f"not awaiting a decision (stage: {self._stage})")
        if not inp.accept and not inp.statement.strip():
            raise ValueError("declining needs the person's supplementary statement to attach")


__all__ = ["Rectification", "RectificationInput", "RectifyDecision"]
