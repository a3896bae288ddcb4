"""Letters: rendered from jinja2 templates to HTML and PDF, stored under Object Lock, recorded.

Every letter belongs to a request and is addressed from the request's controller (the council's
legal name, address, DPO contact and signature, from catalog/controllers/) to the requester, or
to an organisation for an Article 19 notice or a transfer. The requester and subject are read
from the register's sealed records when the letter is rendered, never carried by the workflow.

A letter's id, S3 keys and register row are derived from (request, kind, discriminator), so an
activity that runs twice finds the letter it wrote and writes nothing again. The letter is stored
before anything tries to send it: a mail failure never loses it.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import select

from .catalog import Catalog
from .config import Settings
from .controllers import Controller
from .keys import keyed_hash, load_hash_key
from .nhs import spaced
from .pdf import render_pdf
from .register import Letter, LetterDelivery, Register
from .s3 import ensure_archive_bucket, opaque_key, presigned_get, put_locked_object, s3_client

LETTER_LOCK_DAYS = 730  # two years: the ICO's usual look-back at a complaint
REQUESTER_KINDS = ("self", "parent", "representative", "solicitor")

ICO = {
    "name": "Information Commissioner's Office",
    "address": "Wycliffe House, Water Lane, Wilmslow, Cheshire SK9 5AF",
    "telephone": "0303 123 1113",
    "website": "https://ico.org.uk/make-a-complaint/",
}


@dataclass(frozen=True)
class LetterKind:
    template: str
    title: str  # what a person calls it: the `letters` listing and the email subject
    addressee: str = "requester"  # requester | recipient


KINDS: dict[str, LetterKind] = {
    "acknowledgement": LetterKind("letter_acknowledgement.html.j2", "Acknowledgement of your request"),
    "evidence_request": LetterKind(
        "letter_evidence_request.html.j2", "Request for proof of identity or authority"
    ),
    "clarification_request": LetterKind("letter_clarification_request.html.j2", "Request for clarification"),
    "extension": LetterKind("letter_extension.html.j2", "Extension of the time to reply"),
    "sar_cover": LetterKind("letter_sar_cover.html.j2", "Response to your subject access request"),
    "refusal": LetterKind("letter_refusal.html.j2", "Refusal of your request"),
    "erasure": LetterKind("letter_erasure.html.j2", "Outcome of your request for erasure"),
    "rectification": LetterKind("letter_rectification.html.j2", "Outcome of your request for rectification"),
    "restriction": LetterKind("letter_restriction.html.j2", "Restriction of processing"),
    "restriction_lift": LetterKind(
        "letter_restriction_lift.html.j2", "Notice that a restriction will be lifted"
    ),
    "objection": LetterKind("letter_objection.html.j2", "Outcome of your objection"),
    "consent_withdrawal": LetterKind(
        "letter_consent_withdrawal.html.j2", "Confirmation that your consent is withdrawn"
    ),
    "portability": LetterKind("letter_portability.html.j2", "Your records in a machine-readable form"),
    "article19": LetterKind("letter_article19.html.j2", "Notice under Article 19 UK GDPR", "recipient"),
    "identification_sheet": LetterKind(
        "letter_identification_sheet.html.j2", "Identification sheet (Article 19 notice)", "recipient"
    ),
    "transfer": LetterKind("letter_transfer.html.j2", "Transfer of a family's records", "recipient"),
    "transfer_family_notice": LetterKind(
        "letter_transfer_family_notice.html.j2", "Your family's records are moving to another council"
    ),
}

REQUESTER_WORDS = {
    "self": "the person the records are about",
    "parent": "parent, on behalf of their child",
    "representative": "representative acting with the person's authority",
    "solicitor": "solicitor acting for the person",
}


class LetterError(Exception):
    """A letter cannot be produced as asked (unknown kind, no controller): retrying will not help."""


@dataclass(frozen=True)
class LetterView:
    """A letter as the `letters` command shows it."""

    letter_id: str
    kind: str
    title: str
    addressee: str
    created_at: str
    pdf_key: str
    html_key: str
    channel: str
    deliveries: list[dict[str, Any]]
    attachments: list[str]


def jinja_env(settings: Settings, catalog: Catalog | None = None) -> Any:
    """The letters' template environment: built once per templates folder and catalogue (a
    catalogue by identity), as compiling each template again was about a tenth of a letter's CPU.

    Jinja2 checks each template's file for changes when it is used (``auto_reload``), so an edited
    letter is picked up without a restart, and its environments are safe to share between threads.
    """
    return _jinja_env(str(settings.templates_dir), catalog)


@functools.lru_cache(maxsize=8)  # a worker or console has one catalogue; tests make many
def _jinja_env(templates_dir: str, catalog: Catalog | None) -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,  # a letter with a hole in it is a bug, not a blank
    )
    env.filters["longdate"] = long_date
    # A value that is a date reads as one ("29 February 2016"); anything else as it is.
    # A yes/no reads Yes or No, never True/False.
    env.filters["value"] = lambda v: (
        ("Yes" if v else "No")
        if isinstance(v, bool)
        else long_date(v)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v or ""))
        else v
    )
    # Services by their name, never their id ("Early Help Team", not "lewisham_early_help").
    names = {svc.service: svc.name for svc in catalog} if catalog is not None else {}
    env.filters["service"] = lambda s: names.get(str(s), str(s).replace("_", " "))
    return env


def long_date(value: Any) -> str:
    """ "2026-12-21" -> "21 December 2026" (how a letter writes a date)."""
    if value in (None, ""):
        return ""
    d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{d.day} {d:%B %Y}"


class Letters:
    """Render, store and record letters (one instance per worker or command)."""

    def __init__(self, settings: Settings, catalog: Catalog, register: Register, client: Any = None) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.bucket = settings.s3_bucket
        self._client = client
        self._hash_key = load_hash_key(settings)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.settings)
            ensure_archive_bucket(self._client, self.bucket)
        return self._client

    # -- who and what --------------------------------------------------------------------------
    @property
    def default_controller(self) -> str | None:
        """The council of a request recorded without one (filed before councils were named): the
        catalogue's only council, else RIGHTSFLOW_DEFAULT_CONTROLLER when it names a known one."""
        configured = self.settings.default_controller
        if configured in self.catalog.controllers:
            return configured
        return self.catalog.default_controller

    def controller_code(self, request_id: str) -> str | None:
        return self.register.get_request(request_id).controller or self.default_controller

    def controller_for(self, request_id: str) -> Controller:
        code = self.controller_code(request_id)
        if not code:
            raise LetterError(f"request {request_id} names no controller and the catalogue has several")
        try:
            return self.catalog.controller(code)
        except KeyError as exc:
            raise LetterError(str(exc.args[0])) from None

    def subject_for(self, request_id: str) -> dict[str, Any]:
        """The subject's name and date of birth: as filed, or from the records found about them."""
        req = self.register.get_request(request_id)
        ids = self.register.subject_identifiers(req.subject_ref)
        name = " ".join(p for p in (ids.given_name, ids.family_name) if p) or None
        dob = ids.date_of_birth.isoformat() if ids.date_of_birth else None
        if not name:
            name, dob = self._name_from_records(request_id, dob)
        return {
            "name": name,
            "date_of_birth": dob,
            "nhs_number": spaced(ids.nhs_number) if ids.nhs_number else None,
            "upn": ids.upn,
        }

    def _name_from_records(self, request_id: str, dob: str | None) -> tuple[str | None, str | None]:
        # A request filed by NHS number names no one; the confirmed match in the controller's
        # own stores does (only stores the request already searched are read).
        from .db import store_engine
        from .storemap import StoreMap

        for m in self.register.matches_for(request_id):
            if not m.confirmed or m.service not in self.catalog.services:
                continue
            cat = self.catalog[m.service]
            col = cat.subject.collection
            cats = {f: cat.field_categories(col, f) for f in cat.columns[col]}
            first = next((f for f, c in cats.items() if "user.name.first" in c), None)
            last = next((f for f, c in cats.items() if "user.name.last" in c), None)
            born = next((f for f, c in cats.items() if "user.demographic.date_of_birth" in c), None)
            if not (first or last):
                continue
            smap = StoreMap(cat)
            t = smap.t(col)
            wanted = [t.c[f] for f in (first, last, born) if f]
            key = t.c[cat.subject.key]
            with store_engine(cat, self.settings).connect() as conn:
                row = conn.execute(select(*wanted).where(key == _typed(m.record_key, key))).first()
            if row is None:
                continue
            values = dict(zip([f for f in (first, last, born) if f], row, strict=True))
            name = " ".join(str(values[f]) for f in (first, last) if f and values.get(f)) or None
            if born and values.get(born) and not dob:
                dob = str(values[born])[:10]
            if name:
                return name, dob
        return None, dob

    def requester_for(self, request_id: str, subject: dict[str, Any]) -> dict[str, Any]:
        req = self.register.get_request(request_id)
        details = self.register.requester_details(request_id) or {}
        kind = str(details.get("kind") or req.requester or "self")
        name = details.get("name") or (subject.get("name") if kind == "self" else None)
        return {
            "kind": kind,
            "described": REQUESTER_WORDS.get(kind, kind),
            "name": name,
            "email": details.get("email"),
            "address": list(details.get("address") or []),
            "is_subject": kind == "self",
        }

    def _recipient_contact(self, request_id: str, name: str) -> dict[str, Any]:
        """An organisation's contact from the catalogue's recipients (email, postal address)."""
        contact = self.controller_for(request_id).recipients.get(name)
        if contact is None:
            return {"name": name, "email": None, "address": [], "post": True}
        return {"name": name, "email": contact.email, "address": list(contact.postal_address), "post": True}

    # -- issuing --------------------------------------------------------------------------------
    def letter_id(self, request_id: str, kind: str, discriminator: str = "") -> str:
        return "lt_" + keyed_hash(self._hash_key, f"{request_id}:{kind}:{discriminator}", "letter")[:32]

    def issue(
        self,
        request_id: str,
        kind: str,
        facts: dict[str, Any] | None = None,
        *,
        discriminator: str = "",
        recipient: str | None = None,
        attachments: list[str] | None = None,
    ) -> Letter:
        """Render the letter (HTML and PDF), store both under Object Lock, record it; once."""
        if kind not in KINDS:
            raise LetterError(f"unknown letter kind {kind!r}")
        spec = KINDS[kind]
        letter_id = self.letter_id(request_id, kind, discriminator)
        with self.register.session() as s:
            found = s.get(Letter, letter_id)
            if found is not None:
                return found
        html, ctx = self._render(request_id, kind, facts or {}, recipient=recipient, letter_id=letter_id)
        pdf = render_pdf(html, base_url=str(self.settings.templates_dir))
        token = letter_id[3:]
        html_key = opaque_key("letters", token, f"{kind}.html")
        pdf_key = opaque_key("letters", token, f"{kind}.pdf")
        until = datetime.now(UTC) + timedelta(days=LETTER_LOCK_DAYS)
        self._put_once(html_key, html.encode(), "text/html; charset=utf-8", until)
        sha = self._put_once(pdf_key, pdf, "application/pdf", until)
        addressee = ctx["addressee"]
        channel = (
            "email"
            if addressee.get("email")
            else "post"
            if addressee.get("address") or addressee.get("post")
            else "none"
        )
        row = Letter(
            letter_id=letter_id,
            request_id=request_id,
            kind=kind,
            addressee=spec.addressee,
            recipient=recipient,
            channel=channel,
            html_key=html_key,
            pdf_key=pdf_key,
            pdf_sha256=sha,
            attachments=json.dumps(list(attachments or [])),
        )
        with self.register.session() as s:
            if s.get(Letter, letter_id) is None:
                s.add(row)
        self.register.audit(
            f"{request_id}:letter:{letter_id}",
            actor="rightsflow",
            action=f"letter.{kind}",
            request_id=request_id,
            detail={"letter_id": letter_id, "pdf_key": pdf_key, "html_key": html_key, "sha256": sha},
        )
        return row

    def _render(
        self, request_id: str, kind: str, facts: dict[str, Any], *, recipient: str | None, letter_id: str
    ) -> tuple[str, dict[str, Any]]:
        spec = KINDS[kind]
        ctx = self.context(request_id, facts, recipient=recipient)
        ctx["letter_kind"], ctx["letter_title"], ctx["letter_id"] = kind, spec.title, letter_id
        return jinja_env(self.settings, self.catalog).get_template(spec.template).render(**ctx), ctx

    def render_html(self, request_id: str, kind: str, facts: dict[str, Any]) -> str:
        """A letter to the requester as HTML, neither stored nor recorded: a letter that travels
        inside something else (the SAR pack's cover letter)."""
        if kind not in KINDS:
            raise LetterError(f"unknown letter kind {kind!r}")
        return self._render(request_id, kind, facts, recipient=None, letter_id="")[0]

    def context(
        self, request_id: str, facts: dict[str, Any], *, recipient: str | None = None
    ) -> dict[str, Any]:
        req = self.register.get_request(request_id)
        controller = self.controller_for(request_id)
        subject = self.subject_for(request_id)
        requester = self.requester_for(request_id, subject)
        if recipient is not None:
            addressee = self._recipient_contact(request_id, recipient)
        else:
            addressee = {
                "name": requester["name"] or subject["name"],
                "email": requester["email"],
                "address": requester["address"],
            }
        return {
            "request_id": request_id,
            "request_type": req.request_type,
            "received_on": req.received_on.isoformat() if req.received_on else None,
            "clock_start": req.clock_start.isoformat() if req.clock_start else None,
            "deadline": req.deadline.isoformat() if req.deadline else None,
            "today": datetime.now(UTC).date().isoformat(),
            "controller": controller.contact(),
            "subject": subject,
            "requester": requester,
            "addressee": addressee,
            "ico": ICO,
            "facts": facts,
            "catalog": self.catalog,
        }

    def _put_once(self, key: str, body: bytes, content_type: str, until: datetime) -> str:
        import hashlib

        try:  # a retry finds the object it wrote; a locked object cannot be overwritten anyway
            stored = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return hashlib.sha256(stored).hexdigest()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404", "NotFound"):
                raise
        return str(put_locked_object(self.client, self.bucket, key, body, content_type, until)["sha256"])

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    # -- listing --------------------------------------------------------------------------------
    def letters_of(self, request_id: str) -> list[LetterView]:
        with self.register.session() as s:
            rows = list(
                s.scalars(select(Letter).where(Letter.request_id == request_id).order_by(Letter.created_at))
            )
            ids = [r.letter_id for r in rows]
            deliveries = (
                list(
                    s.scalars(
                        select(LetterDelivery)
                        .where(LetterDelivery.letter_id.in_(ids))
                        .order_by(LetterDelivery.at)
                    )
                )
                if ids
                else []
            )
        by_letter: dict[str, list[dict[str, Any]]] = {}
        for d in deliveries:
            by_letter.setdefault(d.letter_id, []).append(
                {
                    "channel": d.channel,
                    "status": d.status,
                    "at": d.at.replace(tzinfo=UTC).isoformat(timespec="seconds"),
                    "message_id": d.message_id,
                    "batch_key": d.batch_key,
                    "note": d.note,
                }
            )
        return [
            LetterView(
                letter_id=r.letter_id,
                kind=r.kind,
                title=KINDS[r.kind].title if r.kind in KINDS else r.kind,
                addressee=r.addressee,
                created_at=r.created_at.replace(tzinfo=UTC).isoformat(timespec="seconds"),
                pdf_key=r.pdf_key,
                html_key=r.html_key,
                channel=r.channel,
                deliveries=by_letter.get(r.letter_id, []),
                attachments=json.loads(r.attachments or "[]"),
            )
            for r in rows
        ]

    def link(self, key: str, seconds: int = 7 * 24 * 3600) -> str:
        return presigned_get(self.client, self.bucket, key, seconds)


def _typed(value: str, col: Any) -> Any:
    # Store keys travel as text; integer-keyed stores compare as integers.
    return int(value) if value.isdigit() else value
