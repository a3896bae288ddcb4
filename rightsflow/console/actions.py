"""What the console's forms do: read the form, check it (GOV.UK error messages), then call the
request service (the one the CLI uses) under the signed-in user. No filing or decision rule lives
here: a refusal from the workflow (approving twice, extending too late) comes back as an error."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from rightsflow.redaction import BASES, MASK
from rightsflow.register import AuditRecord, RightsRequest

from .accounts import User
from .bridge import console_actor
from .security import form_str, require
from .web import FormErrors

log = logging.getLogger("rightsflow.console")

NOTICES = {
    "filed": "The request has been filed and its workflow started.",
    "verify": "The evidence has been recorded.",
    "clarify": "The clarification has been recorded.",
    "extend": "The deadline has been extended.",
    "approve": "The response has been approved. The pack is being prepared.",
    "reject": "The request has been refused.",
    "matches": "The match decisions have been recorded.",
    "review": "The redaction decisions have been recorded.",
    "assign": "The request's caseworker has been recorded.",
}
DOWNLOAD_SECONDS = 300  # a console download link lives five minutes


class ServiceUnavailable(RuntimeError):
    pass


def service(request: Request) -> Any:
    """The request service shared with the CLI, built once per app."""
    svc = request.app.state.service
    if svc is None:
        from .bridge import ConsoleService

        app = request.app.state
        svc = app.service = ConsoleService(app.settings, app.catalog)
    return svc


def _refusal(exc: Exception) -> str:
    """The workflow's or service's own one-line reason, without a traceback."""
    cause = getattr(exc, "cause", None)
    message = getattr(cause, "message", None) or str(cause or exc) or type(exc).__name__
    return message[:300]


def _parse_day(errors: FormErrors, form: FormData, field: str, label: str, *, required: bool) -> str | None:
    raw = form_str(form, field)
    if not raw:
        if required:
            errors.add(field, f"Enter the date {label}")
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors.add(field, f"The date {label} must be a real date, like 2026-11-21")
        return None
    if day > date.today():
        errors.add(field, f"The date {label} must be today or in the past")
        return None
    return day.isoformat()


# -- reading ---------------------------------------------------------------------------------------


async def rights_view(request: Request, req: RightsRequest) -> dict[str, Any] | None:
    """The workflow's own view of an open erasure, rectification, restriction, objection or consent
    withdrawal (its stage, and each service's state, proposal and holds), if Temporal answers."""
    from .rights_actions import RIGHTS

    if req.status == "closed" or req.request_type not in RIGHTS:
        return None
    read = getattr(service(request), "rights_view", None)
    if read is None:
        return None
    try:
        return await read(req.request_id)
    except HTTPException:
        return None
    except Exception as exc:  # noqa: BLE001 - the register's view is still worth showing
        log.warning("status of %s: %s", req.request_id, type(exc).__name__)
        return None


async def live_status(request: Request, req: RightsRequest) -> dict[str, Any] | None:
    """The workflow's own view of an open request (clock, services, redactions), if it answers."""
    if req.status == "closed":
        return None
    try:
        return await service(request).status(req.request_id)
    except HTTPException:
        return None
    except Exception as exc:  # noqa: BLE001 - the register's view is still worth showing
        log.warning("status of %s: %s", req.request_id, type(exc).__name__)
        return None


ACTION_LABELS = {
    "filed": "Request filed",
    "verified": "Evidence recorded",
    "extended": "Deadline extended",
    "clarification_asked": "Clarification asked: the clock stopped",
    "clarification_answered": "Clarification answered: the clock restarted",
    "redacted": "Third-party information redacted",
    "reviewed": "Redactions reviewed",
    "approved": "Response approved",
    "rejected": "Request refused",
    "pack_sent": "Response pack sent",
    "subject.revealed": "Subject's details shown",
    "pack.downloaded": "Pack downloaded",
    "letter.downloaded": "Letter downloaded",
    "request.assigned": "Assigned to a caseworker",
    "request.unassigned": "No longer assigned to a caseworker",
}


def timeline(request: Request, trail: list[AuditRecord]) -> list[dict[str, Any]]:
    out = []
    for e in reversed(trail):
        action = e.action.split(".", 1)[1] if "." in e.action else e.action
        label = ACTION_LABELS.get(action) or action.replace("_", " ").replace(".", ": ").capitalize()
        out.append({"at": e.at, "by": e.actor, "label": label, "basis": e.legal_basis, "service": e.service})
    return out


def downloads(request: Request, req: RightsRequest) -> dict[str, tuple[str, str]]:
    """What can be downloaded: name -> (what a person calls it, S3 key). The pack the workflow
    recorded in the audit log, and each letter in the register's letter table."""
    found: dict[str, tuple[str, str]] = {}
    for e in request.app.state.register.audit_trail(req.request_id):
        key = e.detail.get("pack_key")
        if isinstance(key, str) and e.action.endswith("pack_sent"):
            found["pack"] = ("the response pack", key)
    try:
        from rightsflow.letters import Letters

        app = request.app.state
        for letter in Letters(app.settings, app.catalog, app.register).letters_of(req.request_id):
            found[f"letter-{letter.letter_id}"] = (f"the letter: {letter.title}", letter.pdf_key)
    except ImportError:  # an installation without letters still offers the pack
        pass
    return found


def available_actions(
    user: User, req: RightsRequest, live: dict[str, Any] | None, rights: dict[str, Any] | None = None
) -> set[str]:
    """Which forms the page shows. The server checks the role again on every POST."""
    from .rights_actions import rights_actions

    if req.status == "closed" or user.role not in ("dpo", "service_lead"):
        return set()
    others = rights_actions(user, req, rights)
    if user.role == "service_lead" or req.request_type != "subject_access":
        return {"matches"} | others
    stage = (live or {}).get("stage") or req.stage
    acts = {"verify", "clarify", "extend", "reject", "matches"} | others
    if stage == "awaiting_review":
        acts |= {"approve", "review"}
    return acts


def audit_reveal(request: Request, req: RightsRequest) -> None:
    user = request.state.user
    request.app.state.register.audit(
        f"{req.request_id}:revealed:{user.username}:{datetime.now().isoformat()}",
        actor=user.username,
        action="console.subject.revealed",
        request_id=req.request_id,
        subject_ref=req.subject_ref,
        legal_basis="UK GDPR Art 5(1)(f): shown to an authorised officer handling the request",
    )


def download_link(request: Request, req: RightsRequest, what: str) -> str:
    from rightsflow.s3 import presigned_get, s3_client

    register = request.app.state.register
    found = downloads(request, req).get(what)
    if found is None:
        raise HTTPException(404, "There is nothing to download by that name for this request.")
    key = found[1]
    user = request.state.user
    kind = "pack" if what == "pack" else "letter"
    register.audit(
        f"{req.request_id}:{kind}.downloaded:{user.username}:{datetime.now().isoformat()}",
        actor=user.username,
        action=f"console.{kind}.downloaded",
        request_id=req.request_id,
        detail={"what": what, "expires_seconds": DOWNLOAD_SECONDS},
    )
    settings = request.app.state.settings
    return presigned_get(s3_client(settings), settings.s3_bucket, key, DOWNLOAD_SECONDS)


# -- actions ---------------------------------------------------------------------------------------


async def run_action(
    request: Request, req: RightsRequest, name: str, form: FormData
) -> tuple[FormErrors, str]:
    errors = FormErrors()
    rid = req.request_id
    if name == "matches":
        return await _matches(request, req, form)
    if name == "assign":
        from .assignment import assign

        return assign(request, req, form)
    from .rights_actions import ACTIONS, run_rights_action

    if name in ACTIONS:
        return await run_rights_action(request, req, name, form, service(request))
    user = require(request, "dpo")  # the role first: nothing else runs for a user without it
    actor = console_actor(user.username)
    svc = service(request)
    try:
        if name == "verify":
            dates = {
                f: _parse_day(errors, form, f, label, required=False)
                for f, label in (
                    ("identity_received", "the identity evidence arrived"),
                    ("authority_received", "the evidence of authority arrived"),
                    ("fee_received", "the fee arrived"),
                )
            }
            if not errors and not any(dates.values()):
                errors.add("identity_received", "Enter at least one date evidence arrived")
            if errors:
                return errors, ""
            await svc.verify(rid, actor=actor, **dates)
        elif name == "clarify":
            which = form_str(form, "which")
            day = _parse_day(errors, form, "clarify_date", "of the clarification", required=True)
            if which not in ("asked", "answered"):
                errors.add("which", "Choose whether clarification was asked or answered")
            if errors:
                return errors, ""
            await svc.clarify(rid, actor=actor, **{which: day})
        elif name == "extend":
            reason = form_str(form, "reason")
            if len(reason) < 10:
                errors.add("reason", "Enter the reason for the extension (it is told to the requester)")
                return errors, ""
            await svc.extend(rid, reason=reason, actor=actor)
        elif name == "approve":
            await svc.approve(rid, actor=actor)
        elif name == "reject":
            exemption = form_str(form, "exemption")
            if len(exemption) < 5:
                errors.add("exemption", "Enter the exemption relied on")
                return errors, ""
            await svc.reject(rid, exemption=exemption, actor=actor)
        else:
            raise HTTPException(404, "There is no such action.")
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - a refusal is shown to the user as the page's error
        errors.add(_first_field(name), f"This could not be done: {_refusal(exc)}")
        return errors, ""
    return errors, name


def _first_field(action: str) -> str:
    return {
        "verify": "identity_received",
        "clarify": "clarify_date",
        "extend": "reason",
        "reject": "exemption",
        "approve": "approve",
        "matches": "matches",
    }.get(action, action)


async def _matches(request: Request, req: RightsRequest, form: FormData) -> tuple[FormErrors, str]:
    """Confirm or reject candidate matches; a service lead only for their own service."""
    errors = FormErrors()
    user = require(request, "dpo", "service_lead")
    confirm, reject = [], []
    for key, value in form.multi_items():
        if not key.startswith("match:") or value not in ("confirm", "reject"):
            continue
        ref = key.removeprefix("match:")
        service_name = ref.split("/", 1)[0]
        require(request, "dpo", "service_lead", service=service_name)
        (confirm if value == "confirm" else reject).append(ref)
    if not confirm and not reject:
        errors.add("matches", "Choose confirm or reject for at least one possible match")
        return errors, ""
    actor = console_actor(user.username)
    try:
        svc = service(request)
        if req.request_type == "subject_access":  # a SAR's matches are decided with its evidence
            await svc.verify(req.request_id, actor=actor, confirm_matches=confirm, reject_matches=reject)
        else:
            await svc.confirm_matches(req.request_id, actor=actor, confirm=confirm, reject=reject)
    except Exception as exc:  # noqa: BLE001
        errors.add("matches", f"This could not be done: {_refusal(exc)}")
        return errors, ""
    return errors, "matches"


# -- redaction review ------------------------------------------------------------------------------


def _highlight(value: str, reds: list[dict[str, Any]]) -> list[tuple[str, str | None, dict | None]]:
    """The field's redacted value as pieces (text, css, redaction) with masks shown as the withheld
    text highlighted: with one redaction in the field each mask is its text; with several, in turn."""
    withheld = [r for r in reds if not r["released"]]
    released = [r for r in reds if r["released"]]
    pieces: list[tuple[str, str | None, dict | None]] = []
    parts = value.split(MASK) if MASK in value else value.split("[withheld]")
    for i, part in enumerate(parts):
        if part:
            rest = part
            for r in released:  # released text is in the value again: show where
                if r["text"] in rest:
                    before, _, rest = rest.partition(r["text"])
                    pieces.append((before, None, None))
                    pieces.append((r["text"], "rf-released", r))
            pieces.append((rest, None, None))
        if i < len(parts) - 1:
            r = withheld[min(i, len(withheld) - 1)] if withheld else None
            pieces.append((r["text"] if r else "[withheld]", "rf-withheld", r))
    return pieces


async def redaction_review(request: Request, req: RightsRequest) -> dict[str, Any]:
    """Each record that holds a redaction, its fields with the withheld text highlighted."""
    try:
        doc = await service(request).redactions(req.request_id)
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001
        return {"error": _refusal(exc), "records": [], "redactions": []}
    catalog = request.app.state.catalog
    by_place: dict[tuple[str, str, str], dict[str, list[dict]]] = {}
    for r in doc["redactions"]:
        by_place.setdefault((r["service"], r["collection"], r["record_key"]), {}).setdefault(
            r["field"], []
        ).append(r)
    records = []
    for svc_doc in doc["services"]:
        svc = catalog[svc_doc["service"]] if svc_doc["service"] in list(s.service for s in catalog) else None
        for coll in svc_doc["collections"]:
            key_field = coll.get("key_field")
            for i, row in enumerate(coll["rows"]):
                rk = str(row.get(key_field)) if key_field and row.get(key_field) is not None else str(i)
                fields_with = by_place.get((svc_doc["service"], coll["collection"], rk))
                if not fields_with:
                    continue
                fields = []
                for name, value in row.items():
                    if name == key_field or value in (None, ""):
                        continue
                    label = svc.field_label(coll["collection"], name) if svc else name
                    reds = fields_with.get(name, [])
                    pieces = _highlight(str(value), reds) if reds else [(str(value), None, None)]
                    fields.append({"label": label, "pieces": pieces, "redactions": reds})
                records.append(
                    {
                        "service": svc_doc.get("name") or svc_doc["service"],
                        "collection": svc.collection_label(coll["collection"]) if svc else coll["collection"],
                        "fields": fields,
                        "redactions": [r for rs in fields_with.values() for r in rs],
                    }
                )
    return {"records": records, "redactions": doc["redactions"], "bases": BASES, "error": None}


async def review_redactions(request: Request, req: RightsRequest, form: FormData) -> tuple[FormErrors, str]:
    errors = FormErrors()
    user = require(request, "dpo")
    release = [v for k, v in form.multi_items() if k == "release" and isinstance(v, str)]
    text, basis = form_str(form, "add_text"), form_str(form, "add_basis") or "third-party"
    if basis not in BASES:
        errors.add("add_basis", "Choose the legal basis for the redaction")
    if text and len(text) < 2:
        errors.add("add_text", "Enter at least 2 characters to withhold")
    if not release and not text and not errors:
        errors.add("release", "Choose a redaction to release, or enter text to withhold")
    if errors:
        return errors, ""
    try:
        await service(request).review(
            req.request_id,
            actor=console_actor(user.username),
            release=release,
            withhold=[text] if text else [],
            basis=basis,
        )
    except Exception as exc:  # noqa: BLE001
        errors.add("release", f"This could not be done: {_refusal(exc)}")
        return errors, ""
    return errors, "review"
