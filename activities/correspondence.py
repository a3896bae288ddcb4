"""Correspondence activities: thin adapters over rightsflow.letters and rightsflow.mail.

``send_letter`` renders and stores the letter first (idempotent: a retry finds it), then sends it;
a mail failure raises, the workflow's retry policy runs the activity again, and the stored letter
is sent then. ``notify_staff`` emails a reminder or escalation to the council's staff.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

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

    @activity.defn
    def send_letter(self, inp: SendLetterInput) -> LetterSent:
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
    def notify_staff(self, inp: StaffNoticeInput) -> int:
        try:
            sent = self.mailer.notify_staff(
                inp.key,
                inp.controller,
                inp.roles,
                inp.subject,
                inp.body,
                request_id=inp.request_id,
                service=inp.service,
            )
        except MailConfigError as exc:
            raise ApplicationError(str(exc), type="MailConfigError", non_retryable=True) from None
        return len(sent)
