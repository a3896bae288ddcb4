"""Sign-in through the council's OpenID Connect provider (Microsoft Entra ID) with authlib.

Configured by RIGHTSFLOW_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET; the user's console role comes
from a claim of the ID token (RIGHTSFLOW_OIDC_ROLE_CLAIM, default ``roles``: Entra ID app roles)
mapped by RIGHTSFLOW_OIDC_ROLE_MAP (``RightsflowDPO=dpo,Records=records_manager,
HubLead=service_lead:westminster_family_hub``). A user none of whose claim values is mapped is
refused. The redirect URI to register with the provider is ``<console URL>/auth/callback``.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .accounts import AccountError, User, oidc_user, valid_username
from .security import OidcConfig, sign_in

log = logging.getLogger("rightsflow.console")


def role_from_claims(config: OidcConfig, claims: dict[str, Any]) -> tuple[str, str | None] | None:
    """The first mapped role among the claim's values (a list, or one string), else None."""
    values = claims.get(config.role_claim)
    if isinstance(values, str):
        values = [values]
    for value in values or []:
        if isinstance(value, str) and value in config.role_map:
            return config.role_map[value]
    return None


def user_from_claims(request: Request, config: OidcConfig, claims: dict[str, Any]) -> User:
    username = claims.get(config.username_claim) or claims.get("email") or ""
    if not isinstance(username, str) or not valid_username(username):
        raise HTTPException(403, "Your identity provider did not send a usable user name.")
    mapped = role_from_claims(config, claims)
    if mapped is None:
        raise HTTPException(403, "Your account has no rightsflow role. Ask your administrator to assign one.")
    try:
        return oidc_user(request.app.state.register, username, *mapped)
    except AccountError as exc:
        raise HTTPException(403, str(exc)) from None


def _client(request: Request) -> Any:
    app = request.app
    config: OidcConfig | None = app.state.config.oidc
    if config is None:
        raise HTTPException(404, "Single sign-on is not configured.")
    client = getattr(app.state, "oidc_client", None)
    if client is None:
        from authlib.integrations.starlette_client import OAuth

        oauth = OAuth()
        client = oauth.register(
            "council",
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.metadata_url,
            client_kwargs={"scope": "openid profile email"},
        )
        app.state.oidc_client = client
    return client


async def start(request: Request) -> Response:
    client = _client(request)
    return await client.authorize_redirect(request, str(request.url_for("oidc_callback")))


async def callback(request: Request) -> Response:
    from authlib.integrations.base_client.errors import OAuthError

    client = _client(request)
    try:
        token = await client.authorize_access_token(request)  # checks state, nonce and the ID token
    except OAuthError as exc:
        raise HTTPException(403, f"Sign-in was not completed ({exc.error}).") from None
    claims = dict(token.get("userinfo") or {})
    user = user_from_claims(request, request.app.state.config.oidc, claims)
    sign_in(request, user)
    log.info("console sign-in (oidc): %s (%s)", user.username, user.role)
    return RedirectResponse("/", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/sign-in/oidc", start, name="oidc_start"),
        Route("/auth/callback", callback, name="oidc_callback"),
    ]
