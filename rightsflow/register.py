"""The register: rights requests, their decisions, and an append-only audit log.

Subjects are held as keyed hashes (a blind index, to find a returning subject without
storing the identifier) plus the identifiers sealed with AES-GCM, which only activities
open. Requests and the audit log carry opaque references, never personal data. Each
audit entry carries the hash of the one before it, so an edited or deleted entry shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from .audit_log import (  # noqa: F401 - the audit log's names are imported from here too
    AUDIT_CHAIN,
    GENESIS_HASH,
    AuditChainHead,
    AuditEntry,
    AuditLog,
    AuditRecord,
    ChainReport,
    _entry_hash,
)
from .config import Settings
from .db import engine_for_url
from .identity import SubjectIdentifiers
from .keys import keyed_hash, load_codec_keys, load_hash_key
from .register_base import RegisterBase, Timestamp, _now  # noqa: F401 - other modules import them from here

REQUEST_TYPES = (
    "subject_search",
    "subject_access",
    "erasure",
    "rectification",
    "restriction",
    "objection",
    "consent_withdrawal",
    "portability",
    "transfer",
)


def new_ref(prefix: str) -> str:
    """An opaque id: random, never derived from personal data."""
    return f"{prefix}_{secrets.token_hex(10)}"


class RegisteredSubject(RegisterBase):
    __tablename__ = "register_subject"
    subject_ref: Mapped[str] = mapped_column(String(40), primary_key=True)
    nhs_index: Mapped[str | None] = mapped_column(String(64), index=True)
    upn_index: Mapped[str | None] = mapped_column(String(64), index=True)
    name_dob_index: Mapped[str | None] = mapped_column(String(64), index=True)
    sealed_identifiers: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)


class RightsRequest(RegisterBase):
    __tablename__ = "rights_request"
    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_type: Mapped[str] = mapped_column(String(30))
    subject_ref: Mapped[str] = mapped_column(ForeignKey("register_subject.subject_ref"), index=True)
    requester: Mapped[str] = mapped_column(String(30), default="self")
    # The council the request was made to (catalog/controllers/<code>.yaml); None before controllers.
    controller: Mapped[str | None] = mapped_column(String(40))
    # Who asks (name, email, postal address), sealed like a subject's identifiers; None: not given.
    requester_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    requester_key_id: Mapped[str | None] = mapped_column(String(64))
    received_on: Mapped[date | None] = mapped_column(Date)
    clock_start: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(40), default="open")
    stage: Mapped[str | None] = mapped_column(String(60))
    # Status needs_attention: the reason code (rightsflow.contracts.attention.REASONS), no personal data.
    attention: Mapped[str | None] = mapped_column(String(40))
    workflow_id: Mapped[str | None] = mapped_column(String(80))
    # The console user (a DPO's user name) the request is assigned to; None: nobody yet.
    assignee: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=_now, onupdate=_now)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (Index("ix_rights_request_open", "status", "deadline"),)


class RequestMatch(RegisterBase):
    """A store record found to be about a request's subject (an opaque store key).

    Sweeps read these: an open request about anyone in a household blocks its disposal.
    """

    __tablename__ = "request_match"
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_request.request_id"), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    strength: Mapped[str] = mapped_column(String(30))
    confirmed: Mapped[bool] = mapped_column(default=False)
    __table_args__ = (Index("ix_request_match_service_key", "service", "record_key"),)


class Decision(RegisterBase):
    __tablename__ = "request_decision"
    decision_id: Mapped[str] = mapped_column(String(60), primary_key=True)  # deterministic: idempotent
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_request.request_id"), index=True)
    service: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(40))
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str] = mapped_column(String(80))
    decided_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)


class Letter(RegisterBase):
    """A letter rendered for a request (HTML and PDF under Object Lock). References only."""

    __tablename__ = "letter"
    letter_id: Mapped[str] = mapped_column(String(40), primary_key=True)  # deterministic: idempotent
    request_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    addressee: Mapped[str] = mapped_column(String(20))  # requester | recipient
    recipient: Mapped[str | None] = mapped_column(String(200))  # the organisation, for a recipient letter
    channel: Mapped[str] = mapped_column(String(10))  # email | post | none: how it is to be sent
    html_key: Mapped[str] = mapped_column(String(300))
    pdf_key: Mapped[str] = mapped_column(String(300))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    attachments: Mapped[str] = mapped_column(Text, default="[]")  # JSON: extra S3 keys sent with it
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)


class LetterDelivery(RegisterBase):
    """Each time a letter was sent (email) or printed for post; failures are kept too."""

    __tablename__ = "letter_delivery"
    delivery_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    letter_id: Mapped[str] = mapped_column(ForeignKey("letter.letter_id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | post
    status: Mapped[str] = mapped_column(String(20))  # sent | failed | printed | not_sent
    at: Mapped[datetime] = mapped_column(Timestamp, default=_now)
    message_id: Mapped[str | None] = mapped_column(String(200))
    batch_key: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(String(200))  # why not sent: never personal data


class Register(AuditLog):
    """Access to the register database; one instance per process is enough."""

    def __init__(self, settings: Settings, url: str | None = None) -> None:
        self.settings = settings
        self.engine = engine_for_url(url or settings.register_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._hash_key = load_hash_key(settings)
        self._key_id, self._keys = load_codec_keys(settings)

    def create_schema(self) -> None:
        """Upgrade the register to the current schema in place (creating it if new); see
        :mod:`rightsflow.migrations`. Cheap when it is already current."""
        from .migrations import upgrade_register

        upgrade_register(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    # -- subjects --------------------------------------------------------------------------
    def _indexes(self, ids: SubjectIdentifiers) -> dict[str, str | None]:
        name_dob = None
        if ids.family_name and ids.date_of_birth:
            name_dob = f"{ids.given_name}|{ids.family_name}|{ids.date_of_birth.isoformat()}"
        return {
            "nhs_index": keyed_hash(self._hash_key, ids.nhs_number, "nhs_number") if ids.nhs_number else None,
            "upn_index": keyed_hash(self._hash_key, ids.upn, "upn") if ids.upn else None,
            "name_dob_index": keyed_hash(self._hash_key, name_dob, "name_dob") if name_dob else None,
        }

    def register_subject(self, ids: SubjectIdentifiers) -> str:
        """Return the subject's reference, reusing it when the same identifiers come again."""
        idx = self._indexes(ids)
        with self.session() as s:
            for column in ("nhs_index", "upn_index", "name_dob_index"):
                if idx[column]:
                    found = s.scalar(
                        select(RegisteredSubject.subject_ref).where(
                            getattr(RegisteredSubject, column) == idx[column]
                        )
                    )
                    if found and self.subject_identifiers(found).same_as(ids):
                        return found
            ref = new_ref("subj")
            nonce = os.urandom(12)
            plaintext = json.dumps(ids.to_dict()).encode()
            sealed = nonce + AESGCM(self._keys[self._key_id]).encrypt(nonce, plaintext, ref.encode())
            s.add(RegisteredSubject(subject_ref=ref, sealed_identifiers=sealed, key_id=self._key_id, **idx))
            return ref

    def subject_identifiers(self, subject_ref: str) -> SubjectIdentifiers:
        with self.session() as s:
            row = s.get(RegisteredSubject, subject_ref)
            if row is None:
                raise LookupError(f"no subject {subject_ref} in the register")
            key = self._keys.get(row.key_id)
            if key is None:
                raise LookupError(f"subject {subject_ref} is sealed with unknown key id {row.key_id}")
            nonce, body = row.sealed_identifiers[:12], row.sealed_identifiers[12:]
            plain = AESGCM(key).decrypt(nonce, body, subject_ref.encode())
            return SubjectIdentifiers.from_dict(json.loads(plain))

    def _seal(self, aad: str, doc: dict) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._keys[self._key_id]).encrypt(nonce, json.dumps(doc).encode(), aad.encode())

    def seal_requester(self, request_id: str, details: dict[str, object]) -> None:
        """Keep who asks (kind, name, email, address) sealed on the request, as subjects are."""
        aad = f"requester:{request_id}"
        with self.session() as s:
            req = s.get(RightsRequest, request_id)
            if req is None:
                raise LookupError(f"no request {request_id} in the register")
            req.requester_sealed = self._seal(aad, details)
            req.requester_key_id = self._key_id

    def requester_details(self, request_id: str) -> dict[str, object] | None:
        """Who asks, unsealed (None when filing gave no details: the subject asks for themself)."""
        with self.session() as s:
            req = s.get(RightsRequest, request_id)
            if req is None:
                raise LookupError(f"no request {request_id} in the register")
            if req.requester_sealed is None:
                return None
            key = self._keys.get(req.requester_key_id or "")
            if key is None:
                raise LookupError(f"request {request_id}'s requester is sealed with an unknown key id")
            nonce, body = req.requester_sealed[:12], req.requester_sealed[12:]
            return json.loads(AESGCM(key).decrypt(nonce, body, f"requester:{request_id}".encode()))

    # -- requests --------------------------------------------------------------------------
    def create_request(
        self,
        request_type: str,
        subject_ref: str,
        *,
        received_on: date | None = None,
        requester: str = "self",
        actor: str = "dpo",
        request_id: str | None = None,
        controller: str | None = None,
        requester_details: dict[str, object] | None = None,
    ) -> RightsRequest:
        if request_type not in REQUEST_TYPES:
            raise ValueError(f"unknown request type {request_type!r}")
        request_id = request_id or new_ref("rq")
        with self.session() as s:
            req = RightsRequest(
                request_id=request_id,
                request_type=request_type,
                subject_ref=subject_ref,
                received_on=received_on,
                requester=requester,
                controller=controller,
                status="open",
                stage="filed",
            )
            if requester_details:
                req.requester_sealed = self._seal(f"requester:{request_id}", requester_details)
                req.requester_key_id = self._key_id
            s.add(req)
        self.audit(
            f"{request_id}:filed",
            actor=actor,
            action=f"{request_type}.filed",
            request_id=request_id,
            subject_ref=subject_ref,
        )
        return req

    def get_request(self, request_id: str) -> RightsRequest:
        with self.session() as s:
            req = s.get(RightsRequest, request_id)
            if req is None:
                raise LookupError(f"no request {request_id} in the register")
            return req

    def update_request(self, request_id: str, **changes: object) -> None:
        with self.session() as s:
            req = s.get(RightsRequest, request_id)
            if req is None:
                raise LookupError(f"no request {request_id} in the register")
            for k, v in changes.items():
                setattr(req, k, v)

    def open_requests(self) -> list[RightsRequest]:
        with self.session() as s:
            rows = s.scalars(
                select(RightsRequest)
                .where(RightsRequest.status != "closed")
                .order_by(RightsRequest.deadline.is_(None), RightsRequest.deadline, RightsRequest.created_at)
            )
            return list(rows)

    def record_matches(self, request_id: str, service: str, matches: list[tuple[str, str]]) -> None:
        """Upsert (record_key, strength) pairs; exact identifier matches count as confirmed."""
        with self.session() as s:
            for record_key, strength in matches:
                row = s.get(RequestMatch, (request_id, service, record_key))
                if row is None:
                    s.add(
                        RequestMatch(
                            request_id=request_id,
                            service=service,
                            record_key=record_key,
                            strength=strength,
                            confirmed=strength == "exact_identifier",
                        )
                    )

    def confirm_match(self, request_id: str, service: str, record_key: str) -> None:
        with self.session() as s:
            row = s.get(RequestMatch, (request_id, service, record_key))
            if row is None:
                raise LookupError(f"request {request_id} has no match {service}/{record_key}")
            row.confirmed = True

    def matches_for(self, request_id: str) -> list[RequestMatch]:
        with self.session() as s:
            return list(s.scalars(select(RequestMatch).where(RequestMatch.request_id == request_id)))

    def open_request_keys(self, service: str) -> set[str]:
        """Store keys in ``service`` that an open (not closed) request is about."""
        with self.session() as s:
            q = (
                select(RequestMatch.record_key)
                .join(RightsRequest, RightsRequest.request_id == RequestMatch.request_id)
                .where(
                    RequestMatch.service == service,
                    RightsRequest.status != "closed",
                    RightsRequest.request_type != "subject_search",
                )
            )
            return set(s.scalars(q))

    def record_decision(
        self,
        decision_id: str,
        request_id: str,
        decision: str,
        *,
        decided_by: str,
        service: str | None = None,
        legal_basis: str | None = None,
    ) -> None:
        if len(decision_id) > 60:  # long keys stay unique (and deterministic) as a digest
            decision_id = f"{request_id[:23]}:{hashlib.sha256(decision_id.encode()).hexdigest()[:36]}"
        with self.session() as s:
            if s.get(Decision, decision_id) is None:
                s.add(
                    Decision(
                        decision_id=decision_id,
                        request_id=request_id,
                        service=service,
                        decision=decision,
                        legal_basis=legal_basis,
                        decided_by=decided_by,
                    )
                )

    # -- audit log -------------------------------------------------------------------------
    def record_event(
        self,
        request_id: str,
        key: str,
        *,
        action: str,
        actor: str,
        detail: dict | None = None,
        legal_basis: str | None = None,
        stage: str | None = None,
        status: str | None = None,
        clock_start: str | None = None,
        deadline: str | None = None,
        decision: str | None = None,
        request_optional: bool = False,
        attention: str | None = None,
    ) -> None:
        """A workflow's event: the request's stage/status/dates, a decision if one was made, and an
        audit entry, each once per ``request_id:key``. ``request_optional``: a side that holds no
        request of its own for the id (a receiving authority) records the decision and audit only."""
        changes: dict[str, object] = {}
        if stage:
            changes["stage"] = stage
        if status:
            changes["status"] = status
            if status == "closed":
                changes["closed_at"] = datetime.now(UTC).replace(tzinfo=None)
        if attention is not None:  # a reason code; "" clears it (the DPO retried)
            changes["attention"] = attention or None
        if clock_start:
            changes["clock_start"] = date.fromisoformat(clock_start)
        if deadline:
            changes["deadline"] = date.fromisoformat(deadline)
        if changes:
            try:
                self.update_request(request_id, **changes)
            except LookupError:
                if not request_optional:
                    raise
        if decision:
            self.record_decision(
                f"{request_id}:{key}", request_id, decision, decided_by=actor, legal_basis=legal_basis
            )
        self.audit(
            f"{request_id}:{key}",
            actor=actor,
            action=action,
            request_id=request_id,
            legal_basis=legal_basis,
            detail=detail,
        )
