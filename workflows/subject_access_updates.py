"""The subject access request's clock, its update handlers and their validators.

``SarUpdates`` is the part of ``SubjectAccessRequest`` (workflows/subject_access.py) a person acts
on: identity and authority evidence (``verify``), the extension and clarification pauses
(``extend``, ``clarify``), the DPO's redaction review (``review``) and decision (``approve``,
``reject``), with the statutory clock those read (rightsflow.clock) and the register, letter and
redaction steps the handlers run. Each validator refuses a bad decision before it enters the
history, in words for the DPO.

Kept apart so each module stays readable; the workflow's command sequence is unchanged (the
handlers run the same activities in the same order), so recorded histories replay.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.kit import HEARTBEAT, SHORT, NeedsAttention, act

with workflow.unsafe.imports_passed_through():
    from rightsflow.clock import LONDON, ClockState, Pause, can_extend, clock_start, compute_deadline
    from rightsflow.contracts.correspondence import LetterSent, SendLetterInput
    from rightsflow.contracts.subject_access import (
        AddedRedaction,
        ApproveInput,
        ClarifyInput,
        ClockView,
        ExtendInput,
        LetterInput,
        PackResult,
        RecordInput,
        RedactInput,
        RedactResult,
        RejectInput,
        ReviewInput,
        SarInput,
        ServiceState,
        VerifyInput,
    )
    from rightsflow.redaction import BASES

QUICK = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Letters are stored before they are sent: a mail server that is down is tried again, without limit.
MAIL = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
# Versioned: requests filed before letters were sent replay without the letter activities.
LETTERS = "letters-sent"
# A service's states before its search has returned (ServiceState.state).
SEARCHING = frozenset({"pending", "discovering", "store_unavailable"})


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


class SarUpdates(NeedsAttention):
    """The request's state the handlers read and change (set in ``SubjectAccessRequest.__init__``)."""

    _inp: SarInput | None
    _stage: str
    _identity: date | None
    _authority: date | None
    _fee: date | None
    _parental_responsibility: bool | None
    _pauses: list[Pause]
    _extended: bool
    _extension_reason: str | None
    _services: dict[str, ServiceState]
    _match_decisions: dict[str, bool]
    _redaction: RedactResult | None
    _review_version: int
    _released: list[str]
    _added: list[AddedRedaction]
    _decision: str | None
    _decided_by: str
    _exemption: str | None
    _pack: PackResult | None
    _clock_version: int

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

    # -- register and letters ------------------------------------------------------------------------

    async def _record(
        self, key: str, action: str, detail: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        assert self._inp is not None
        await workflow.execute_activity(
            "record_event",
            RecordInput(
                request_id=self._inp.request_id, key=key, action=action, detail=detail or {}, **extra
            ),
            start_to_close_timeout=SHORT,  # a register write: retried soon if its worker is killed
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

    # -- redaction (run after gathering, and again on each review) ----------------------------------

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
        # A service still being searched may have found the candidate already: its search's result
        # can reach this very workflow task, and updates are validated before activity results
        # are applied (the status a DPO read came from the same result, seen by a worker whose
        # task then timed out under load). Its decision is kept, and applies if the candidate is
        # found; one the search does not return is never used.
        searching = {s.service for s in self._services.values() if s.state in SEARCHING and not s.candidates}
        for ref in [*inp.confirm_matches, *inp.reject_matches]:
            if ref not in known and ref.partition("/")[0] not in searching:
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
                heartbeat_timeout=HEARTBEAT,
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
