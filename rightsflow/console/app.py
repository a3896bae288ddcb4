"""The casework console: a Starlette app over the register and the request service.

``create_app(settings)`` builds it; ``rightsflow console`` serves it with uvicorn. Pages are
Jinja2 templates under ``templates/console/`` in the GOV.UK Design System and MOJ Frontend, whose
assets come from ``node_modules`` (installed by ``npm ci``). Every page needs sign-in; every
change is a POSTed form with a CSRF token, checked on the server with the user's role.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from rightsflow.catalog import load_catalog
from rightsflow.config import REPO_ROOT, Settings
from rightsflow.register import Register

from . import oidc, pages_other, pages_requests
from .accounts import authenticate
from .security import (
    ConsoleConfig,
    SigninLimiter,
    SignInRequired,
    checked_form,
    client_address,
    form_str,
    load_console_config,
    session_user,
    sign_in,
    sign_out,
)
from .web import FormErrors, render

log = logging.getLogger("rightsflow.console")

GOVUK = Path("govuk-frontend") / "dist" / "govuk"
MOJ = Path("@ministryofjustice") / "frontend" / "moj"
PUBLIC_PATHS = ("/sign-in", "/auth/", "/assets/", "/health")


class AssetsMissing(RuntimeError):
    pass


def node_modules() -> Path:
    import os

    return Path(os.environ.get("RIGHTSFLOW_CONSOLE_ASSETS") or REPO_ROOT / "node_modules")


@lru_cache(maxsize=4)
def _arial_css(path: Path) -> bytes:
    """GOV.UK Frontend's stylesheet with the Arial stack: the GDS Transport typeface is licensed for
    service.gov.uk only, so its @font-face rules are dropped and 'GDS Transport' removed from every
    font-family (what setting $govuk-font-family does when compiling from Sass)."""
    css = path.read_text(encoding="utf-8")
    css = re.sub(r"@font-face\{font-family:GDS Transport;[^}]*\}", "", css)
    css = css.replace("font-family:GDS Transport,arial,sans-serif", "font-family:arial,sans-serif")
    css = css.replace("font-family:GDS Transport", "font-family:arial,sans-serif")
    return css.encode()


async def govuk_css(request: Request) -> Response:
    return Response(
        _arial_css(node_modules() / GOVUK / "govuk-frontend.min.css"),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


# -- sign-in ---------------------------------------------------------------------------------------


def _safe_next(value: str) -> str:
    # Only a path on this console: never an absolute URL an attacker could send a user to.
    return value if value.startswith("/") and not value.startswith("//") else "/"


async def sign_in_page(request: Request) -> Response:
    if request.method == "GET":
        expired = request.query_params.get("expired") == "1"
        return render(
            request,
            "console/sign_in.html.j2",
            next=_safe_next(request.query_params.get("next", "/")),
            expired=expired,
            oidc=request.app.state.config.oidc is not None,
        )
    form = await checked_form(request)
    username, password = form_str(form, "username"), str(form.get("password") or "")
    next_path = _safe_next(form_str(form, "next") or "/")
    errors = FormErrors()
    if not username:
        errors.add("username", "Enter your user name")
    if not password:
        errors.add("password", "Enter your password")
    limiter: SigninLimiter = request.app.state.limiter
    address = client_address(request)
    status = 400
    if not errors:
        if limiter.blocked(username, address):
            errors.add("username", "Too many failed sign-in attempts. Wait 15 minutes and try again")
            status = 429
        else:
            user = authenticate(request.app.state.register, username, password)
            if user is None:
                limiter.failed(username, address)
                errors.add("username", "The user name or password is not right")
            else:
                sign_in(request, user)
                log.info("console sign-in: %s (%s)", user.username, user.role)
                return RedirectResponse(next_path, status_code=303)
    return render(
        request,
        "console/sign_in.html.j2",
        status_code=status,
        errors=errors,
        username=username,
        next=next_path,
        oidc=request.app.state.config.oidc is not None,
    )


async def sign_out_page(request: Request) -> Response:
    await checked_form(request)
    sign_out(request)
    return RedirectResponse("/sign-in", status_code=303)


async def home(request: Request) -> Response:
    user = request.state.user
    if user is None:
        raise SignInRequired
    target = "/retention" if user.role == "records_manager" else "/requests"
    return RedirectResponse(target, status_code=303)


# -- the app ---------------------------------------------------------------------------------------


class LoadUser(BaseHTTPMiddleware):
    """Puts the signed-in user (or None) on request.state; every non-public path needs one."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        request.state.user = session_user(request)
        request.state.expired = getattr(request.state, "expired", False)
        path = request.url.path
        if request.state.user is None and not path.startswith(PUBLIC_PATHS):
            if request.method != "GET":
                return PlainTextResponse("Sign in first.", status_code=403)
            query = "&expired=1" if request.state.expired else ""
            return RedirectResponse(f"/sign-in?next={request.url.path}{query}", status_code=303)
        response = await call_next(request)
        # Pages hold personal data once revealed: never cached, never framed.
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not hasattr(request.state, "user"):
        request.state.user = None
    titles = {403: "You do not have permission to do this", 404: "Page not found", 405: "Not allowed"}
    return render(
        request,
        "console/error.html.j2",
        status_code=exc.status_code,
        title=titles.get(exc.status_code, "Something went wrong"),
        detail=exc.detail,
    )


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)


def create_app(
    settings: Settings,
    *,
    config: ConsoleConfig | None = None,
    register: Register | None = None,
    service: Any = None,
) -> Starlette:
    """The console for these settings. ``service`` is the request service (built lazily if None)."""
    config = config or load_console_config(settings)
    assets = node_modules()
    if not (assets / GOVUK / "govuk-frontend.min.css").exists():
        raise AssetsMissing(
            f"the console's assets are not installed in {assets}: run `npm ci` in {REPO_ROOT}"
        )
    register = register or Register(settings)
    register.create_schema()
    env = Environment(
        loader=FileSystemLoader(str(settings.templates_dir)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    routes = [
        Route("/health", health),
        Route("/assets/govuk-frontend.min.css", govuk_css),
        Mount("/assets/govuk", StaticFiles(directory=assets / GOVUK), name="govuk"),
        Mount("/assets/images", StaticFiles(directory=assets / GOVUK / "assets" / "images"), name="images"),
        Mount("/assets/moj", StaticFiles(directory=assets / MOJ), name="moj"),
        Mount("/assets/axe", StaticFiles(directory=assets / "axe-core", check_dir=False), name="axe"),
        Route("/", home),
        Route("/sign-in", sign_in_page, methods=["GET", "POST"]),
        Route("/sign-out", sign_out_page, methods=["POST"]),
        *oidc.routes(),
        *pages_requests.routes(),
        *pages_other.routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=config.secret_key,
                session_cookie="rightsflow_console",
                max_age=12 * 3600,  # absolute limit; idle expiry is checked on every request
                same_site="lax",
                https_only=config.https,
            ),
            Middleware(LoadUser),
        ],
        exception_handlers={HTTPException: _http_error, SignInRequired: _sign_in_required},
    )
    app.state.settings = settings
    app.state.config = config
    app.state.register = register
    app.state.catalog = load_catalog(settings.catalog_dir)
    app.state.templates = Jinja2Templates(env=env)
    app.state.limiter = SigninLimiter(config.signin_limit)
    app.state.service = service
    return app
