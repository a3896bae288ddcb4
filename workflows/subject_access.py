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
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.kit import HEARTBEAT, NeedsAttention, act, confirm_matches, discover_one, list_services

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import (
        LONDON,
        ClockState,
        Pause,
        can_extend,
        clock_start,
        compute_deadline,
        end_of_day,
        reminder_dates,
    )
    from rightsflow.contracts.correspondence import LetterSent, SendLetterInput, StaffNoticeInput
    from rightsflow.contracts.discovery import EXACT
    from rightsflow.contracts.subject_access import (
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
        RecordInput,
        RedactInput,
        RedactResult,
        RejectInput,
        ReviewInput,
        SarInput,
        SarResult,
        SarStatus,
        ServiceState,
        VerifyInput,
    )
    from rightsflow.redaction import BASES

REMINDER_DAYS = (10, 3)
REMINDER_HOUR = time(9, 0)

# Each try at a store: a few quick attempts; then the workflow waits (durable timer) and tries again.
STORE_ATTEMPT = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_attempts=3,
)
QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Letters are stored before they are sent: a mail server that is down is tried again, without limit.
MAIL = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
# Versioned: requests filed before letters were sent replay without the letter activities.
LETTERS = "letters-sent"
# How the cover letter names each kind of redaction (rightsflow.redaction), with its legal basis.
_PARA16 = "DPA 2018 Sch 2 para 16"
WITHHELD_WORDS = {
    "household_member": f"Information about other members of the family ({_PARA16})",
    "related_person": f"Information about other people related to the person ({_PARA16})",
    "informant": f"Information about people who gave us information ({_PARA16})",
    "named_in_text": f"Other people named in the records ({_PARA16})",
    "dpo_added": f"Information the Data Protection Officer withheld on review ({_PARA16} or Sch 3)",
}


# -- inputs ---------------------------------------------------------------------------------------------


# -- views ----------------------------------------------------------------------------------------------


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


@workflow.defn
class SubjectAccessRequest(NeedsAttention):
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

    # -- clock ------------------------------------------------------------------------------------------

    def _today(self) -> date:
        return workflow.now().astimezone(LONDON).date()

    def _received(self) -> date:
        assert self._inp is not None
        return date.fromisoformat(self._inp.received_on)

    def _waiting_for(self) -> list[str]:
        assert self._inp is not None
        need = []
        if self._identity is None:
            need.append("identity")
        if self._inp.requester != "self" and self._authority is None:
            need.append("authority")
        return need

    def _started(self) -> bool:
        return not self._waiting_for()

    def _start(self) -> date:
        return clock_start(self._received(), self._identity, self._authority, self._fee)

    def _clock(self) -> ClockView:
        started = self._started()
        deadline = one_month = extended = None
        state, paused = "waiting_for_evidence", 0
        if started:
            dl = compute_deadline(self._start(), self._pauses, extended=self._extended)
            one_month, extended, paused = dl.deadline, dl.extended_deadline, dl.paused_days
            deadline = extended if self._extended else one_month
            state = "stopped" if dl.state is ClockState.STOPPED else "running"
        return ClockView(
            received_on=self._received().isoformat(),
            clock_started=started,
            clock_start=_iso(self._start()) if started else None,
            deadline=_iso(deadline),
            one_month_deadline=_iso(one_month),
            extended_deadline=_iso(extended),
            state=state,
            paused_days=paused,
            pauses=[[_iso(p.asked), _iso(p.answered)] for p in self._pauses],
            extended=self._extended,
            waiting_for=self._waiting_for(),
        )

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

    # -- register -------------------------------------------------------------------------------------

    async def _record(
        self, key: str, action: str, detail: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        assert self._inp is not None
        await workflow.execute_activity(
            "record_event",
            RecordInput(
                request_id=self._inp.request_id, key=key, action=action, detail=detail or {}, **extra
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=QUICK,
        )

    async def _record_clock(self, key: str, action: str, detail: dict[str, Any], **extra: Any) -> None:
        view = self._clock()
        await self._record(
            key,
            action,
            {**detail, "clock_start": view.clock_start, "deadline": view.deadline},
            clock_start=view.clock_start,
            deadline=view.deadline,
            **extra,
        )

    async def _set_stage(self, stage: str, **extra: Any) -> None:
        self._stage = stage
        await self._record(f"stage:{stage}", f"subject_access.{stage}", {}, stage=stage, **extra)

    # -- letters --------------------------------------------------------------------------------------

    async def _letter(
        self,
        kind: str,
        facts: dict[str, Any],
        *,
        discriminator: str = "",
        attachments: list[str] | None = None,
    ) -> str:
        """Render, store and send a letter to the requester; returns its PDF's S3 key."""
        assert self._inp is not None
        sent: LetterSent = await act(
            "send_letter",
            SendLetterInput(
                request_id=self._inp.request_id,
                kind=kind,
                facts=facts,
                discriminator=discriminator,
                attachments=attachments or [],
            ),
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=MAIL,
            result_type=LetterSent,
        )
        return sent.pdf_key

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

    async def _redact(self) -> None:
        assert self._inp is not None
        self._redaction = await act(
            "redact",
            RedactInput(
                request_id=self._inp.request_id,
                subject_ref=self._inp.subject_ref,
                gathered=[s.claim_key for s in self._services.values() if s.claim_key],
                version=self._review_version,
                released=list(self._released),
                added=list(self._added),
            ),
            heartbeat_timeout=HEARTBEAT,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=QUICK,
            result_type=RedactResult,
        )

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
                retry_policy=QUICK,
            )
            result = SarResult(request_id=inp.request_id, outcome="refused", letter_key=letter)
        self._closing = True
        await act(
            "purge_working_copies",
            inp.request_id,
            start_to_close_timeout=timedelta(minutes=5),
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

    # -- updates: identity and authority ------------------------------------------------------------------

    def _date(self, value: str | None, what: str) -> date | None:
        if value is None:
            return None
        try:
            d = date.fromisoformat(value)
        except ValueError:
            raise ApplicationError(f"{what} must be a date as YYYY-MM-DD", non_retryable=True) from None
        if d > self._today():
            raise ApplicationError(f"{what} {d} is in the future", non_retryable=True)
        if d < self._received():
            raise ApplicationError(
                f"{what} {d} is before the request was received ({self._received()})", non_retryable=True
            )
        return d

    @workflow.update
    async def verify(self, inp: VerifyInput) -> ClockView:
        self._identity = self._date(inp.identity_received, "identity received") or self._identity
        self._authority = self._date(inp.authority_received, "authority received") or self._authority
        self._fee = self._date(inp.fee_received, "fee received") or self._fee
        if inp.parental_responsibility is not None:
            self._parental_responsibility = inp.parental_responsibility
        for ref in inp.confirm_matches:
            self._match_decisions[ref] = True
        for ref in inp.reject_matches:
            self._match_decisions[ref] = False
        self._clock_version += 1
        view = self._clock()
        n = self._clock_version
        await self._record_clock(
            f"verify:{n}",
            "subject_access.verified",
            {
                "identity_received": _iso(self._identity),
                "authority_received": _iso(self._authority),
                "fee_received": _iso(self._fee),
                "parental_responsibility": self._parental_responsibility,
                "child_competent": inp.child_competent,
                "matches_confirmed": len(inp.confirm_matches),
                "matches_rejected": len(inp.reject_matches),
                "clock_started": view.clock_started,
            },
            actor=inp.decided_by,
        )
        return view

    @verify.validator
    def _validate_verify(self, inp: VerifyInput) -> None:
        assert self._inp is not None
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        given = [inp.identity_received, inp.authority_received, inp.fee_received]
        if not any(given) and not inp.confirm_matches and not inp.reject_matches:
            raise ValueError(
                "give --identity-received, --authority-received, --fee-received or a match decision"
            )
        for value, what in zip(
            given, ("identity received", "authority received", "fee received"), strict=True
        ):
            try:
                self._date(value, what)
            except ApplicationError as exc:
                raise ValueError(exc.message) from None
        if inp.authority_received and self._inp.requester == "self":
            raise ValueError("the requester is the data subject: no authority to act is needed")
        if (
            inp.authority_received
            and self._inp.requester == "parent"
            and inp.parental_responsibility is not True
        ):
            raise ValueError(
                "a parent's authority needs parental responsibility checked "
                "(--parental-responsibility) before it is accepted"
            )
        known = {c for s in self._services.values() for c in s.candidates}
        for ref in [*inp.confirm_matches, *inp.reject_matches]:
            if ref not in known:
                raise ValueError(f"{ref} is not a candidate match awaiting confirmation")

    # -- updates: the clock --------------------------------------------------------------------------------

    @workflow.update
    async def extend(self, inp: ExtendInput) -> ClockView:
        assert self._inp is not None
        before = self._clock()
        self._extended = True
        self._extension_reason = inp.reason
        self._clock_version += 1
        view = self._clock()
        if workflow.patched(LETTERS):
            letter = await self._letter(
                "extension",
                {
                    "reasons": inp.reason,
                    "clock_start": view.clock_start or "",
                    "deadline": before.deadline or "",
                    "extended_deadline": view.deadline,
                },
            )
        else:
            letter = await act(
                "write_letter",
                LetterInput(
                    request_id=self._inp.request_id,
                    subject_ref=self._inp.subject_ref,
                    kind="extension",
                    text=inp.reason,
                    clock_start=view.clock_start or "",
                    deadline=before.deadline or "",
                    extended_deadline=view.deadline,
                    retention_days=self._inp.pack_retention_days,
                ),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=QUICK,
            )
        await self._record_clock(
            "extended",
            "subject_access.extended",
            {"one_month_deadline": before.deadline, "letter_key": letter},
            actor=inp.decided_by,
            decision="extended",
            legal_basis="UK GDPR Art 12(3): extension by two further months",
        )
        return view

    @extend.validator
    def _validate_extend(self, inp: ExtendInput) -> None:
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        if not inp.reason or not inp.reason.strip():
            raise ValueError("an extension needs the reasons the requester will be given")
        if not self._started():
            raise ValueError("the clock has not started yet: nothing to extend")
        if self._extended:
            raise ValueError("the deadline has already been extended")
        dl = compute_deadline(self._start(), self._pauses)
        if not can_extend(dl, self._today()):
            raise ValueError(
                f"the one-month deadline ({dl.deadline}) has passed: an extension must be "
                "notified within the first month"
            )

    @workflow.update
    async def clarify(self, inp: ClarifyInput) -> ClockView:
        if inp.asked:
            self._pauses.append(Pause(date.fromisoformat(inp.asked)))
        if inp.answered:
            last = self._pauses[-1]
            self._pauses[-1] = Pause(last.asked, date.fromisoformat(inp.answered))
        self._clock_version += 1
        n = len(self._pauses)
        if inp.asked and workflow.patched(LETTERS):
            await self._letter("clarification_request", {"asked": inp.asked}, discriminator=str(n))
        await self._record_clock(
            f"pause:{n}:{'answered' if inp.answered else 'asked'}",
            "subject_access.clarification_answered" if inp.answered else "subject_access.clarification_asked",
            {"asked": _iso(self._pauses[-1].asked), "answered": _iso(self._pauses[-1].answered)},
            legal_basis="UK GDPR Art 12A: the clock stops while awaiting clarification",
        )
        return self._clock()

    @clarify.validator
    def _validate_clarify(self, inp: ClarifyInput) -> None:
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        if bool(inp.asked) == bool(inp.answered):
            raise ValueError("give either --asked (the clock stops) or --answered (it restarts)")
        if not self._started():
            raise ValueError("the clock has not started yet: a pause needs a running clock")
        open_pause = bool(self._pauses) and self._pauses[-1].answered is None
        try:
            if inp.asked:
                if open_pause:
                    raise ValueError(f"a clarification asked on {self._pauses[-1].asked} is still unanswered")
                asked = self._date(inp.asked, "asked")
                assert asked is not None
                pauses = [*self._pauses, Pause(asked)]
            else:
                if not open_pause:
                    raise ValueError("no clarification is awaiting an answer")
                answered = self._date(inp.answered, "answered")
                assert answered is not None
                pauses = [*self._pauses[:-1], Pause(self._pauses[-1].asked, answered)]
        except ApplicationError as exc:
            raise ValueError(exc.message) from None
        compute_deadline(self._start(), pauses)  # raises ValueError for a reversed or overlapping pause

    # -- updates: review and decision ---------------------------------------------------------------------

    @workflow.update
    async def review(self, inp: ReviewInput) -> RedactResult:
        self._released = sorted(set(self._released) | set(inp.release))
        self._added = [*self._added, *inp.add]
        self._review_version += 1
        await self._redact()
        assert self._redaction is not None
        return self._redaction

    @review.validator
    def _validate_review(self, inp: ReviewInput) -> None:
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        if self._redaction is None or self._stage != "awaiting_review":
            raise ValueError("redactions can be reviewed once the records have been gathered and redacted")
        if not inp.release and not inp.add:
            raise ValueError("give redactions to release or to add")
        unknown = [r for r in inp.release if r not in self._redaction.redaction_ids]
        if unknown:
            raise ValueError(f"no such redaction: {', '.join(unknown)}")
        for a in inp.add:
            if not a.text or len(a.text.strip()) < 2:
                raise ValueError("an added redaction needs the text to withhold")
            if a.basis not in BASES:
                raise ValueError(f"basis must be one of {', '.join(BASES)}")

    @workflow.update
    async def approve(self, inp: ApproveInput) -> str:
        self._decision = "approved"
        self._decided_by = inp.decided_by
        await self._record(
            "approved",
            "subject_access.approved",
            {"review_version": self._review_version},
            actor=inp.decided_by,
            decision="approved",
            legal_basis="UK GDPR Art 15",
        )
        return "approved"

    @approve.validator
    def _validate_approve(self, inp: ApproveInput) -> None:
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        if not self._started():
            raise ValueError(
                "the clock has not started: waiting for "
                + " and ".join(self._waiting_for())
                + " evidence; nothing can be disclosed yet"
            )
        if self._stage != "awaiting_review":
            raise ValueError(f"the response is not ready for approval (stage: {self._stage})")

    @workflow.update
    async def reject(self, inp: RejectInput) -> str:
        self._decision = "refused"
        self._exemption = inp.exemption
        await self._record(
            "refused",
            "subject_access.refused",
            {},
            actor=inp.decided_by,
            decision="refused",
            legal_basis=inp.exemption[:200],
        )
        return "refused"

    @reject.validator
    def _validate_reject(self, inp: RejectInput) -> None:
        if self._decision is not None:
            raise ValueError(f"the request has already been {self._decision}")
        if not inp.exemption or not inp.exemption.strip():
            raise ValueError("a refusal must state the exemption relied on")
