"""Filing the requests that move records out of a council: a person's own records to them
(Article 20 portability) and a family's records to the council they moved to (a transfer).

Part of the request service (``RequestService`` inherits ``FilesMoves``), so the CLI's
``portability`` and ``transfer`` commands and the console's new-request form file these the same
way, through the service's general ``file``: Temporal reached first, the subject sealed, the request
recorded under its actor and council, the workflow started. The settings that shape them (link
expiry, lock and removal periods, the acknowledgement wait) are read here once for both.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from sqlalchemy import select

from .catalog import Catalog
from .config import Settings
from .db import store_engine
from .identity import SubjectIdentifiers
from .nhs import InvalidIdentifier, normalise_nhs_number
from .portability import art20_applies, art20_refusal
from .storemap import StoreMap
from .transfer_exchange import intake_task_queue

MAX_LINK_HOURS = 7 * 24
REASONS = ("moved-area", "portability")


def _number(name: str, default: float) -> float:
    from .request_service import Refused

    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise Refused(f"{name} must be a number") from None


def portability_options() -> dict[str, float]:
    """How long the person's download link lasts and when the package goes."""
    sar_hours = _number("RIGHTSFLOW_SAR_LINK_EXPIRY_HOURS", 168)
    hours = _number("RIGHTSFLOW_PORTABILITY_LINK_EXPIRY_HOURS", sar_hours)
    hours = max(1 / 3600, min(hours, MAX_LINK_HOURS))
    remove = _number("RIGHTSFLOW_PORTABILITY_REMOVE_AFTER_DAYS", 30)
    return {
        "link_expiry_hours": hours,
        # locked for the link's life, never beyond the removal day
        "lock_days": min(hours / 24, remove),
        "remove_after_days": remove,
    }


def transfer_options() -> dict[str, float]:
    """The acknowledgement wait, the package's lock and removal, how often S3 is looked in."""
    return {
        "ack_working_days": int(_number("RIGHTSFLOW_TRANSFER_ACK_WORKING_DAYS", 15)),
        "lock_days": _number("RIGHTSFLOW_TRANSFER_LOCK_DAYS", 35),
        "remove_after_days": _number("RIGHTSFLOW_TRANSFER_REMOVE_AFTER_DAYS", 90),
        "ack_poll_hours": _number("RIGHTSFLOW_TRANSFER_ACK_POLL_HOURS", 24),
    }


def intake_queue_for(authority: str) -> str:
    """The receiving council's intake task queue (overridable per council, for a test or a pilot)."""
    env = f"RIGHTSFLOW_INTAKE_QUEUE_{authority.upper().replace('-', '_')}"
    return os.environ.get(env) or intake_task_queue(authority)


def family_identifiers(
    settings: Settings, catalog: Catalog, service: str, family_ref: str
) -> SubjectIdentifiers:
    """Identifiers of one member of the family (for the register), read through the catalogue."""
    cat = catalog[service]
    smap = StoreMap(cat)
    subj, hh = cat.subject, cat.subject.household
    person = smap.t(subj.collection)
    nhs = smap.first("nhs_number")
    first, last, dob = (
        smap.first("name", "user.name.first"),
        smap.first("name", "user.name.last"),
        smap.first("date_of_birth"),
    )
    with store_engine(cat, settings).connect() as conn:
        if hh.via == "relationship":
            q = select(person).where(person.c[subj.key] == family_ref)
        else:
            link = smap.t(hh.collection)
            assert hh.group_column
            if hh.collection == subj.collection:
                q = select(person).where(person.c[hh.group_column] == family_ref)
            else:
                members = select(link.c[hh.person_column]).where(link.c[hh.group_column] == family_ref)
                q = select(person).where(person.c[subj.key].in_(members))
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        if nhs and nhs[0] == subj.collection and r.get(nhs[1]):
            try:
                return SubjectIdentifiers(nhs_number=normalise_nhs_number(str(r[nhs[1]])))
            except InvalidIdentifier:
                continue
    for r in rows:
        if first and last and dob and r.get(last[1]) and r.get(dob[1]):
            d = r[dob[1]]
            return SubjectIdentifiers(
                given_name=r.get(first[1]),
                family_name=r[last[1]],
                date_of_birth=d if isinstance(d, date) else date.fromisoformat(str(d)[:10]),
            )
    raise LookupError(f"no family {family_ref} in {service}")


class FilesMoves:
    """The request service's filing of portability requests and transfers (see the module)."""

    catalog: Any
    file: Any
    settings: Any

    async def file_portability(
        self,
        *,
        actor: str,
        subject: Any,
        received_on: date | str | None,
        service: str,
        requester: str = "self",
        controller: str | None = None,
        requester_details: dict[str, object] | None = None,
        check_basis: bool = True,
        **options: Any,
    ) -> Any:
        """Article 20 to the person: a structured copy of one service's records. Refused, with
        nothing recorded, where the service's processing rests on neither consent nor a contract,
        or without an exact identifier. The request is made to the council running the service."""
        from workflows.portability_person import PortabilityInput, PortabilityToPerson

        from .request_checks import check_received, check_services
        from .request_service import Refused, _subject

        check_services(self.catalog, [service])
        cat = self.catalog[service]
        if check_basis and not art20_applies(cat):
            raise Refused(art20_refusal(cat))
        ids = _subject(subject)
        if not (ids.nhs_number or ids.upn):
            raise Refused("portability needs an exact identifier: the NHS number or the UPN")
        day = check_received(received_on) if received_on is not None else date.today()
        if controller is None and cat.controller in self.catalog.controllers:
            controller = cat.controller  # its letters carry that council's letterhead
        settings = {**portability_options(), **options}
        return await self.file(
            actor=actor,
            request_type="portability",
            subject=ids,
            received_on=day,
            requester=requester,
            controller=controller,
            requester_details=requester_details,
            workflow=PortabilityToPerson.run,
            workflow_id_prefix="portability",
            id_prefix="pt",
            make_input=lambda rid, ref: PortabilityInput(
                request_id=rid, subject_ref=ref, service=service, received_on=day.isoformat(), **settings
            ),
        )

    async def file_transfer(
        self,
        *,
        actor: str,
        subject: Any | None,
        received_on: date | str | None,
        service: str,
        to_authority: str,
        family_ref: str | None = None,
        requester: str = "self",
        controller: str | None = None,
        requester_details: dict[str, object] | None = None,
        reason: str = "moved-area",
        to_task_queue: str | None = None,
        **options: Any,
    ) -> Any:
        """A family moving area: their records from one service to the receiving council, the
        family named by its case reference or found from the member named. Refused, with nothing
        recorded, for the sending council itself or a council the catalogue does not know."""
        from workflows.portability_transfer import PortabilityTransfer, TransferInput

        from .request_checks import check_received, check_services
        from .request_service import Refused, _subject

        check_services(self.catalog, [service])
        cat = self.catalog[service]
        if to_authority == cat.authority_code:
            raise Refused("the receiving authority is the sending one")
        if self.catalog.controllers and to_authority not in self.catalog.controllers:
            known = ", ".join(sorted(set(self.catalog.controllers) - {cat.authority_code}))
            raise Refused(
                f"no receiving authority {to_authority} in the catalogue (known: {known}): add "
                f"controllers/{to_authority}.yaml to the catalogue first"
            )
        if reason not in REASONS:
            raise Refused(f"the reason must be one of {', '.join(REASONS)}")
        if (family_ref is None) == (subject is None):
            raise Refused("give either a family reference or the identifiers of a family member")
        if subject is None:
            assert family_ref is not None
            try:
                subject = family_identifiers(self.settings, self.catalog, service, family_ref)
            except LookupError as exc:
                raise Refused(str(exc)) from None
        ids = _subject(subject)
        day = check_received(received_on) if received_on is not None else date.today()
        if controller is None and cat.controller in self.catalog.controllers:
            controller = cat.controller
        settings = {**transfer_options(), **options}
        queue = intake_queue_for(to_authority) if to_task_queue is None else to_task_queue
        return await self.file(
            actor=actor,
            request_type="portability" if reason == "portability" else "transfer",
            subject=ids,
            received_on=day,
            requester=requester,
            controller=controller,
            requester_details=requester_details,
            workflow=PortabilityTransfer.run,
            workflow_id_prefix="transfer",
            id_prefix="tr",
            make_input=lambda rid, ref: TransferInput(
                transfer_id=rid,
                subject_ref=ref,
                service=service,
                from_authority=cat.authority_code,
                to_authority=to_authority,
                to_task_queue=queue,
                reason=reason,
                family_ref=family_ref,
                **settings,
            ),
        )
