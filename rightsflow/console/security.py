"""Sessions, CSRF, sign-in rate limiting and role checks for the console.

The session is a signed cookie (Starlette's SessionMiddleware over itsdangerous): HttpOnly and
SameSite=Lax always, Secure when the console is served over https. It holds the user name, a CSRF
token and when the user was last seen; an idle session is dropped. Every POST goes through
:func:`checked_form`, which refuses a missing or wrong CSRF token with 403 before anything runs,
and every page through :func:`require`, which answers 403 to a user without the role.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from rightsflow.config import Settings

from .accounts import ROLES, User

CSRF_FIELD = "csrf_token"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    role_claim: str  # the ID token claim holding the user's app roles (Entra ID: "roles")
    role_map: dict[str, tuple[str, str | None]]  # claim value -> (role, service)
    username_claim: str  # Entra ID: "preferred_username" (the user's UPN)

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class ConsoleConfig:
    secret_key: str
    https: bool
    idle_seconds: int
    signin_limit: str  # e.g. "5/15minutes": failed sign-ins per user name and per address
    page_size: int
    oidc: OidcConfig | None


class ConfigError(ValueError):
    pass


def parse_role_map(raw: str) -> dict[str, tuple[str, str | None]]:
    """``Claim.Value=role[:service],...`` -> {claim value: (role, service)}."""
    out: dict[str, tuple[str, str | None]] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        claim, sep, target = part.partition("=")
        role, _, service = target.strip().partition(":")
        if not sep or role not in ROLES:
            raise ConfigError(f"RIGHTSFLOW_OIDC_ROLE_MAP: {part!r} must be CLAIM=role[:service]")
        if (role == "service_lead") != bool(service):
            raise ConfigError("RIGHTSFLOW_OIDC_ROLE_MAP: a service_lead mapping names its service")
        out[claim.strip()] = (role, service or None)
    return out


def _secret_key(settings: Settings) -> str:
    """The cookie-signing key: from the environment, else a key file made once under home (0600)."""
    key = _env("RIGHTSFLOW_CONSOLE_SECRET")
    if key:
        return key
    path = Path(_env("RIGHTSFLOW_CONSOLE_SECRET_FILE", str(settings.home / "keys" / "console.key")))
    if not path.exists():
        if _env("RIGHTSFLOW_REQUIRE_KEYS") == "1":
            raise ConfigError("RIGHTSFLOW_CONSOLE_SECRET is not set and RIGHTSFLOW_REQUIRE_KEYS=1")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load_console_config(settings: Settings) -> ConsoleConfig:
    oidc = None
    issuer = _env("RIGHTSFLOW_OIDC_ISSUER")
    if issuer:
        client_id, client_secret = _env("RIGHTSFLOW_OIDC_CLIENT_ID"), _env("RIGHTSFLOW_OIDC_CLIENT_SECRET")
        if not client_id or not client_secret:
            raise ConfigError("RIGHTSFLOW_OIDC_ISSUER needs RIGHTSFLOW_OIDC_CLIENT_ID and _CLIENT_SECRET")
        oidc = OidcConfig(
            issuer=issuer,
            client_id=client_id,
            client_secret=client_secret,
            role_claim=_env("RIGHTSFLOW_OIDC_ROLE_CLAIM", "roles") or "roles",
            role_map=parse_role_map(_env("RIGHTSFLOW_OIDC_ROLE_MAP", "") or ""),
            username_claim=_env("RIGHTSFLOW_OIDC_USERNAME_CLAIM", "preferred_username")
            or "preferred_username",
        )
    try:
        idle = int(_env("RIGHTSFLOW_CONSOLE_IDLE_MINUTES", "30") or 30) * 60
        page_size = int(_env("RIGHTSFLOW_CONSOLE_PAGE_SIZE", "25") or 25)
    except ValueError:
        raise ConfigError("RIGHTSFLOW_CONSOLE_IDLE_MINUTES and _PAGE_SIZE must be whole numbers") from None
    limit = _env("RIGHTSFLOW_CONSOLE_SIGNIN_LIMIT", "5/15minutes") or "5/15minutes"
    try:
        parse_limit(limit)
    except ValueError:
        raise ConfigError("RIGHTSFLOW_CONSOLE_SIGNIN_LIMIT must look like 5/15minutes") from None
    url = _env("RIGHTSFLOW_CONSOLE_URL", "") or ""
    return ConsoleConfig(
        secret_key=_secret_key(settings),
        https=url.startswith("https://") or _env("RIGHTSFLOW_CONSOLE_HTTPS") == "1",
        idle_seconds=idle,
        signin_limit=limit,
        page_size=max(5, page_size),
        oidc=oidc,
    )


class SigninLimiter:
    """Failed sign-ins counted per user name and per client address in a moving window (limits)."""

    def __init__(self, limit: str) -> None:
        self._item = parse_limit(limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def _keys(self, username: str, address: str) -> list[str]:
        return [f"user:{username.casefold()}", f"addr:{address}"]

    def blocked(self, username: str, address: str) -> bool:
        return not all(self._limiter.test(self._item, key) for key in self._keys(username, address))

    def failed(self, username: str, address: str) -> None:
        for key in self._keys(username, address):
            self._limiter.hit(self._item, key)


# -- sessions ----------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def sign_in(request: Request, user: User) -> None:
    request.session.clear()  # a fresh session (and CSRF token) at sign-in: no fixation
    request.session.update(
        {"user": user.username, "seen": int(time.time()), "csrf": secrets.token_urlsafe(32)}
    )


def sign_out(request: Request) -> None:
    request.session.clear()


def session_user(request: Request) -> User | None:
    """The signed-in user, or None when there is none or the session has been idle too long."""
    name = request.session.get("user")
    if not name:
        return None
    config: ConsoleConfig = request.app.state.config
    now = int(time.time())
    if now - int(request.session.get("seen", 0)) > config.idle_seconds:
        request.session.clear()
        request.state.expired = True
        return None
    from .accounts import get_user

    user = get_user(request.app.state.register, name)
    if user is None:
        request.session.clear()
        return None
    request.session["seen"] = now
    return user


class SignInRequired(Exception):
    """Raised by :func:`require` for a visitor who is not signed in; answered with a redirect."""


def require(request: Request, *roles: str, service: str | None = None) -> User:
    """The signed-in user, if they hold one of ``roles`` (any role when none given); else 403."""
    user = getattr(request.state, "user", None)
    if user is None:
        raise SignInRequired
    if roles and user.role not in roles:
        raise HTTPException(403, "Your role does not allow this.")
    if service is not None and user.role == "service_lead" and user.service != service:
        raise HTTPException(403, "This is not your service.")
    return user


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token matches the session's; otherwise 403."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "The form has expired or did not come from this console. Reload the page.")
    return form


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def form_str(form: FormData | dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
