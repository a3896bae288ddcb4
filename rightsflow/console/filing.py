"""The console's new request form: every kind the request service files, to one council.

The form is checked here first (GOV.UK error messages: a real NHS number by its check digit, real
dates not in the future, a requester's name when someone acts for the person), then the request
service files it under ``console:<signed-in user>`` exactly as the command line does; nothing is
recorded when a check fails. The identifiers typed are never repeated in an error message.
"""

from __future__ import annotations

import os
import re
from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from rightsflow.erasure import GROUNDS as ERASURE_GROUNDS
from rightsflow.erasure import RESTRICTION_REASONS
from rightsflow.identity import SubjectIdentifiers
from rightsflow.nhs import InvalidIdentifier

from .bridge import console_actor
from .security import form_str, require
from .web import FormErrors

FILEABLE = {
    "subject_access": "Subject access request (Article 15)",
    "erasure": "Erasure request (Article 17)",
    "rectification": "Rectification request (Article 16)",
    "restriction": "Restriction request (Article 18)",
    "objection": "Objection (Article 21)",
    "consent_withdrawal": "Consent withdrawal (Article 7(3))",
    "portability": "Portability: a copy of their records for the person (Article 20)",
    "transfer": "Transfer of a family's records to another council (the family moved)",
}
GROUNDS = {
    "consent-withdrawn": "Consent withdrawn",
    "no-longer-needed": "No longer needed for its purpose",
    "objection": "The person objected",
    "unlawful": "Processed unlawfully",
    "other": "Another ground",
}
RESTRICTION_LABELS = {
    "accuracy": "The person says the records are not accurate",
    "unlawful": "The processing is unlawful but the person does not want erasure",
    "legal-claims": "The person needs the records kept for a legal claim",
    "objection-pending": "The person objected and the objection is being weighed",
}
# What a person may ask to have corrected: identity fields and data categories, in words.
RECTIFIABLE = {
    "user.name.first": "Given name",
    "user.name.last": "Family name",
    "date_of_birth": "Date of birth",
    "nhs_number": "NHS number",
    "upn": "Unique pupil number",
    "postcode": "Postcode",
    "user.contact.phone_number": "Phone number",
    "user.contact.email": "Email address",
    "user.contact.address": "Postal address",
}
REQUESTERS = {
    "self": "The person themselves",
    "parent": "A parent",
    "representative": "A representative",
    "solicitor": "A solicitor",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
assert set(GROUNDS) == set(ERASURE_GROUNDS) and set(RESTRICTION_LABELS) == set(RESTRICTION_REASONS)


def controllers(request: Request) -> list[tuple[str, str]]:
    """(code, the council's name) for every controller in the catalogue, by name."""
    catalog = request.app.state.catalog
    out = {code: c.short_name or c.legal_name for code, c in catalog.controllers.items()}
    for svc in catalog:  # a service whose controller file is missing still shows its code
        out.setdefault(svc.controller, svc.controller)
    return sorted(out.items(), key=lambda kv: kv[1])


def default_controller(request: Request) -> str | None:
    """The council preselected: the only one, else the configured default (if it is catalogued)."""
    codes = [code for code, _ in controllers(request)]
    if len(codes) == 1:
        return codes[0]
    settings = request.app.state.settings
    # The setting is read with a default: a configuration without it preselects nothing.
    configured = (
        getattr(settings, "default_controller", None)
        or os.environ.get("RIGHTSFLOW_DEFAULT_CONTROLLER", "").strip()
    )
    return configured if configured in codes else None


def form_context(request: Request, kind: str, form: dict[str, Any]) -> dict[str, Any]:
    catalog = request.app.state.catalog
    return {
        "active": "new",
        "kind": kind if kind in FILEABLE else "subject_access",
        "kinds": FILEABLE,
        "grounds": GROUNDS,
        "restriction_reasons": RESTRICTION_LABELS,
        "rectifiable": RECTIFIABLE,
        "requesters": REQUESTERS,
        "controllers": controllers(request),
        "controller": form.get("controller") or default_controller(request) or "",
        "services": [(svc.service, svc.name) for svc in catalog],
        "form": form,
        "today": date.today().isoformat(),
    }


def _day(errors: FormErrors, form: FormData, field: str, label: str) -> date | None:
    raw = form_str(form, field)
    if not raw:
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
    if day.year < 2000:
        errors.add(field, f"The date {label} must be in 2000 or later")
        return None
    return day


def _subject(errors: FormErrors, form: FormData) -> SubjectIdentifiers | None:
    nhs, name, dob = form_str(form, "nhs_number"), form_str(form, "name"), form_str(form, "dob")
    postcode = form_str(form, "postcode")
    if not (nhs or name):
        errors.add("nhs_number", "Enter the person's NHS number, or their name and date of birth")
        return None
    if name and not nhs and not dob:
        errors.add("dob", "Enter the person's date of birth with their name")
        return None
    try:
        return SubjectIdentifiers.parse(
            nhs_number=nhs or None,
            name=name or None,
            dob=dob or None,
            postcode=postcode or None,
            today=date.today(),
        )
    except InvalidIdentifier as exc:  # the message never repeats the identifier
        text = str(exc)
        field = (
            "nhs_number"
            if "NHS" in text
            else "dob"
            if "birth" in text or "date" in text
            else "postcode"
            if "postcode" in text
            else "name"
        )
        errors.add(field, text[:1].upper() + text[1:])
        return None


def _requester(errors: FormErrors, form: FormData) -> tuple[str, dict[str, object] | None]:
    """Who asks, and their details for letters (sealed in the register), as the CLI takes them."""
    kind = form_str(form, "requester") or "self"
    if kind not in REQUESTERS:
        errors.add("requester", "Choose who is asking")
        return "self", None
    name = " ".join(form_str(form, "requester_name").split())
    email = form_str(form, "requester_email")
    lines = [line.strip() for line in form_str(form, "requester_address").splitlines() if line.strip()]
    if kind != "self" and not name:
        errors.add("requester_name", "Enter the name of the person asking: letters are addressed to them")
    if len(name) > 200:
        errors.add("requester_name", "The requester's name must be 200 characters or fewer")
    if email and not _EMAIL.match(email):
        errors.add("requester_email", "Enter an email address in the right format, like name@example.com")
    if lines and len(lines) < 2:
        errors.add("requester_address", "Enter at least two lines of the postal address")
    if name or email or lines:
        return kind, {"kind": kind, "name": name or None, "email": email or None, "address": lines}
    return kind, ({"kind": kind} if kind != "self" else None)


async def file_request(request: Request, kind: str, form: FormData) -> tuple[FormErrors, str]:
    """Check the form, then file through the request service; (errors, the new request's id)."""
    errors = FormErrors()
    user = require(request, "dpo")
    if kind not in FILEABLE:
        errors.add("request_type", "Choose the kind of request")
        return errors, ""
    codes = [code for code, _ in controllers(request)]
    controller = form_str(form, "controller") or default_controller(request) or ""
    if controller not in codes:
        errors.add("controller", "Choose the council the request is made to")
    received = _day(errors, form, "received", "the request was received")
    requester, details = _requester(errors, form)
    ids = _subject(errors, form)
    extra: dict[str, Any] = {}
    if kind == "erasure":
        ground = form_str(form, "ground") or "consent-withdrawn"
        if ground not in GROUNDS:
            errors.add("ground", "Choose the ground for erasure")
        extra["ground"] = ground
    elif kind == "restriction":
        reason = form_str(form, "restriction_reason") or "accuracy"
        if reason not in RESTRICTION_LABELS:
            errors.add("restriction_reason", "Choose why processing is restricted")
        extra["reason"] = reason
    elif kind == "rectification":
        field, value = form_str(form, "field"), form_str(form, "value")
        if field not in RECTIFIABLE:
            errors.add("field", "Choose what the person asks to have corrected")
        if not value:
            errors.add("value", "Enter the corrected value the person gives")
        elif len(value) > 200:
            errors.add("value", "The corrected value must be 200 characters or fewer")
        extra.update(field=field, value=value)
    elif kind in ("portability", "transfer"):
        service = form_str(form, "from_service")
        catalog = request.app.state.catalog
        reach = catalog.services_of(controller) if controller in codes else []
        if service not in reach:
            errors.add("from_service", "Choose the council's service the records come from")
        if kind == "portability" and ids is not None and not (ids.nhs_number or ids.upn):
            errors.add("nhs_number", "Enter the person's NHS number: a copy needs an exact identifier")
        extra["service"] = service
        if kind == "transfer":
            to = form_str(form, "to_authority")
            if to not in codes or to == controller:
                errors.add("to_authority", "Choose the council the family moved to")
            extra["to_authority"] = to
    if errors or ids is None or received is None:
        return errors, ""
    svc = _service(request)
    common = {
        "actor": console_actor(user.username),
        "subject": ids,
        "received_on": received,
        "requester": requester,
        "controller": controller,
        "requester_details": details,
    }
    try:
        method = "file_sar" if kind == "subject_access" else f"file_{kind}"
        filing = getattr(svc, method)
        filed = await filing(**common, **extra)
    except Exception as exc:  # noqa: BLE001 - the service's one-line reason, nothing recorded
        from .actions import _refusal

        errors.add("received", f"The request could not be filed, nothing was recorded: {_refusal(exc)}")
        return errors, ""
    return errors, filed.request_id


def _service(request: Request) -> Any:
    from .actions import service

    return service(request)
