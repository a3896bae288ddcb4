"""Who a request is made to (the controller) and who makes it (the requester), for filing commands.

``--controller CODE`` names the council (catalog/controllers/CODE.yaml); it defaults to the only
one when the catalogue has one. The request then searches, gathers and changes only that council's
services (and those of its joint arrangements). The requester's name, email and postal address
are sealed in the register and used only to address letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import typer

from rightsflow.catalog import Catalog
from rightsflow.letters import REQUESTER_KINDS

from .common import fail

ControllerOpt = Annotated[
    str | None,
    typer.Option(
        "--controller", metavar="CODE", help="The council the request is made to (catalog/controllers)."
    ),
]
RequesterOpt = Annotated[
    str, typer.Option("--requester", help="Who asks: self, parent, representative or solicitor.")
]
RequesterNameOpt = Annotated[
    str | None, typer.Option("--requester-name", help="The requester's name, as letters address them.")
]
RequesterEmailOpt = Annotated[
    str | None, typer.Option("--requester-email", help="Where letters are emailed (else they are posted).")
]
RequesterAddressOpt = Annotated[
    str | None,
    typer.Option("--requester-address", help="Postal address, lines separated by commas."),
]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Parties:
    controller: str | None
    services: list[str] | None  # None: every service (no controller named among several)
    requester: str
    details: dict[str, object] | None


def resolve_parties(
    catalog: Catalog,
    controller: str | None,
    requester: str,
    name: str | None,
    email: str | None,
    address: str | None,
) -> Parties:
    """Check the options (a clear one-line error, nothing recorded) and scope the request."""
    if requester not in REQUESTER_KINDS:
        fail(f"--requester must be one of {', '.join(REQUESTER_KINDS)}")
    code = controller or catalog.default_controller
    if code is not None and code not in catalog.controllers:
        known = ", ".join(sorted(catalog.controllers)) or "none"
        fail(f"--controller: no controller {code!r} in the catalogue (known: {known})")
    if email is not None and not _EMAIL.match(email.strip()):
        fail("--requester-email is not an email address")
    lines = [part.strip() for part in (address or "").split(",") if part.strip()]
    if address is not None and len(lines) < 2:
        fail("--requester-address needs at least two lines, separated by commas")
    if requester != "self" and not (name and name.strip()):
        fail(f"--requester-name is needed when the requester is a {requester}: letters are addressed to them")
    # No controller named among several: the request reaches every service and sends no letters
    # (the register records each letter as not sent); filing scripts written before controllers go on.
    details: dict[str, object] | None = None
    if name or email or lines:
        details = {
            "kind": requester,
            "name": " ".join((name or "").split()) or None,
            "email": email.strip() if email else None,
            "address": lines,
        }
    elif requester != "self":
        details = {"kind": requester}
    return Parties(
        controller=code,
        services=catalog.services_of(code) if code else None,
        requester=requester,
        details=details,
    )
