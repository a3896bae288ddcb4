"""What the erasure, rectification, restriction and objection workflows ask of the stores: restriction,
consent withdrawal, rectification, statements, Article 19 notices, letters, certificates, decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class StoreKeys:
    """The subject's confirmed keys in one store."""

    request_id: str
    service: str
    record_keys: list[str]


@dataclass(kw_only=True)
class RestrictInput:
    request_id: str
    service: str
    record_keys: list[str]
    restrict: bool  # True: set the restricted field; False: lift it
    on: str  # YYYY-MM-DD (the day written in the restricted field; recorded when lifting)
    reason: str = "accuracy"


@dataclass(kw_only=True)
class ConsentInput:
    request_id: str
    service: str
    record_keys: list[str]
    withdrawn_on: str  # YYYY-MM-DD


@dataclass(kw_only=True)
class ConsentResult:
    service: str
    supported: bool  # the service has a consents role
    withdrawn: int  # consents newly marked withdrawn
    already: int  # consents that were already withdrawn


@dataclass(kw_only=True)
class RectifyInput:
    request_id: str
    service: str
    record_keys: list[str]
    field: str  # identity name or data category (rightsflow.erasure.rectifiable_fields)
    value: str  # the corrected value (personal data: only ever inside the encrypted payload)
    on: str  # YYYY-MM-DD


@dataclass(kw_only=True)
class RectifyResult:
    service: str
    fields: list[str]  # store columns changed (names only)
    rows: int
    note: str  # "case_note" | "register_only" (where the store has nowhere to keep the note)


@dataclass(kw_only=True)
class StatementInput:
    request_id: str
    service: str
    record_keys: list[str]
    field: str
    statement: str  # the person's supplementary statement (personal data: encrypted payload only)
    on: str


@dataclass(kw_only=True)
class NoticeException:
    """A recipient not sent a notice: impossible or disproportionate effort, with the reasons."""

    service: str
    recipient: str
    reason: str


@dataclass(kw_only=True)
class NoticesInput:
    request_id: str
    service: str
    record_keys: list[str]
    kind: str  # erasure | rectification | restriction | restriction_lifted
    on: str
    detail: str = ""  # what changed, in words without values ("the date of birth was corrected")
    field_label: str = ""  # rectification: the field's label ("Date of birth")
    value: str | None = None  # rectification: the corrected value (personal data: encrypted payload only)
    exceptions: list[NoticeException] = field(default_factory=list)


@dataclass(kw_only=True)
class Notice:
    service: str
    recipient: str
    sent: bool
    letter_key: str | None = None
    reason: str | None = None  # why not sent


@dataclass(kw_only=True)
class LetterInput:
    request_id: str
    subject_ref: str
    template: str  # file under templates/, e.g. erasure_letter.html.j2
    name: str  # the letter's name in its key, e.g. "outcome"
    context: dict[str, Any] = field(default_factory=dict)  # no identifiers: the subject is added here


@dataclass(kw_only=True)
class CertificateInput:
    request_id: str
    kind: str  # erasure | rectification | restriction | restriction_lifted | objection
    name: str
    body: dict[str, Any] = field(default_factory=dict)  # outcome without personal data


@dataclass(kw_only=True)
class DecisionInput:
    request_id: str
    key: str
    decision: str
    decided_by: str
    service: str | None = None
    legal_basis: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
