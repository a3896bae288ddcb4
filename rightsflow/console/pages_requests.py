"""The requests pages: the queue, one request, its redaction review, downloads, a new request.

Reads come from the register and the request service's views; every change is a call on the
request service (the same one the CLI uses), under the signed-in user's name.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import RightsRequest

from . import actions, assignment, filing, rights_actions
from .queue import SORTS, TYPE_LABELS, queue_rows, rows_csv, sort_rows, stage_label
from .security import checked_form, form_str, require
from .web import render, subject_view

READ_ROLES = ("dpo", "service_lead", "auditor")
SHOWS = {"open": "Open", "closed": "Closed", "all": "All"}


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done", "")
    return actions.NOTICES.get(done) or rights_actions.NOTICES.get(done)


# -- the queue -------------------------------------------------------------------------------------


def _queue(request: Request) -> tuple[list[Any], dict[str, str]]:
    user = require(request, *READ_ROLES)
    q = request.query_params
    show = q.get("show", "open") if q.get("show") in SHOWS else "open"
    kind = q.get("type") if q.get("type") in TYPE_LABELS else ""
    sort = q.get("sort") if q.get("sort") in SORTS else "deadline"
    order = "desc" if q.get("order") == "desc" else "asc"
    mine = "1" if q.get("mine") == "1" else ""
    rows = queue_rows(
        request.app.state.register,
        show=show,
        request_type=kind or None,
        service=user.service if user.role == "service_lead" else None,
        assignee=user.username if mine else None,
    )
    params = {"show": show, "type": kind, "mine": mine, "sort": sort, "order": order}
    return sort_rows(rows, sort, order == "desc"), params


async def queue_page(request: Request) -> Response:
    rows, params = _queue(request)
    size = request.app.state.config.page_size
    pages = max(1, math.ceil(len(rows) / size))
    try:
        page = min(max(1, int(request.query_params.get("page", "1"))), pages)
    except ValueError:
        page = 1

    def link(**changes: Any) -> str:
        merged = {**params, "page": page, **changes}
        return "/requests?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})

    def sort_link(key: str) -> str:
        flip = "desc" if params["sort"] == key and params["order"] == "asc" else "asc"
        return link(sort=key, order=flip, page=1)

    return render(
        request,
        "console/queue.html.j2",
        active="requests",
        rows=rows[(page - 1) * size : page * size],
        total=len(rows),
        page=page,
        pages=pages,
        params=params,
        shows=SHOWS,
        types=TYPE_LABELS,
        sorts=SORTS,
        link=link,
        sort_link=sort_link,
        csv_link="/requests.csv?" + urlencode({k: v for k, v in params.items() if v}),
        notice=_notice(request),
    )


async def queue_csv(request: Request) -> Response:
    rows, params = _queue(request)
    name = f"rightsflow-requests-{params['show']}-{date.today().isoformat()}.csv"
    return Response(
        rows_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- one request -----------------------------------------------------------------------------------


def load_request(request: Request, request_id: str) -> RightsRequest:
    """The request, if the user may see it: a service lead only sees requests about their service."""
    user = require(request, *READ_ROLES)
    register = request.app.state.register
    try:
        req = register.get_request(request_id)
    except LookupError:
        raise HTTPException(404, "There is no request with this reference.") from None
    if req.request_type == "subject_search":
        raise HTTPException(404, "There is no request with this reference.")
    if user.role == "service_lead":
        services = {m.service for m in register.matches_for(request_id)}
        if user.service not in services:
            raise HTTPException(403, "This request is not about your service.")
    return req


async def _detail(request: Request, request_id: str, *, revealed: bool = False, **extra: Any) -> Response:
    req = load_request(request, request_id)
    user = request.state.user
    register = request.app.state.register
    try:
        ids: SubjectIdentifiers | None = register.subject_identifiers(req.subject_ref)
    except LookupError:
        ids = None
    matches = register.matches_for(request_id)
    if user.role == "service_lead":
        matches = [m for m in matches if m.service == user.service]
    live = await actions.live_status(request, req)
    rights = await actions.rights_view(request, req)
    trail = actions.timeline(request, register.audit_trail(request_id))
    return render(
        request,
        "console/request.html.j2",
        active="requests",
        req=req,
        type_label=TYPE_LABELS.get(req.request_type, req.request_type),
        stage_label=stage_label((live or rights or {}).get("stage") or req.stage),
        subject=subject_view(ids, revealed),
        revealed=revealed,
        matches=matches,
        live=live,
        timeline=trail,
        downloads=actions.downloads(request, req),
        rights=rights,
        decision_services=rights_actions.decision_services(request, req, rights, user),
        exemptions=rights_actions.EXEMPTION_LABELS,
        available=actions.available_actions(user, req, live, rights),
        assignable=assignment.assignable(register) if user.role == "dpo" else [],
        notice=_notice(request),
        today=date.today().isoformat(),
        **extra,
    )


async def request_page(request: Request) -> Response:
    return await _detail(request, request.path_params["request_id"])


async def reveal(request: Request) -> Response:
    """Show the subject's identifiers on this one response, and record that this user saw them."""
    request_id = request.path_params["request_id"]
    await checked_form(request)
    require(request, "dpo")
    req = load_request(request, request_id)
    actions.audit_reveal(request, req)
    return await _detail(request, request_id, revealed=True)


async def act(request: Request) -> Response:
    """One of the stage's actions (verify, clarify, extend, approve, reject, matches)."""
    request_id, name = request.path_params["request_id"], request.path_params["action"]
    form = await checked_form(request)
    req = load_request(request, request_id)
    errors, done = await actions.run_action(request, req, name, form)
    if errors:
        return await _detail(request, request_id, errors=errors, form=dict(form), status_code=400)
    return RedirectResponse(f"/requests/{request_id}?done={done}", status_code=303)


async def download(request: Request) -> Response:
    """A short-lived link to the pack or a letter, after recording who downloaded it."""
    request_id, what = request.path_params["request_id"], request.path_params["what"]
    require(request, "dpo")
    req = load_request(request, request_id)
    url = actions.download_link(request, req, what)
    return RedirectResponse(url, status_code=303)


# -- redaction review ------------------------------------------------------------------------------


async def redactions_page(request: Request, **extra: Any) -> Response:
    request_id = request.path_params["request_id"]
    req = load_request(request, request_id)
    require(request, "dpo", "auditor")
    review = await actions.redaction_review(request, req)
    return render(
        request,
        "console/redactions.html.j2",
        active="requests",
        req=req,
        review=review,
        notice=_notice(request),
        **extra,
    )


async def pack_preview(request: Request) -> Response:
    """The records as the response pack will show them, from the current redacted version: the
    pack's own records template, withheld text replaced by its mark, released text back in. The
    person's name is left out (the page is not a reveal); the pack itself carries it."""
    request_id = request.path_params["request_id"]
    req = load_request(request, request_id)
    require(request, "dpo", "auditor")
    if req.request_type != "subject_access":
        raise HTTPException(404, "Only a subject access request has a pack to preview.")
    try:
        doc = await actions.service(request).redactions(req.request_id)
    except Exception as exc:  # noqa: BLE001 - nothing under review: say why
        raise HTTPException(404, f"There is no pack to preview now: {actions._refusal(exc)}") from None
    from rightsflow.sar_pack import _labelled, pack_jinja, shown

    settings, catalog = request.app.state.settings, request.app.state.catalog
    held = [s for s in doc["services"] if any(c["rows"] for c in s["collections"])]
    html = (
        pack_jinja(settings)
        .get_template("sar_records.html.j2")
        .render(
            request_id=req.request_id,
            today=date.today().isoformat(),
            subject={},
            services=_labelled(catalog, held),
            shown=shown,
        )
    )
    banner = (
        '<p style="background:#fff7bf;padding:.5em;border:2px solid #ffdd00">Preview: not sent. '
        f'<a href="/requests/{req.request_id}/redactions">Back to the redaction review</a></p>'
    )
    return HTMLResponse(html.replace("<body>", "<body>" + banner, 1))


async def redactions_post(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    form = await checked_form(request)
    require(request, "dpo")
    req = load_request(request, request_id)
    errors, done = await actions.review_redactions(request, req, form)
    if errors:
        return await redactions_page(request, errors=errors, form=dict(form))
    return RedirectResponse(f"/requests/{request_id}/redactions?done={done}", status_code=303)


# -- a new request ---------------------------------------------------------------------------------


async def new_request(request: Request) -> Response:
    require(request, "dpo")
    kind = request.query_params.get("type", "subject_access")
    if request.method == "POST":
        form = await checked_form(request)
        kind = form_str(form, "request_type") or kind
        errors, request_id = await filing.file_request(request, kind, form)
        if not errors:
            return RedirectResponse(f"/requests/{request_id}?done=filed", status_code=303)
        return render(
            request,
            "console/new_request.html.j2",
            status_code=400,
            errors=errors,
            **filing.form_context(request, kind, dict(form)),
        )
    return render(request, "console/new_request.html.j2", **filing.form_context(request, kind, {}))


def routes() -> list[Route]:
    return [
        Route("/requests", queue_page),
        Route("/requests.csv", queue_csv),
        Route("/requests/new", new_request, methods=["GET", "POST"]),
        Route("/requests/{request_id}", request_page),
        Route("/requests/{request_id}/reveal", reveal, methods=["POST"]),
        Route("/requests/{request_id}/actions/{action}", act, methods=["POST"]),
        Route("/requests/{request_id}/redactions", redactions_page),
        Route("/requests/{request_id}/redactions", redactions_post, methods=["POST"]),
        Route("/requests/{request_id}/redactions/preview", pack_preview),
        Route("/requests/{request_id}/download/{what}", download),
    ]
