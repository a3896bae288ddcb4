"""Correspondence activities: thin adapters over rightsflow.letters and rightsflow.mail.

``send_letter`` renders and stores the letter first (idempotent: a retry finds it), then sends it;
a mail failure raises, the workflow's retry policy runs the activity again, and the stored letter
is sent then. ``notify_staff`` emails a reminder or escalation to the council's staff.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeats
from rightsflow.catalog import Catalog
from rightsflow.config import Settings
from rightsflow.contracts.correspondence import LetterSent, SendLetterInput, StaffNoticeInput
from rightsflow.letters import LetterError, Letters
from rightsflow.mail import MailConfigError, Mailer
from rightsflow.register import Register


class CorrespondenceActivities:
    def __init__(self, settings: Settings, catalog: Catalog, register: Register, client: Any = None) -> None:
        self.letters = Letters(settings, catalog, register, client)
        self._mailer: Mailer | None = None

    @property
    def mailer(self) -> Mailer:
        if self._mailer is None:
            try:
                self._mailer = Mailer(self.letters)
            except MailConfigError as exc:
                raise ApplicationError(str(exc), type="MailConfigError", non_retryable=True) from None
        return self._mailer

    def _controller(self, request_id: str) -> str | None:
        return self.letters.controller_code(request_id)

    @activity.defn
    @heartbeats  # rendering and SMTP can take a while: a dead worker's letter moves on in ~20 s
    def send_letter(self, inp: SendLetterInput) -> LetterSent:
        if self._controller(inp.request_id) is None:
            # Filed without a council (several in the catalogue, none named): there is no
            # letterhead to send it under. Recorded, not retried: the DPO writes by hand.
            self.letters.register.audit(
                f"{inp.request_id}:letter-not-sent:{inp.kind}:{inp.discriminator}",
                actor="rightsflow",
                action="letter.not_sent",
                request_id=inp.request_id,
                detail={"kind": inp.kind, "reason": "the request names no controller"},
            )
            activity.logger.info("letter %s for %s not sent: no controller", inp.kind, inp.request_id)
            return LetterSent(letter_id="", kind=inp.kind, pdf_key="", channel="none", status="not_sent")
        try:
            letter = self.letters.issue(
                inp.request_id,
                inp.kind,
                inp.facts,
                discriminator=inp.discriminator,
                recipient=inp.recipient,
                attachments=inp.attachments,
            )
            delivery = self.mailer.deliver(letter.letter_id)
        except (LetterError, MailConfigError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        activity.logger.info(
            "letter %s (%s) for %s: %s by %s",
            letter.letter_id,
            inp.kind,
            inp.request_id,
            delivery.status,
            delivery.channel,
        )
        return LetterSent(
            letter_id=letter.letter_id,
            kind=letter.kind,
            pdf_key=letter.pdf_key,
            channel=letter.channel,
            status=delivery.status,
        )

    @activity.defn
    @heartbeats
    def notify_staff(self, inp: StaffNoticeInput) -> int:
        code = inp.controller or (self._controller(inp.request_id) if inp.request_id else None)
        if not code:
            return 0
        try:
            sent = self.mailer.notify_staff(
                inp.key,
                code,
                inp.roles,
                inp.subject,
                inp.body,
                request_id=inp.request_id,
                service=inp.service,
            )
        except MailConfigError as exc:
            raise ApplicationError(str(exc), type="MailConfigError", non_retryable=True) from None
        return len(sent)
