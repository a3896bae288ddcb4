"""The checks a request passes at filing, shared by the CLI and the console through the request service.

A request that would fail later inside a workflow (a service that is not catalogued, a corrected
date that does not exist, an NHS number whose check digit is wrong) is refused here, before
anything is written. Messages say what is wrong and never repeat the value back: it may be
personal data and would land in terminals and logs.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from .catalog import Catalog
from .identity import EARLIEST_DATE, normalise_postcode, parse_day
from .nhs import InvalidIdentifier, normalise_nhs_number, normalise_upn

REQUESTERS = ("self", "parent", "representative", "solicitor")  # as letters.REQUESTER_KINDS
MAX_VALUE = 200  # a name, a corrected value, a text to withhold


def _refused(message: str) -> Exception:
    from .request_service import Refused

    return Refused(message)


def check_day(value: date | str, what: str) -> date:
    try:
        return parse_day(value, what)
    except InvalidIdentifier as exc:
        raise _refused(str(exc)) from None


def check_received(value: date | str, what: str = "the received date") -> date:
    """A day something arrived: YYYY-MM-DD, not in the future, not before 2000-01-01."""
    day = check_day(value, what)
    if day > date.today():
        raise _refused(f"{what} is in the future")
    if day < EARLIEST_DATE:
        raise _refused(
            f"{what} is before {EARLIEST_DATE.isoformat()}: the bank-holiday calendar the statutory "
            "clock uses starts there"
        )
    return day


def check_services(catalog: Catalog, services: Iterable[str] | None) -> list[str] | None:
    """Catalogued service ids, in the order given (None or empty: every service)."""
    chosen = [s.strip() for s in services or [] if s is not None]
    known = set(catalog.ids)
    for s in chosen:
        if s not in known:
            if len(s) > 80 or not re.fullmatch(r"[A-Za-z0-9_.-]+", s):
                raise _refused("a service is not in the catalogue (see rightsflow catalog)")
            raise _refused(f"no service {s} in the catalogue (see rightsflow catalog)")
    return list(dict.fromkeys(chosen)) or None


def check_controller(catalog: Catalog, code: str | None, default: str | None) -> str:
    """The council a request is made to: the one named, else the catalogue's only council, else
    the configured default (RIGHTSFLOW_DEFAULT_CONTROLLER). With several councils and neither, the
    request is refused: searching every council's services and writing under no letterhead is how
    one council's request used to reach another's records."""
    known = sorted(set(catalog.controllers) | {svc.controller for svc in catalog})
    listed = ", ".join(known) or "none"
    chosen = (code or "").strip() or None
    if chosen is None and len(known) == 1:
        chosen = known[0]
    if chosen is None and default:
        if default not in catalog.controllers:
            raise _refused(
                f"RIGHTSFLOW_DEFAULT_CONTROLLER names no council in the catalogue (known: {listed})"
            )
        chosen = default
    if chosen is None:
        raise _refused(
            f"the catalogue has several councils ({listed}): name the one the request is made to "
            "with --controller CODE, or set RIGHTSFLOW_DEFAULT_CONTROLLER"
        )
    if chosen not in catalog.controllers:
        if len(chosen) > 40 or not re.fullmatch(r"[a-z0-9_]+", chosen):
            raise _refused(f"the controller is not a council in the catalogue (known: {listed})")
        raise _refused(f"no controller {chosen} in the catalogue (known: {listed})")
    return chosen


def scope_services(catalog: Catalog, controller: str, services: list[str] | None) -> list[str]:
    """The services a request to ``controller`` reaches: those named (each must be the council's
    or a joint arrangement's), else all of the council's."""
    reach = catalog.services_of(controller)
    for s in services or []:
        if s not in reach:
            raise _refused(f"the service {s} is not one of the services of controller {controller}")
    return list(services) if services else reach


def check_text(value: str | None, what: str, *, required: bool = False, limit: int = MAX_VALUE) -> str:
    """Free text: at most ``limit`` characters, no control characters; stripped."""
    text = (value or "").strip()
    if required and not text:
        raise _refused(f"{what} is empty")
    if len(text) > limit:
        raise _refused(f"{what} is longer than {limit} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise _refused(f"{what} holds control characters")
    return text


def _field_kinds(catalog: Catalog, field: str, services: list[str] | None) -> set[str]:
    """What the store fields holding ``field`` are: "date", "integer" or "text"."""
    from .erasure import rectifiable_fields

    kinds: set[str] = set()
    for svc in catalog:
        if services and svc.service not in services:
            continue
        coll = svc.subject.collection
        for name in rectifiable_fields(svc, field):
            meta: Any = getattr(svc.columns[coll][name], "fides_meta", None)
            data_type = (getattr(meta, "data_type", None) or "").lower()
            categories = svc.field_categories(coll, name)
            if "date" in data_type or any(c.endswith("date_of_birth") for c in categories):
                kinds.add("date")
            elif data_type in ("integer", "int"):
                kinds.add("integer")
            else:
                kinds.add("text")
    return kinds


def validate_rectification(catalog: Catalog, field: str, value: str, services: list[str] | None) -> str:
    """The corrected value, checked against what the field is; refused if no service holds it."""
    from .erasure import rectifiable_fields

    field = (field or "").strip()
    if not field or len(field) > 80 or not re.fullmatch(r"[a-z0-9_.]+", field):
        raise _refused(
            "the field must be an identity (nhs_number, upn, date_of_birth, postcode) or a data "
            "category such as user.contact.phone_number"
        )
    try:
        held = [
            svc.service
            for svc in catalog
            if (not services or svc.service in services) and rectifiable_fields(svc, field)
        ]
    except ValueError as exc:
        raise _refused(str(exc)) from None
    if not held:
        where = "the services named" if services else "any service"
        raise _refused(f"{field} is not a correctable field in {where} (see rightsflow catalog)")
    value = check_text(value, "the corrected value", required=True)
    try:
        if field == "nhs_number":
            return normalise_nhs_number(value)
        if field == "upn":
            return normalise_upn(value)
        if field == "postcode":
            return normalise_postcode(value)
    except InvalidIdentifier as exc:
        raise _refused(f"the corrected value is {str(exc)}") from None
    kinds = _field_kinds(catalog, field, services)
    if field == "date_of_birth" or "date" in kinds:
        day = check_day(value, "the corrected date")
        if day > date.today():
            raise _refused("the corrected date is in the future")
        if field == "date_of_birth" and day.year < 1900:
            raise _refused("the corrected date of birth is before 1900")
        return day.isoformat()
    if "integer" in kinds and not re.fullmatch(r"-?\d{1,18}", value):
        raise _refused("the corrected value must be a whole number for this field")
    return value


def check_notice_days(days: int) -> None:
    if days < 1:
        raise _refused("the notice must be at least one day (the person is told before it is lifted)")
    if days > 366:
        raise _refused("the notice can be at most 366 days")


def sar_options() -> dict[str, int]:
    """Pack retention and link expiry from the environment (RIGHTSFLOW_SAR_*)."""

    def env_int(name: str, default: int) -> int:
        raw = os.environ.get(name)
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise _refused(f"{name} must be a whole number") from None
        if value < 1:
            raise _refused(f"{name} must be at least 1")
        return value

    return {
        "pack_retention_days": env_int("RIGHTSFLOW_SAR_PACK_RETENTION_DAYS", 730),
        "link_expiry_seconds": min(
            env_int("RIGHTSFLOW_SAR_LINK_EXPIRY_HOURS", 168) * 3600, int(timedelta(days=7).total_seconds())
        ),
    }
