"""The register's audit log: append-only, hash-chained, one line under any concurrency.

Each entry carries the hash of the one before it, so an edited, removed or inserted entry shows.
Appends are serialised by the chain's head row (:class:`AuditChainHead`), locked first in the
append's own transaction, so parallel activities never both link to the same entry.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .register_base import RegisterBase, Timestamp, _now


class AuditEntry(RegisterBase):
    """Append-only: who did what, when, on what legal basis. References only."""

    __tablename__ = "audit_entry"
    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=_now)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[str | None] = mapped_column(String(40), index=True)
    subject_ref: Mapped[str | None] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(64))
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(RegisterBase):
    """The newest entry of the audit chain, one row. Every append locks this row first (an UPDATE
    in the append's own transaction: a row lock on PostgreSQL and MariaDB, the write lock on
    SQLite), so concurrent appends queue and each links to the one before it: one line, no forks.
    It also shows when the newest entries were removed."""

    __tablename__ = "audit_chain_head"
    chain: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_entry_id: Mapped[int | None] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)


AUDIT_CHAIN = "audit"
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class ChainReport:
    """What verifying the audit chain found. ``broken_at`` is the first entry that does not follow
    from the one before it (None: the chain holds)."""

    entries: int
    broken_at: int | None = None
    broken_at_time: datetime | None = None
    broken_action: str | None = None
    reason: str | None = None
    shared_previous: int = 0  # entries that link to an entry another entry already links to
    last_at: datetime | None = None

    @property
    def holds(self) -> bool:
        return self.broken_at is None and self.reason is None


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(_mapper, _conn, _target) -> None:  # type: ignore[no-untyped-def]
    raise PermissionError("the audit log is append-only")


def _entry_hash(previous: str, e: AuditEntry) -> str:
    body = json.dumps(
        [
            previous,
            e.idempotency_key,
            e.at.isoformat(),
            e.actor,
            e.action,
            e.request_id,
            e.subject_ref,
            e.service,
            e.legal_basis,
            e.detail,
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    request_id: str | None
    service: str | None
    legal_basis: str | None
    detail: dict


class AuditLog:
    """The audit log's methods of :class:`rightsflow.register.Register`."""

    def session(self) -> AbstractContextManager[Session]:  # provided by Register
        raise NotImplementedError

    def audit(
        self,
        idempotency_key: str,
        *,
        actor: str,
        action: str,
        request_id: str | None = None,
        subject_ref: str | None = None,
        service: str | None = None,
        legal_basis: str | None = None,
        detail: dict | None = None,
    ) -> bool:
        """Append an entry once: a retried activity passes the same key and adds nothing.

        Appends are serialised by the chain's head row (see :class:`AuditChainHead`), inside this
        transaction, so any number of concurrent writers leave one unbroken chain.
        """
        exists = select(AuditEntry.entry_id).where(AuditEntry.idempotency_key == idempotency_key)
        with self.session() as s:
            if s.scalar(exists):
                return False
        try:
            with self.session() as s:
                head = self._lock_chain_head(s)
                # Under the lock: a second attempt of the same activity may have just written it.
                if s.scalar(exists):
                    return False
                self._append(
                    s,
                    head,
                    idempotency_key,
                    actor,
                    action,
                    request_id,
                    subject_ref,
                    service,
                    legal_basis,
                    detail,
                )
        except IntegrityError:
            # MariaDB's repeatable read may not show the twin's entry to the check above; its
            # unique key does.
            with self.session() as s:
                if s.scalar(exists):
                    return False
            raise
        return True

    def _lock_chain_head(self, s: Session) -> AuditChainHead:
        """Take the chain's lock (first statement that writes, so SQLite takes its write lock
        before reading anything) and return the head as it is now, under the lock."""
        locked = s.execute(
            update(AuditChainHead).where(AuditChainHead.chain == AUDIT_CHAIN).values(updated_at=_now())
        ).rowcount
        if not locked:
            # A register whose head row is missing (made before the chain had one): start it
            # from the newest entry; a concurrent creator wins the primary key and we lock its row.
            last = s.scalar(select(AuditEntry).order_by(AuditEntry.entry_id.desc()).limit(1))
            count = s.scalar(select(func.count()).select_from(AuditEntry)) or 0
            try:
                with s.begin_nested():
                    s.add(
                        AuditChainHead(
                            chain=AUDIT_CHAIN,
                            last_entry_id=last.entry_id if last else None,
                            last_hash=last.entry_hash if last else GENESIS_HASH,
                            entries=count,
                        )
                    )
            except IntegrityError:
                pass
            s.execute(
                update(AuditChainHead).where(AuditChainHead.chain == AUDIT_CHAIN).values(updated_at=_now())
            )
        return s.execute(
            select(AuditChainHead)
            .where(AuditChainHead.chain == AUDIT_CHAIN)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()

    def _append(
        self,
        s: Session,
        head: AuditChainHead,
        idempotency_key: str,
        actor: str,
        action: str,
        request_id: str | None,
        subject_ref: str | None,
        service: str | None,
        legal_basis: str | None,
        detail: dict | None,
    ) -> None:
        previous = head.last_hash
        entry = AuditEntry(
            idempotency_key=idempotency_key,
            at=_now(),
            actor=actor,
            action=action,
            request_id=request_id,
            subject_ref=subject_ref,
            service=service,
            legal_basis=legal_basis,
            detail=json.dumps(detail or {}, sort_keys=True, default=str),
            previous_hash=previous,
            entry_hash="",
        )
        entry.entry_hash = _entry_hash(previous, entry)
        s.add(entry)
        s.flush()  # the entry id, which the head records
        head.last_entry_id = entry.entry_id
        head.last_hash = entry.entry_hash
        head.entries = (head.entries or 0) + 1

    def audit_trail(self, request_id: str) -> list[AuditRecord]:
        with self.session() as s:
            rows = s.scalars(
                select(AuditEntry).where(AuditEntry.request_id == request_id).order_by(AuditEntry.entry_id)
            )
            return [
                AuditRecord(
                    r.at, r.actor, r.action, r.request_id, r.service, r.legal_basis, json.loads(r.detail)
                )
                for r in rows
            ]

    def verify_audit_chain(self) -> int | None:
        """Return the id of the first entry whose chain is broken, or None when intact."""
        report = self.audit_chain_report()
        if report.holds:
            return None
        return report.broken_at if report.broken_at is not None else -1

    def audit_chain_report(self) -> ChainReport:
        """Walk the whole chain in order: each entry must link to the one before it and hash to
        what it says, and the head must point at the newest entry (else entries were removed)."""
        previous = GENESIS_HASH
        seen_previous: set[str] = set()
        shared = count = 0
        first_break: tuple[int, datetime, str, str] | None = None
        last_id: int | None = None
        last_at: datetime | None = None
        with self.session() as s:
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.entry_id)).yield_per(1000):
                count += 1
                if e.previous_hash in seen_previous:
                    shared += 1
                seen_previous.add(e.previous_hash)
                if first_break is None:
                    if e.previous_hash != previous:
                        first_break = (e.entry_id, e.at, e.action, "it does not link to the entry before it")
                    elif _entry_hash(previous, e) != e.entry_hash:
                        first_break = (e.entry_id, e.at, e.action, "its contents were changed")
                previous = e.entry_hash
                last_id, last_at = e.entry_id, e.at
            head = s.get(AuditChainHead, AUDIT_CHAIN)
        if first_break is not None:
            entry_id, at, action, reason = first_break
            return ChainReport(count, entry_id, at, action, reason, shared, last_at)
        if head is not None and (head.last_entry_id != last_id or head.last_hash != previous):
            return ChainReport(
                count,
                reason=f"the newest entries were removed: the chain ended at entry {head.last_entry_id}",
                shared_previous=shared,
                last_at=last_at,
            )
        return ChainReport(count, shared_previous=shared, last_at=last_at)
