"""The decisions of erasure, rectification, restriction, objection and consent withdrawal requests
in the console: the same request service calls the command line makes (``rightsflow decide``,
``lift``, ``shorten``, ``resolve``), under ``console:<signed-in user>``.

A service lead answers only for their own service (an erasure's or an objection's per-service
decision); every other decision is the DPO's. The role and the service are checked here, on the
server, on every POST; the workflow's own validators refuse a decision at the wrong stage, and
that refusal is shown to the user as the form's error.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from rightsflow.erasure import EXEMPTIONS
from rightsflow.register import RightsRequest

from .accounts import User
from .bridge import console_actor
from .security import form_str, require
from .web import FormErrors

log = logging.getLogger("rightsflow.console")

RIGHTS = ("erasure", "rectification", "restriction", "objection", "consent_withdrawal")

# What a DPO reads for each exemption code (the register and letters keep the full legal text).
EXEMPTION_LABELS = {
    "public_task": "Legal obligation or public task",
    "legal_claims": "Needed for legal claims",
    "legal_hold": "Under a legal hold",
    "child_protection_plan": "A child protection plan applies",
    "safeguarding_concern": "A safeguarding concern is open",
    "looked_after": "The child is or was looked after",
    "inquiry": "Held for a statutory inquiry",
    "no_ground": "None of the grounds for erasure applies",
}

NOTICES = {
    "decide_erasure": "The erasure decisions have been recorded.",
    "decide_objection": "The objection decisions have been recorded.",
    "decide_rectification": "The rectification decision has been recorded.",
    "lift": "The person will be told, then the restriction is lifted after the wait.",
    "shorten": "The wait before lifting has been changed.",
    "resolve": "The request has been sent on as you chose.",
}

ACTIONS = tuple(NOTICES)

# The field the error summary links to when the workflow or service refuses the action.
FIRST_FIELD = {
    "decide_erasure": "erasure_decisions",
    "decide_objection": "objection_decisions",
    "decide_rectification": "accept",
    "lift": "lift_reason",
    "shorten": "days",
    "resolve": "resolve_action",
}


def exemption_label(code: str | None) -> str:
    if not code:
        return ""
    return EXEMPTION_LABELS.get(code) or EXEMPTIONS.get(code, code)


def rights_actions(user: User, req: RightsRequest, view: dict[str, Any] | None) -> set[str]:
    """Which of these decisions the page offers at the request's stage; the POST checks again."""
    if req.status == "closed" or user.role not in ("dpo", "service_lead"):
        return set()
    acts: set[str] = set()
    if req.status == "needs_attention" and user.role == "dpo":
        acts.add("resolve")
    if req.request_type not in RIGHTS:
        return acts
    stage = (view or {}).get("stage") or req.stage
    kind = req.request_type
    if stage == "awaiting_decision":
        if kind == "erasure":
            acts.add("decide_erasure")
        elif kind == "objection":
            acts.add("decide_objection")
        elif kind == "rectification" and user.role == "dpo":
            acts.add("decide_rectification")
    if kind == "restriction" and user.role == "dpo":
        if stage == "restricted":
            acts.add("lift")
        if stage == "lift_notified":
            acts.add("shorten")
    return acts


def decision_services(
    request: Request, req: RightsRequest, view: dict[str, Any] | None, user: User
) -> list[dict[str, Any]]:
    """The services an erasure or objection is decided for: the workflow's view of each (its
    proposal, holds, state) where Temporal answers, else the services the request's matches are in.
    A service lead sees only their own service."""
    out: list[dict[str, Any]] = []
    if view and view.get("services"):
        for s in view["services"]:
            if isinstance(s, dict):
                out.append(dict(s))
    else:
        register = request.app.state.register
        seen = sorted({m.service for m in register.matches_for(req.request_id) if m.confirmed})
        out = [{"service": s, "state": "awaiting_decision"} for s in seen]
    if user.role == "service_lead":
        out = [s for s in out if s.get("service") == user.service]
    for s in out:
        s["proposed_label"] = exemption_label(s.get("proposed_exemption"))
        s["open"] = s.get("state") in ("awaiting_decision", "restricted", None) and not s.get("decision")
    return out


def _chosen(request: Request, form: FormData, prefix: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """service -> choice from radio fields named ``<prefix>:<service>``; a service lead only for
    their own service (403 otherwise, before anything is sent)."""
    catalog = request.app.state.catalog
    known = {svc.service for svc in catalog}
    chosen: dict[str, str] = {}
    for key, value in form.multi_items():
        if not key.startswith(prefix + ":") or not isinstance(value, str) or value not in allowed:
            continue
        svc = key.removeprefix(prefix + ":")
        if svc not in known:
            continue
        require(request, "dpo", "service_lead", service=svc)
        chosen[svc] = value
    return chosen


async def run_rights_action(
    request: Request, req: RightsRequest, name: str, form: FormData, svc: Any
) -> tuple[FormErrors, str]:
    """Check the form (GOV.UK messages), then make the request service call the CLI makes."""
    errors = FormErrors()
    rid = req.request_id
    if name in ("decide_erasure", "decide_objection"):
        user = require(request, "dpo", "service_lead")
    else:
        user = require(request, "dpo")
    actor = console_actor(user.username)
    try:
        if name == "decide_erasure":
            if req.request_type != "erasure":
                raise HTTPException(404, "There is no such action for this request.")
            chosen = _chosen(request, form, "erasure", ("erase", "refuse"))
            refuse: dict[str, str | None] = {}
            for s, choice in chosen.items():
                if choice == "refuse":
                    code = form_str(form, f"exemption:{s}")
                    if code not in EXEMPTIONS:
                        errors.add(f"exemption-{s}", "Choose the exemption the refusal relies on")
                    refuse[s] = code
            proposals = form_str(form, "confirm_proposals") == "yes" and user.role == "dpo"
            if not chosen and not proposals:
                errors.add("erasure_decisions", "Choose erase or refuse for at least one service")
            reason = form_str(form, "erasure_reason")
            if errors:
                return errors, ""
            await svc.decide_erasure(
                rid,
                actor=actor,
                erase=[s for s, c in chosen.items() if c == "erase"],
                refuse=refuse,
                confirm_proposals=proposals,
                reason=reason,
            )
        elif name == "decide_objection":
            if req.request_type != "objection":
                raise HTTPException(404, "There is no such action for this request.")
            chosen = _chosen(request, form, "objection", ("uphold", "override"))
            reason = form_str(form, "objection_reason")
            if not chosen:
                errors.add("objection_decisions", "Choose uphold or override for at least one service")
            if len(reason) < 10:
                errors.add("objection_reason", "Enter the reason told to the person")
            if errors:
                return errors, ""
            # The service takes one decision for a list of services: upheld ones, then overridden.
            for decision in ("uphold", "override"):
                services = [s for s, c in chosen.items() if c == decision]
                if services:
                    await svc.decide_objection(
                        rid, actor=actor, services=services, uphold=decision == "uphold", reason=reason
                    )
        elif name == "decide_rectification":
            accept = form_str(form, "accept")
            reason, statement = form_str(form, "rectify_reason"), form_str(form, "statement")
            if accept not in ("yes", "no"):
                errors.add("accept", "Choose whether the correction is made")
            elif accept == "no" and len(reason) < 10:
                errors.add("rectify_reason", "Enter why the correction is declined (the person is told)")
            if errors:
                return errors, ""
            await svc.decide_rectification(
                rid, actor=actor, accept=accept == "yes", reason=reason, statement=statement
            )
        elif name == "lift":
            reason = form_str(form, "lift_reason")
            if len(reason) < 10:
                errors.add("lift_reason", "Enter why the restriction is lifted (the person is told first)")
                return errors, ""
            await svc.lift(rid, actor=actor, reason=reason)
        elif name == "shorten":
            raw = form_str(form, "days")
            if not raw.isdigit() or int(raw) > 365:
                errors.add("days", "Enter the wait in whole days, from 0 (lift now) to 365")
                return errors, ""
            await svc.shorten(rid, actor=actor, days=int(raw))
        elif name == "resolve":
            action, note = form_str(form, "resolve_action"), form_str(form, "note")
            if action not in ("retry", "close"):
                errors.add("resolve_action", "Choose whether to try the step again or close the request")
            elif action == "close" and len(note) < 10:
                errors.add("note", "Enter why the request is closed")
            if errors:
                return errors, ""
            await svc.resolve(rid, actor=actor, action=action, note=note)
        else:
            raise HTTPException(404, "There is no such action.")
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - a refusal is shown to the user as the page's error
        from .actions import _refusal

        log.info("console %s on %s refused: %s", name, rid, type(exc).__name__)
        errors.add(FIRST_FIELD.get(name, name), f"This could not be done: {_refusal(exc)}")
        return errors, ""
    return errors, name
