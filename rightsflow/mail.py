"""Delivery: letters by email through the council's SMTP relay, or in the day's print batch.

Configuration (environment):

* ``RIGHTSFLOW_SMTP_URL``: ``smtp://host:587`` (STARTTLS when the server offers it, and required
  whenever a password is sent), ``smtps://host:465`` (TLS from the start), credentials either in
  the URL (``smtp://user:password@host:587``, percent-encoded) or in ``RIGHTSFLOW_SMTP_USER`` and
  ``RIGHTSFLOW_SMTP_PASSWORD``. Unset: nothing is emailed and each letter's delivery says so.
* ``RIGHTSFLOW_MAIL_FROM``: the envelope and From address where the relay only accepts its own
  (letters then carry the controller's DPO address as Reply-To); default: the DPO's address.

Every attempt is recorded in the register's letter_delivery table (channel, when, message id,
status); a failed send raises so the workflow's activity retry sends it again. A letter that was
sent is never sent twice by a retry: the sent delivery is found first. Message ids are derived
from the letter, so a receiving system can also tell a duplicate.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select

from .letters import KINDS, LETTER_LOCK_DAYS, Letters
from .register import Letter, LetterDelivery
from .s3 import opaque_key, presigned_get, put_locked_object

log = logging.getLogger(__name__)

PACK_LINK_SECONDS = 7 * 24 * 3600  # the longest an S3 presigned link may live
FINAL = ("sent", "queued", "printed")  # a delivery in one of these is not attempted again
STAFF_ROLES = ("dpo", "records_manager", "service_lead")


class MailConfigError(ValueError):
    """RIGHTSFLOW_SMTP_URL cannot be used as given: retrying will not help."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    user: str | None = None
    password: str | None = None
    mail_from: str | None = None

    def where(self) -> str:
        """Where mail goes, for people (never the password)."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        who = f"{self.user}@" if self.user else ""
        return f"{scheme}://{who}{self.host}:{self.port}"


def smtp_config(env: dict[str, str] | None = None) -> SmtpConfig | None:
    env = dict(os.environ) if env is None else env
    url = env.get("RIGHTSFLOW_SMTP_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise MailConfigError("RIGHTSFLOW_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise MailConfigError("RIGHTSFLOW_SMTP_URL has no host")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise MailConfigError("RIGHTSFLOW_SMTP_URL has a port that is not a number") from None
    user = unquote(parts.username) if parts.username else env.get("RIGHTSFLOW_SMTP_USER") or None
    password = unquote(parts.password) if parts.password else env.get("RIGHTSFLOW_SMTP_PASSWORD") or None
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        user=user,
        password=password,
        mail_from=env.get("RIGHTSFLOW_MAIL_FROM") or None,
    )


def send_message(cfg: SmtpConfig, msg: EmailMessage, timeout: float = 30.0) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if cfg.implicit_tls:
        smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if not cfg.implicit_tls:
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif cfg.password:
                raise MailConfigError(
                    "the SMTP server does not offer STARTTLS: refusing to send a password in clear"
                )
        if cfg.user and cfg.password:
            smtp.login(cfg.user, cfg.password)
        smtp.send_message(msg)


def _at() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Mailer:
    """Send letters and staff notices, record every delivery, build print batches."""

    def __init__(self, letters: Letters, config: SmtpConfig | None | bool = True) -> None:
        self.letters = letters
        self.register = letters.register
        self.catalog = letters.catalog
        self._config = smtp_config() if config is True else (config or None)

    @property
    def config(self) -> SmtpConfig | None:
        return self._config

    # -- letters ------------------------------------------------------------------------------
    def _deliveries(self, letter_id: str) -> list[LetterDelivery]:
        with self.register.session() as s:
            return list(
                s.scalars(
                    select(LetterDelivery)
                    .where(LetterDelivery.letter_id == letter_id)
                    .order_by(LetterDelivery.at)
                )
            )

    def _record(self, letter_id: str, channel: str, status: str, **kw: Any) -> LetterDelivery:
        n = len(self._deliveries(letter_id))
        row = LetterDelivery(
            delivery_id=f"{letter_id}:{n + 1}",
            letter_id=letter_id,
            channel=channel,
            status=status,
            at=_at(),
            **kw,
        )
        with self.register.session() as s:
            s.add(row)
        return row

    def deliver(self, letter_id: str) -> LetterDelivery:
        """Send the stored letter by its channel; once (a final delivery is returned as it is)."""
        done = [d for d in self._deliveries(letter_id) if d.status in FINAL]
        if done:
            return done[-1]
        with self.register.session() as s:
            letter = s.get(Letter, letter_id)
        if letter is None:
            raise LookupError(f"no letter {letter_id} in the register")
        if letter.channel == "post":
            return self._record(letter_id, "post", "queued", note="in the next print batch")
        if letter.channel == "none":
            return self._record(
                letter_id, "none", "not_sent", note="no email or postal address for the addressee"
            )
        if self.config is None:
            return self._record(letter_id, "email", "not_sent", note="no mail server (RIGHTSFLOW_SMTP_URL)")
        msg = self._message(letter)
        try:
            send_message(self.config, msg)
        except MailConfigError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            # Recorded, then raised: the activity's retry policy sends it again.
            self._record(letter_id, "email", "failed", note=type(exc).__name__)
            raise
        row = self._record(letter_id, "email", "sent", message_id=msg["Message-ID"])
        self.register.audit(
            f"{letter.request_id}:letter-sent:{letter_id}",
            actor="rightsflow",
            action="letter.sent",
            request_id=letter.request_id,
            detail={"letter_id": letter_id, "channel": "email", "message_id": msg["Message-ID"]},
        )
        log.info("letter %s for %s sent by email", letter_id, letter.request_id)
        return row

    def _message(self, letter: Letter) -> EmailMessage:
        ctx = self.letters.context(letter.request_id, {}, recipient=None)
        controller = ctx["controller"]
        if letter.addressee == "recipient":
            # The organisation's address was resolved when the letter was rendered: read it back.
            name, email = self._recipient_of(letter)
        else:
            name, email = ctx["addressee"]["name"], ctx["addressee"]["email"]
        title = KINDS[letter.kind].title if letter.kind in KINDS else letter.kind
        dpo = controller["dpo"]
        sender = formataddr((f"{controller['short_name']} Data Protection Officer", dpo["email"]))
        msg = EmailMessage()
        msg["From"] = self.config.mail_from if self.config and self.config.mail_from else sender
        if self.config and self.config.mail_from:
            msg["Reply-To"] = sender
        msg["To"] = formataddr((str(name or ""), str(email)))
        msg["Subject"] = f"{title}: our reference {letter.request_id}"
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{letter.letter_id}@{dpo['email'].rpartition('@')[2]}>"
        lines = [f"Dear {name}," if name else "Dear Sir or Madam,", ""]
        lines.append(f"Please find attached our letter: {title} (our reference {letter.request_id}).")

        for key in json.loads(letter.attachments or "[]"):
            link = presigned_get(self.letters.client, self.letters.bucket, key, PACK_LINK_SECONDS)
            lines += [
                "",
                "Your records are ready to download here (the link works for 7 days;",
                "ask us for a new one after that):",
                link,
            ]
        lines += [
            "",
            f"If you have any questions, contact {dpo['name']}, Data Protection Officer, at {dpo['email']} "
            f"or on {dpo['phone']}.",
            "",
            "Yours sincerely,",
            controller["signature"]["name"],
            controller["signature"]["title"],
        ]
        msg.set_content("\n".join(lines))
        pdf = self.letters.read(letter.pdf_key)
        msg.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=f"{letter.kind}-{letter.request_id}.pdf"
        )
        return msg

    def _recipient_of(self, letter: Letter) -> tuple[str, str | None]:
        name = letter.recipient or ""
        contact = self.letters.controller_for(letter.request_id).recipients.get(name)
        return name, contact.email if contact else None

    # -- staff ----------------------------------------------------------------------------------
    def staff_addresses(
        self, controller_code: str, roles: list[str], service: str | None = None
    ) -> list[str]:
        ctrl = self.catalog.controllers.get(controller_code)
        if ctrl is None:
            return []
        out: list[str] = []
        for role in roles:
            if role == "dpo":
                out.append(ctrl.dpo_email)
            elif role == "records_manager" and ctrl.notify.records_manager:
                out.append(ctrl.notify.records_manager)
            elif role == "service_lead":
                leads = ctrl.notify.service_leads
                if service is None:
                    out += list(leads.values())
                elif service in leads:
                    out.append(leads[service])
        return list(dict.fromkeys(out))

    def notify_staff(
        self,
        key: str,
        controller_code: str,
        roles: list[str],
        subject: str,
        body: str,
        *,
        request_id: str | None = None,
        service: str | None = None,
    ) -> list[str]:
        """Email a reminder or escalation (references and dates only) to the council's staff; once per key."""
        to = self.staff_addresses(controller_code, roles, service)
        idem = f"staff-mail:{key}"
        if not to or self.config is None:
            return []
        from .register import AuditEntry

        with self.register.session() as s:
            if s.scalar(select(AuditEntry.entry_id).where(AuditEntry.idempotency_key == idem)):
                return to
        ctrl = self.catalog.controller(controller_code)
        msg = EmailMessage()
        msg["From"] = self.config.mail_from or formataddr(("rightsflow", ctrl.dpo_email))
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        msg["Message-ID"] = f"<staff-{digest}@{ctrl.dpo_email.rpartition('@')[2]}>"
        msg.set_content(body)
        send_message(self.config, msg)
        self.register.audit(
            idem,
            actor="rightsflow",
            action="staff.notified",
            request_id=request_id,
            service=service,
            detail={"roles": roles, "recipients": len(to), "message_id": msg["Message-ID"]},
        )
        return to

    # -- post -------------------------------------------------------------------------------------
    def print_batch(self, day: date) -> tuple[str | None, int]:
        """One PDF of the day's postal letters not yet printed, stored under Object Lock."""
        from pypdf import PdfReader, PdfWriter

        start = datetime.combine(day, time.min)
        with self.register.session() as s:
            rows = list(
                s.scalars(
                    select(Letter)
                    .where(
                        Letter.channel == "post",
                        Letter.created_at >= start,
                        Letter.created_at < start + timedelta(days=1),
                    )
                    .order_by(Letter.created_at, Letter.letter_id)
                )
            )
        todo = [r for r in rows if not any(d.status == "printed" for d in self._deliveries(r.letter_id))]
        if not todo:
            return None, 0
        writer = PdfWriter()
        for r in todo:
            reader = PdfReader(io.BytesIO(self.letters.read(r.pdf_key)))
            writer.append(reader)
            if len(reader.pages) % 2:  # each letter starts on a fresh sheet when printed double-sided
                writer.add_blank_page()
        buf = io.BytesIO()
        writer.write(buf)
        token = hashlib.sha256("|".join(r.letter_id for r in todo).encode()).hexdigest()[:32]
        key = opaque_key("print-batches", day.isoformat(), f"{token}.pdf")
        until = datetime.now(UTC) + timedelta(days=LETTER_LOCK_DAYS)
        self.letters._put_once(key, buf.getvalue(), "application/pdf", until)
        for r in todo:
            self._record(r.letter_id, "post", "printed", batch_key=key)
        return key, len(todo)


__all__ = ["Mailer", "MailConfigError", "SmtpConfig", "smtp_config", "send_message", "put_locked_object"]
