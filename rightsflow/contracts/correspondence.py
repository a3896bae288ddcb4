"""What workflows ask of correspondence: a letter rendered, stored and sent; staff told by email.

Only opaque references and non-identifying facts travel here (dates, service ids, reasons the DPO
typed); the requester's and subject's details are read from the register when the letter renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class SendLetterInput:
    request_id: str
    kind: str  # rightsflow.letters.KINDS
    facts: dict[str, Any] = field(default_factory=dict)
    discriminator: str = ""  # a second letter of the same kind (another recipient, a later notice)
    recipient: str | None = None  # an organisation (Article 19 notice, transfer letter)
    attachments: list[str] = field(default_factory=list)  # S3 keys sent as links (the SAR pack)


@dataclass(kw_only=True)
class LetterSent:
    letter_id: str
    kind: str
    pdf_key: str
    channel: str  # email | post | none
    status: str  # sent | queued | not_sent


@dataclass(kw_only=True)
class StaffNoticeInput:
    key: str  # idempotency: one email per key
    controller: str
    roles: list[str]  # dpo | records_manager | service_lead
    subject: str  # references and dates only: never personal data
    body: str
    request_id: str | None = None
    service: str | None = None
