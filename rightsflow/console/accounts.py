"""Console accounts: who may sign in, with which role, and (for a service lead) which service.

Local accounts hold an argon2 hash of their password (argon2-cffi, the OWASP-recommended
algorithm); accounts that sign in through OpenID Connect hold no password at all. The table lives
on the register's metadata, so ``create_schema`` and the register's migrations carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, String, select
from sqlalchemy.orm import Mapped, mapped_column

from rightsflow.register import Register, RegisterBase, Timestamp, _now

#: What each role may do; the server checks these on every request, the pages only mirror them.
ROLES: dict[str, str] = {
    "dpo": "Data Protection Officer: everything about rights requests",
    "records_manager": "Records manager: retention, holds, disposition reviews, certificates",
    "service_lead": "Service lead: confirms matches and answers proposals for one service",
    "auditor": "Auditor: reads everything, changes nothing",
}
ROLE_LABELS = {
    "dpo": "Data Protection Officer",
    "records_manager": "Records manager",
    "service_lead": "Service lead",
    "auditor": "Auditor",
}

_hasher = PasswordHasher()
# A hash to verify against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("rightsflow: no such account")


class ConsoleUser(RegisterBase):
    __tablename__ = "console_user"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    role: Mapped[str] = mapped_column(String(30))
    service: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(10), default="local")  # local | oidc
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=_now)


@dataclass(frozen=True)
class User:
    """The signed-in user as the pages and the audit log see them."""

    username: str
    role: str
    service: str | None = None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


class AccountError(ValueError):
    """A one-line reason an account cannot be created or changed."""


def valid_username(name: str) -> bool:
    # Names go into the audit log as the actor: short, printable, no spaces.
    return 1 <= len(name) <= 80 and all(c.isalnum() or c in "._-@" for c in name)


def add_user(
    register: Register,
    username: str,
    role: str,
    password: str | None,
    *,
    service: str | None = None,
    known_services: set[str] | None = None,
    replace: bool = False,
) -> User:
    if not valid_username(username):
        raise AccountError("a user name is 1-80 letters, digits or . _ - @, without spaces")
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    if role == "service_lead" and not service:
        raise AccountError("a service lead needs --service (the service they lead)")
    if role != "service_lead" and service:
        raise AccountError("only a service lead is tied to one service")
    if service and known_services is not None and service not in known_services:
        raise AccountError(f"no service {service!r} in the catalogue")
    if password is not None and len(password) < 12:
        raise AccountError("the password must be at least 12 characters")
    with register.session() as s:
        row = s.get(ConsoleUser, username)
        if row is not None and not replace:
            raise AccountError(f"user {username} already exists")
        if row is None:
            row = ConsoleUser(username=username)
            s.add(row)
        row.role = role
        row.service = service
        row.password_hash = _hasher.hash(password) if password is not None else None
        row.source = "local" if password is not None else "oidc"
        row.disabled = False
    register.audit(
        f"console.user:{username}:{_now().isoformat()}",
        actor="rightsflow users",
        action="console.user.added",
        service=service,
        detail={"user": username, "role": role},
    )
    return User(username, role, service)


def authenticate(register: Register, username: str, password: str) -> User | None:
    """The user when the name and password match a local account that is not disabled."""
    with register.session() as s:
        row = s.get(ConsoleUser, username) if valid_username(username) else None
        stored = row.password_hash if row is not None and not row.disabled else None
        try:
            _hasher.verify(stored or _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or stored is None:
            return None
        if _hasher.check_needs_rehash(stored):
            row.password_hash = _hasher.hash(password)
        return User(row.username, row.role, row.service)


def get_user(register: Register, username: str) -> User | None:
    with register.session() as s:
        row = s.get(ConsoleUser, username)
        if row is None or row.disabled:
            return None
        return User(row.username, row.role, row.service)


def oidc_user(register: Register, username: str, role: str, service: str | None) -> User:
    """An account signed in by the council's identity provider: created or updated from its claims."""
    with register.session() as s:
        row = s.get(ConsoleUser, username)
        if row is None:
            row = ConsoleUser(username=username, source="oidc")
            s.add(row)
        elif row.disabled:
            raise AccountError("this account is disabled")
        row.role, row.service = role, service
    return User(username, role, service)


def list_users(register: Register) -> list[ConsoleUser]:
    with register.session() as s:
        return list(s.scalars(select(ConsoleUser).order_by(ConsoleUser.username)))
