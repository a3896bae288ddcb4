"""SubjectAccessRequest: one subject access request from filing to a delivered pack (or a refusal).

The statutory clock is rightsflow.clock (the same code as ``rightsflow deadline``): it starts on the
latest of receipt, identity evidence, authority evidence and fee; clarification pauses add their
days; an extension (only before the one-month deadline passes) moves it to three months. Durable
timers send reminders 10 and 3 working days before the deadline and escalate once it has passed.

Gathering runs per service in parallel as soon as the request is filed (nothing is disclosed before
the clock starts and the DPO approves). A store that is down delays only its own service: the
workflow keeps retrying it with a growing pause and ``status`` shows the outage.

Everything that crosses Temporal is an opaque reference; records travel as claim-check keys.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.kit import HEARTBEAT, act, confirm_matches, discover_one, list_services
from workflows.subject_access_updates import LETTERS, MAIL, QUICK, SarUpdates, _iso  # noqa: F401 - re-exported

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import LONDON, Pause, compute_deadline, end_of_day, reminder_dates
    from rightsflow.contracts.correspondence import StaffNoticeInput
    from rightsflow.contracts.discovery import EXACT
    from rightsflow.contracts.subject_access import (  # noqa: F401 - re-exported: callers import them from here
        AddedRedaction,
        ApproveInput,
        ClarifyInput,
        ClockView,
        ExtendInput,
        GatherInput,
        GatherResult,
        LetterInput,
        PackInput,
        PackResult,
        RedactResult,
        RejectInput,
        ReviewInput,
        SarInput,
        SarResult,
        SarStatus,
        ServiceState,
        VerifyInput,
    )

REMINDER_DAYS = (10, 3)
REMINDER_HOUR = time(9, 0)

# Each try at a store: a few quick attempts; then the workflow waits (durable timer) and tries again.
STORE_ATTEMPT = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_attempts=3,
)
# How the cover letter names each kind of redaction (rightsflow.redaction), with its legal basis.
_PARA16 = "DPA 2018 Sch 2 para 16"
WITHHELD_WORDS = {
    "household_member": f"Information about other members of the family ({_PARA16})",
    "related_person": f"Information about other people related to the person ({_PARA16})",
    "informant": f"Information about people who gave us information ({_PARA16})",
    "named_in_text": f"Other people named in the records ({_PARA16})",
    "dpo_added": f"Information the Data Protection Officer withheld on review ({_PARA16} or Sch 3)",
}


@workflow.defn
class SubjectAccessRequest(SarUpdates):
    """The request's run: letters, gathering per service, redaction, the DPO's decision, the pack;
    its clock loop (reminders, escalation) and ``status``. Updates: ``SarUpdates``."""

    @workflow.init
    def __init__(self, inp: SarInput) -> None:
        # Set here, not in run: an update can arrive in the first activation, before run starts.
        self._inp: SarInput | None = inp
        self._stage = "filed"
        self._identity: date | None = None
        self._authority: date | None = None
        self._fee: date | None = None
        self._parental_responsibility: bool | None = None
        self._pauses: list[Pause] = []
        self._extended = False
        self._extension_reason: str | None = None
        self._services: dict[str, ServiceState] = {}
        self._match_decisions: dict[str, bool] = {}
        self._gathered = False
        self._redaction: RedactResult | None = None
        self._review_version = 0
        self._released: list[str] = []
        self._added: list[AddedRedaction] = []
        self._decision: str | None = None
        self._decided_by = "dpo"
        self._exemption: str | None = None
        self._pack: PackResult | None = None
        self._clock_version = 0
        self._fired: list[str] = []
        self._overdue = False
        self._closing = False

    # -- clock loop: reminders and the escalation ----------------------------------------------------

    def _next_clock_event(self) -> tuple[datetime, str] | None:
        view = self._clock()
        if view.state != "running" or view.deadline is None:
            return None
        deadline = date.fromisoformat(view.deadline)
        events = [
            (datetime.combine(d, REMINDER_HOUR, tzinfo=LONDON), f"reminder_{n}:{deadline}")
            for n, d in zip(REMINDER_DAYS, reminder_dates(deadline, REMINDER_DAYS), strict=True)
        ]
        events.append((end_of_day(deadline) + timedelta(microseconds=1), f"escalation:{deadline}"))
        pending = [e for e in events if e[1] not in self._fired]
        return min(pending) if pending else None

    async def _clock_loop(self) -> None:
        assert self._inp is not None
        while not self._closing:
            version = self._clock_version
            nxt = self._next_clock_event()

            def changed(version: int = version) -> bool:
                return self._clock_version != version or self._closing

            if nxt is None:
                await workflow.wait_condition(changed)
                continue
            when, name = nxt
            delay = when - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(changed, timeout=delay)
                    continue
                except TimeoutError:
                    if self._closing:
                        return
            kind, _, deadline = name.partition(":")
            self._fired.append(name)
            if kind == "escalation":
                self._overdue = True
            await self._record(
                name,
                f"subject_access.{kind}",
                {"deadline": deadline, "working_days_left": kind.partition("_")[2] or "0"},
            )
            if workflow.patched(LETTERS):
                await self._tell_staff(kind, deadline)

    # -- register and staff notices ---------------------------------------------------------------------

    async def _set_stage(self, stage: str, **extra: Any) -> None:
        self._stage = stage
        await self._record(f"stage:{stage}", f"subject_access.{stage}", {}, stage=stage, **extra)

    async def _tell_staff(self, kind: str, deadline: str) -> None:
        """Reminders go to the DPO; an escalation also to the leads of the services searched."""
        assert self._inp is not None
        rid = self._inp.request_id
        overdue = kind == "escalation"
        left = kind.partition("_")[2]
        subject = (
            f"Overdue: subject access request {rid} was due on {deadline}"
            if overdue
            else f"Reminder: subject access request {rid} is due on {deadline} ({left} working days)"
        )
        body = (
            f"Request {rid} ({self._stage.replace('_', ' ')}) "
            + (f"passed its statutory deadline of {deadline}." if overdue else f"is due on {deadline}.")
            + f"\n\nSee it with: rightsflow status {rid}\n"
        )
        await workflow.execute_activity(
            "notify_staff",
            StaffNoticeInput(
                key=f"{rid}:{kind}:{deadline}",
                controller="",
                roles=["dpo", "service_lead"] if overdue else ["dpo"],
                subject=subject,
                body=body,
                request_id=rid,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RetryPolicy(maximum_attempts=5),
        )

    # -- gathering ------------------------------------------------------------------------------------

    async def _with_store(self, st: ServiceState, call: Any, busy: str) -> Any:
        """Run a store activity; while the store is down, wait (durable timer) and try again."""
        assert self._inp is not None
        wait = self._inp.store_retry_first_seconds
        while True:
            st.state = busy
            try:
                return await call()
            except ActivityError:
                if st.failures == 0:
                    await self._record(
                        f"outage:{st.service}", "subject_access.store_unavailable", {"service": st.service}
                    )
                st.failures += 1
                st.state = "store_unavailable"
                st.unavailable_since = st.unavailable_since or workflow.now().isoformat()
                await workflow.sleep(timedelta(seconds=wait))
                wait = min(wait * 2, self._inp.store_retry_max_seconds)

    async def _service(self, service: str) -> None:
        assert self._inp is not None
        inp = self._inp
        st = self._services[service]
        found = await self._with_store(
            st,
            lambda: discover_one(
                inp.request_id,
                inp.subject_ref,
                service,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=STORE_ATTEMPT,
                activity_id=f"discover-{service}",
            ),
            "discovering",
        )
        exact = [m.record_key for m in found.matches if m.strength == EXACT]
        st.exact = len(exact)
        st.candidates = [f"{service}/{m.record_key}" for m in found.matches if m.strength != EXACT]
        if st.candidates:
            st.state = "awaiting_confirmation"
            await workflow.wait_condition(lambda: all(c in self._match_decisions for c in st.candidates))
            st.confirmed = [c for c in st.candidates if self._match_decisions[c]]
            if st.confirmed:
                await confirm_matches(inp.request_id, st.confirmed)
        keys = exact + [c.partition("/")[2] for c in st.confirmed]
        if not keys:
            st.state = "not_found"
            return
        result = await self._with_store(
            st,
            lambda: act(
                "gather_service",
                GatherInput(
                    request_id=inp.request_id, subject_ref=inp.subject_ref, service=service, record_keys=keys
                ),
                heartbeat_timeout=HEARTBEAT,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=STORE_ATTEMPT,
                activity_id=f"gather-{service}",
                result_type=GatherResult,
            ),
            "gathering",
        )
        st.state, st.records, st.claim_key = "gathered", result.records, result.claim_key
        st.unavailable_since = None

    # -- run --------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: SarInput) -> SarResult:
        self._inp = inp
        services = inp.services or await list_services(QUICK)
        self._services = {s: ServiceState(service=s) for s in services}
        clock_task = asyncio.create_task(self._clock_loop())
        if workflow.patched(LETTERS):
            view = self._clock()
            # Before identity arrives the month has not started: the letter gives the date it would
            # end if it had, and says the month runs from the day the evidence arrives.
            due = view.deadline or _iso(compute_deadline(self._received(), []).deadline)
            await self._letter(
                "acknowledgement",
                {"services": services, "deadline": due, "provisional": not view.clock_started},
            )
            if view.waiting_for:
                await self._letter(
                    "evidence_request",
                    {
                        "identity": "identity" in view.waiting_for,
                        "authority": "authority" in view.waiting_for,
                    },
                )
        await self._set_stage("gathering")
        await asyncio.gather(*(self._service(s) for s in services))
        self._gathered = True
        await self._set_stage("redacting")
        await self._redact()
        await self._set_stage("awaiting_review")
        await workflow.wait_condition(lambda: self._decision is not None)
        result: SarResult
        if self._decision == "approved":
            await self._set_stage("packing")
            view = self._clock()
            self._pack = await act(
                "build_and_deliver_pack",
                PackInput(
                    request_id=inp.request_id,
                    subject_ref=inp.subject_ref,
                    redacted_key=self._redaction.claim_key if self._redaction else "",
                    services_searched=services,
                    received_on=inp.received_on,
                    clock_start=view.clock_start or inp.received_on,
                    deadline=view.deadline or "",
                    retention_days=inp.pack_retention_days,
                    link_expiry_seconds=inp.link_expiry_seconds,
                ),
                heartbeat_timeout=HEARTBEAT,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=QUICK,
                result_type=PackResult,
            )
            if workflow.patched(LETTERS):
                holding = [s for s, st in self._services.items() if st.records]
                by_kind = self._redaction.by_kind if self._redaction else {}
                await self._letter(
                    "sar_cover",
                    {
                        "searched": services,
                        "holding": holding,
                        "not_holding": [s for s in services if s not in holding],
                        "withheld_by_basis": {WITHHELD_WORDS.get(k, k): n for k, n in by_kind.items()},
                        "deadline": view.deadline,
                    },
                    attachments=[self._pack.pack_key],
                )
            result = SarResult(request_id=inp.request_id, outcome="delivered", pack=self._pack)
        elif workflow.patched(LETTERS):
            view = self._clock()
            letter = await self._letter(
                "refusal",
                {"exemption": self._exemption or "", "clock_start": view.clock_start or inp.received_on},
            )
            result = SarResult(request_id=inp.request_id, outcome="refused", letter_key=letter)
        else:
            view = self._clock()
            letter = await act(
                "write_letter",
                LetterInput(
                    request_id=inp.request_id,
                    subject_ref=inp.subject_ref,
                    kind="refusal",
                    text=self._exemption or "",
                    clock_start=view.clock_start or inp.received_on,
                    deadline=view.deadline or "",
                    retention_days=inp.pack_retention_days,
                ),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=QUICK,
            )
            result = SarResult(request_id=inp.request_id, outcome="refused", letter_key=letter)
        self._closing = True
        await act(
            "purge_working_copies",
            inp.request_id,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=QUICK,
        )
        final = "delivered" if result.outcome == "delivered" else "refused"
        self._stage = final
        await self._record(
            f"stage:{final}",
            f"subject_access.{final}",
            {"on_time": not self._overdue},
            stage=final,
            status="closed",
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        await clock_task
        return result

    # -- queries ----------------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> SarStatus:
        assert self._inp is not None
        view = self._clock()
        days_left = None
        if view.deadline:
            days_left = (date.fromisoformat(view.deadline) - self._today()).days
        return SarStatus(
            request_id=self._inp.request_id,
            stage=self._stage,
            clock=view,
            days_left=days_left,
            overdue=self._overdue,
            services=list(self._services.values()),
            redactions=self._redaction.redactions if self._redaction else 0,
            released=self._redaction.released if self._redaction else 0,
            review_version=self._review_version,
            decision=self._decision,
            pack_key=self._pack.pack_key if self._pack else None,
            events=list(self._fired),
            attention=self._attention,
        )
