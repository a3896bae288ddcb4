"""Who works on a request: a DPO assigns it to a console user who holds the DPO role (or takes it
off them). Kept in the register's request row (``assignee``) and audited under
``console:<signed-in user>``; the workflow never sees it, so no history changes."""

from __future__ import annotations

from datetime import datetime

from starlette.datastructures import FormData
from starlette.requests import Request

from rightsflow.register import Register, RightsRequest

from .accounts import list_users
from .bridge import console_actor
from .security import form_str, require
from .web import FormErrors


def assignable(register: Register) -> list[str]:
    """The user names a request may be assigned to: active accounts with the DPO role."""
    return [u.username for u in list_users(register) if u.role == "dpo" and not u.disabled]


def assign(request: Request, req: RightsRequest, form: FormData) -> tuple[FormErrors, str]:
    """Assign the request to the user chosen ("" takes it off whoever has it); audited once each."""
    errors = FormErrors()
    user = require(request, "dpo")
    register: Register = request.app.state.register
    chosen = form_str(form, "assignee")
    if chosen == "me":
        chosen = user.username
    if chosen and chosen not in assignable(register):
        errors.add("assignee", "Choose a caseworker with the data protection officer role")
        return errors, ""
    before = req.assignee or ""
    if chosen == before:
        return errors, "assign"
    register.update_request(req.request_id, assignee=chosen or None)
    register.audit(
        f"{req.request_id}:assigned:{chosen or '-'}:{datetime.now().isoformat()}",
        actor=console_actor(user.username),
        action="console.request.assigned" if chosen else "console.request.unassigned",
        request_id=req.request_id,
        detail={"assignee": chosen or None, "previous": before or None},
    )
    return errors, "assign"
