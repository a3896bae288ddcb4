"""Rendering helpers shared by the console's pages: templates, masking, error summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from rightsflow.identity import SubjectIdentifiers

from .security import CSRF_FIELD, csrf_token

NAV = (
    ("requests", "Requests", "/requests", ("dpo", "service_lead", "auditor")),
    ("new", "New request", "/requests/new", ("dpo",)),
    ("retention", "Retention", "/retention", ("records_manager", "auditor")),
    ("transfers", "Transfers", "/transfers", ("dpo", "auditor")),
    ("reports", "Reports", "/reports", ("dpo", "records_manager", "auditor")),
)


@dataclass
class FormErrors:
    """Validation errors in the GOV.UK error summary pattern: field id -> message, in order."""

    errors: dict[str, str] = field(default_factory=dict)

    def add(self, field_id: str, message: str) -> None:
        self.errors.setdefault(field_id, message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def get(self, field_id: str) -> str | None:
        return self.errors.get(field_id)

    def items(self) -> list[tuple[str, str]]:
        return list(self.errors.items())


def long_date(value: date | datetime | str | None) -> str:
    """1 December 2026, as GOV.UK writes dates."""
    if value in (None, ""):
        return "-"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value.day} {value:%B %Y}"


def date_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return f"{value.day} {value:%B %Y} {value:%H:%M}"


def mask_name(given: str | None, family: str | None) -> str:
    parts = [p for p in (given, family) if p]
    if not parts:
        return "Not given"
    return " ".join(p[0] + "•" * 4 for p in " ".join(parts).split())


def mask_nhs(nhs: str | None) -> str:
    return f"••• ••• {nhs[-4:]}" if nhs else "Not given"


def subject_view(ids: SubjectIdentifiers | None, revealed: bool) -> dict[str, str]:
    """What the page shows of the subject: masked unless this response is a reveal."""
    if ids is None:
        return {"name": "Unknown", "nhs_number": "Unknown", "date_of_birth": "Unknown"}
    if revealed:
        nhs = ids.nhs_number
        return {
            "name": " ".join(p for p in (ids.given_name, ids.family_name) if p) or "Not given",
            "nhs_number": f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" if nhs else "Not given",
            "date_of_birth": long_date(ids.date_of_birth) if ids.date_of_birth else "Not given",
        }
    return {
        "name": mask_name(ids.given_name, ids.family_name),
        "nhs_number": mask_nhs(ids.nhs_number),
        "date_of_birth": "••/••/" + str(ids.date_of_birth.year) if ids.date_of_birth else "Not given",
    }


def service_name(request: Request, service: str | None) -> str:
    if not service:
        return "-"
    catalog = request.app.state.catalog
    try:
        return catalog[service].name
    except (KeyError, AttributeError):
        return service


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    nav = [(key, label, href) for key, label, href, roles in NAV if user and user.role in roles]
    ctx = {
        "request": request,
        "user": user,
        "nav": nav,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request),
        "long_date": long_date,
        "date_time": date_time,
        "service_name": lambda s: service_name(request, s),
        "errors": FormErrors(),
        **context,
    }
    return request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status_code)
