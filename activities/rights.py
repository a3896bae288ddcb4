"""Side effects shared by the erasure, rectification, restriction and objection workflows.

Restriction and consent withdrawal in the stores, rectification and notes in the case record,
Article 19 notices to the recipients in each service's sharing log, letters to the requester and
certificates under Object Lock. Workflows pass opaque references (request id, subject reference,
store keys); a new value for a rectification or a supplementary statement travels only inside the
encrypted payload. Every activity is idempotent: set-based updates guarded by "not yet done"
conditions, objects at deterministic keys written once, audit entries with fixed idempotency keys.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import Connection, func, or_, select, update
from temporalio import activity

from activities.errors import fails_fast, service_entry
from activities.heartbeat import heartbeats
from rightsflow.catalog import Catalog, ServiceCatalog
from rightsflow.claims import ClaimStore
from rightsflow.config import Settings
from rightsflow.contracts.rights import (  # noqa: F401  (re-exported for callers)
    CertificateInput,
    ConsentInput,
    ConsentResult,
    DecisionInput,
    LetterInput,
    Notice,
    NoticeException,
    NoticesInput,
    RectifyInput,
    RectifyResult,
    RestrictInput,
    StatementInput,
    StoreKeys,
)
from rightsflow.db import store_engine
from rightsflow.erasure import case_note_target, field_label, rectifiable_fields
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.letters import ICO, Letters
from rightsflow.mail import Mailer
from rightsflow.nhs import normalise_nhs_number, spaced
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, put_locked_object
from rightsflow.sar_pack import pack_jinja as _jinja
from rightsflow.storemap import StoreMap, TypedKeys

LETTER_LOCK_DAYS = 730
# The outcome letters' templates of requests filed before controllers, and the letter each now is.
RIGHTS_LETTER_KINDS = {
    "erasure_letter.html.j2": "erasure",
    "rectification_letter.html.j2": "rectification",
    "restriction_letter.html.j2": "restriction",
    "objection_letter.html.j2": "objection",
    "consent_withdrawal_letter.html.j2": "consent_withdrawal",
}
CERTIFICATE_LOCK_DAYS = 6 * 365
IN_CHUNK = 500


# -- inputs and results ----------------------------------------------------------------------------


# -- helpers -----------------------------------------------------------------------------------------


def chunks(values: list[Any], size: int = IN_CHUNK) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)] or [[]]


def subject_groups(conn: Connection, cat: ServiceCatalog, smap: StoreMap, keys: list[Any]) -> list[Any]:
    """The household / case keys of the subject (none for relationship stores)."""
    h = cat.subject.household
    if h.via == "relationship" or not h.group_column or not keys:
        return []
    t = smap.t(h.collection)
    q = select(t.c[h.group_column]).where(t.c[h.person_column].in_(keys)).distinct()
    return [r[0] for r in conn.execute(q) if r[0] is not None]


def sharing_recipients(
    conn: Connection, cat: ServiceCatalog, smap: StoreMap, keys: list[Any], groups: list[Any]
) -> list[tuple[str, int, Any]]:
    """(recipient, disclosures, last date) for the subject's rows in the sharing log, grouped in SQL."""
    role = cat.roles.sharing_log
    t = smap.t(role.collection)
    conds = []
    if role.person_column and keys:
        conds.append(t.c[role.person_column].in_(keys))
    elif role.group_column and groups:
        conds.append(t.c[role.group_column].in_(groups))
    if not conds:
        return []
    rcol, dcol = t.c[role.recipient_field], t.c[role.date_field]
    q = select(rcol, func.count(), func.max(dcol)).where(*conds).group_by(rcol).order_by(rcol)
    return [(str(r[0]), int(r[1]), r[2]) for r in conn.execute(q) if r[0]]


def _store_value(cat: ServiceCatalog, column: str, what: str, value: str, current: Any) -> Any:
    """The new value in the store's form (dates as dates, NHS numbers spaced where the store spaces them)."""
    cats = cat.field_categories(cat.subject.collection, column)
    if what == "date_of_birth" or any(c.startswith("user.demographic.date_of_birth") for c in cats):
        return date.fromisoformat(value)
    if what == "nhs_number":
        plain = normalise_nhs_number(value)
        return spaced(plain) if isinstance(current, str) and " " in current else plain
    return value


class RightsActivities:
    """Store changes and evidence for rights requests (one instance per worker)."""

    def __init__(
        self, settings: Settings, catalog: Catalog, register: Register, claims: ClaimStore | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.claims = claims or ClaimStore(settings)
        self.maps = {svc.service: StoreMap(svc) for svc in catalog}
        self.hash_key = load_hash_key(settings)
        # Article 19 notices are letters: PDF and HTML, an identification sheet, sent by email or post.
        self.letters = Letters(settings, catalog, register)
        self._mailer: Mailer | None = None

    @property
    def mailer(self) -> Mailer:
        if self._mailer is None:
            self._mailer = Mailer(self.letters)
        return self._mailer

    # -- S3 -------------------------------------------------------------------------------------------
    def _exists(self, key: str) -> bool:
        try:
            self.claims.client.head_object(Bucket=self.claims.bucket, Key=key)
            return True
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def put_once(self, key: str, body: bytes, content_type: str, days: int) -> str:
        """Write under Object Lock unless already there (a retry writes nothing new); returns sha256."""
        if self._exists(key):
            return hashlib.sha256(
                self.claims.client.get_object(Bucket=self.claims.bucket, Key=key)["Body"].read()
            ).hexdigest()
        put = put_locked_object(
            self.claims.client,
            self.claims.bucket,
            key,
            body,
            content_type,
            datetime.now(UTC) + timedelta(days=days),
        )
        return str(put["sha256"])

    def token(self, *parts: str) -> str:
        return keyed_hash(self.hash_key, ":".join(parts), "rights.object")[:32]

    def _subject(self, subject_ref: str) -> dict[str, Any]:
        ids = self.register.subject_identifiers(subject_ref)
        return {
            "name": " ".join(p for p in (ids.given_name, ids.family_name) if p) or None,
            "date_of_birth": ids.date_of_birth.isoformat() if ids.date_of_birth else None,
        }

    def _keys(self, service: str, record_keys: list[str]) -> tuple[ServiceCatalog, Any, list[Any]]:
        cat = service_entry(self.catalog, service)
        engine = store_engine(cat, self.settings)
        keys = TypedKeys(engine).values(cat.subject.collection, cat.subject.key, record_keys)
        return cat, engine, keys

    # -- the register ------------------------------------------------------------------------------
    @activity.defn
    @fails_fast
    def record_decision(self, inp: DecisionInput) -> None:
        """A DPO decision, once per key: the decision row and an audit entry."""
        self.register.record_decision(
            f"{inp.request_id}:{inp.key}",
            inp.request_id,
            inp.decision,
            decided_by=inp.decided_by,
            service=inp.service,
            legal_basis=(inp.legal_basis or "")[:200] or None,
        )
        self.register.audit(
            f"{inp.request_id}:{inp.key}",
            actor=inp.decided_by,
            action=f"decision.{inp.decision}",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis=(inp.legal_basis or "")[:200] or None,
            detail=inp.detail,
        )

    # -- restriction -------------------------------------------------------------------------------
    @activity.defn
    @heartbeats
    @fails_fast
    def set_restriction(self, inp: RestrictInput) -> int:
        """Set (or lift) the subject's restricted field: one UPDATE, guarded so a retry changes nothing."""
        cat, engine, keys = self._keys(inp.service, inp.record_keys)
        smap = self.maps[inp.service]
        t = smap.t(cat.subject.collection)
        kcol, rcol = t.c[cat.subject.key], t.c[cat.subject.restricted_field]
        changed = 0
        with engine.begin() as conn:
            for ch in chunks(keys):
                if inp.restrict:
                    q = (
                        update(t)
                        .where(kcol.in_(ch), rcol.is_(None))
                        .values({rcol: date.fromisoformat(inp.on)})
                    )
                else:
                    q = update(t).where(kcol.in_(ch), rcol.is_not(None)).values({rcol: None})
                changed += conn.execute(q).rowcount or 0
        action = "restriction.set" if inp.restrict else "restriction.lifted"
        self.register.audit(
            f"{inp.request_id}:{action}:{inp.service}",
            actor="rightsflow",
            action=action,
            request_id=inp.request_id,
            service=inp.service,
            legal_basis="UK GDPR Art 18" + (f" ({inp.reason})" if inp.restrict else ""),
            detail={"people": len(keys), "changed": changed, "on": inp.on},
        )
        activity.logger.info("%s in %s for %s: %d row(s)", action, inp.service, inp.request_id, changed)
        return changed

    # -- consent withdrawal ------------------------------------------------------------------------
    @activity.defn
    @heartbeats
    @fails_fast
    def withdraw_consent(self, inp: ConsentInput) -> ConsentResult:
        """Record the withdrawal date on every consent the subject gave in the service."""
        cat, engine, keys = self._keys(inp.service, inp.record_keys)
        role = cat.roles.consents
        if role is None or not role.person_column:
            return ConsentResult(service=inp.service, supported=False, withdrawn=0, already=0)
        t = self.maps[inp.service].t(role.collection)
        pcol, wcol = t.c[role.person_column], t.c[role.withdrawn_field]
        withdrawn = already = 0
        with engine.begin() as conn:
            for ch in chunks(keys):
                withdrawn += (
                    conn.execute(
                        update(t)
                        .where(pcol.in_(ch), wcol.is_(None))
                        .values({wcol: date.fromisoformat(inp.withdrawn_on)})
                    ).rowcount
                    or 0
                )
                already += conn.execute(
                    select(func.count()).select_from(t).where(pcol.in_(ch), wcol.is_not(None))
                ).scalar_one()
        self.register.audit(
            f"{inp.request_id}:consent.withdrawn:{inp.service}",
            actor="rightsflow",
            action="consent.withdrawn",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis="UK GDPR Art 7(3): consent withdrawn; sharing under consent stops",
            detail={"withdrawn_on": inp.withdrawn_on, "consents": already, "newly_withdrawn": withdrawn},
        )
        return ConsentResult(
            service=inp.service, supported=True, withdrawn=withdrawn, already=already - withdrawn
        )

    # -- rectification -------------------------------------------------------------------------------
    def _append_note(
        self, conn: Connection, cat: ServiceCatalog, keys: list[Any], marker: str, text: str
    ) -> bool:
        """Append ``text`` to the supplementary statement of the subject's latest case note, once."""
        target = case_note_target(cat)
        if target is None:
            return False
        coll, link, level, date_field = target
        smap = self.maps[cat.service]
        t = smap.t(coll)
        values = keys if level == "person" else subject_groups(conn, cat, smap, keys)
        if not values:
            return False
        pk = next(
            f.name
            for c in cat.dataset.collections
            if c.name == coll
            for f in c.fields
            if f.fides_meta and f.fides_meta.primary_key
        )
        col = t.c["supplementary_statement"]
        if conn.execute(select(t.c[pk]).where(t.c[link].in_(values), col.contains(marker)).limit(1)).first():
            return True  # already noted (a retry)
        row = conn.execute(
            select(t.c[pk], col)
            .where(t.c[link].in_(values))
            .order_by(t.c[date_field].desc(), t.c[pk].desc())
            .limit(1)
        ).first()
        if row is None:
            return False
        joined = f"{row[1]}\n{text}" if row[1] else text
        conn.execute(update(t).where(t.c[pk] == row[0]).values({col: joined}))
        return True

    @activity.defn
    @heartbeats
    @fails_fast
    def rectify_service(self, inp: RectifyInput) -> RectifyResult:
        """Correct the field in the subject's row(s) and keep a note that a correction was made."""
        cat, engine, keys = self._keys(inp.service, inp.record_keys)
        fields = rectifiable_fields(cat, inp.field)
        t = self.maps[inp.service].t(cat.subject.collection)
        kcol = t.c[cat.subject.key]
        rows = 0
        label = field_label(inp.field)
        marker = f"[rectification {inp.request_id}]"
        with engine.begin() as conn:
            current = {}
            if fields:
                got = conn.execute(select(*(t.c[f] for f in fields)).where(kcol.in_(keys)).limit(1)).first()
                current = dict(zip(fields, got, strict=True)) if got else {}
            values = {t.c[f]: _store_value(cat, f, inp.field, inp.value, current.get(f)) for f in fields}
            if values and keys:
                # Set-based, and only rows not already holding the value: a retry changes nothing.
                differs = [t.c[f] != v for f, v in zip(fields, values.values(), strict=True)]
                rows = (
                    conn.execute(
                        update(t)
                        .where(kcol.in_(keys), or_(*differs, *(t.c[f].is_(None) for f in fields)))
                        .values(values)
                    ).rowcount
                    or 0
                )
            noted = bool(fields) and self._append_note(
                conn,
                cat,
                keys,
                marker,
                f"{marker} {inp.on}: the {label} in this record was corrected at the person's request "
                "(UK GDPR Art 16). The previous entry was inaccurate.",
            )
        self.register.audit(
            f"{inp.request_id}:rectified:{inp.service}",
            actor="rightsflow",
            action="rectification.corrected",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis="UK GDPR Art 16",
            detail={"fields": fields, "rows_changed": rows, "note_in_store": noted},
        )
        return RectifyResult(
            service=inp.service, fields=fields, rows=rows, note="case_note" if noted else "register_only"
        )

    @activity.defn
    @heartbeats
    @fails_fast
    def attach_statement(self, inp: StatementInput) -> bool:
        """A declined rectification: the person's supplementary statement goes with the record."""
        cat, engine, keys = self._keys(inp.service, inp.record_keys)
        marker = f"[supplementary statement {inp.request_id}]"
        text = (
            f"{marker} {inp.on}: the person disputes the accuracy of the {field_label(inp.field)} "
            "recorded here; the council has kept the entry (UK GDPR Art 16). "
            f"Their statement: {inp.statement}"
        )
        with engine.begin() as conn:
            noted = self._append_note(conn, cat, keys, marker, text)
        self.register.audit(
            f"{inp.request_id}:statement:{inp.service}",
            actor="rightsflow",
            action="rectification.statement_attached",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis="UK GDPR Art 16 (supplementary statement)",
            detail={"note_in_store": noted},
        )
        return noted

    @activity.defn
    @fails_fast
    def holds_field(self, inp: RectifyInput) -> bool:
        """Whether the service maps the field for its subjects (no store read)."""
        try:
            return bool(rectifiable_fields(service_entry(self.catalog, inp.service), inp.field))
        except ValueError:
            return False

    # -- Article 19 ---------------------------------------------------------------------------------
    def _has_controller(self, request_id: str) -> bool:
        return bool(self.letters.controller_code(request_id))

    def _article19_letters(
        self, inp: NoticesInput, recipient: str, count: int, last: Any, rtoken: str
    ) -> tuple[str, str]:
        """The notice (what changed, what to do) and, apart, the sheet identifying the person."""
        disc = f"{inp.kind}:{inp.service}:{rtoken}"
        facts = {
            "kind": inp.kind,
            "service": inp.service,
            "on": inp.on,
            "detail": inp.detail,
            "field": inp.field_label or inp.detail,
            "value": inp.value,
            "disclosures": count,
            "last_shared": last.isoformat() if hasattr(last, "isoformat") else str(last or ""),
            # the same reference on both: the recipient joins them, neither identifies alone
            "sheet_reference": f"ID-{self.token(inp.request_id, disc)[:8].upper()}",
        }
        notice = self.letters.issue(
            inp.request_id, "article19", facts, discriminator=disc, recipient=recipient
        )
        sheet = self.letters.issue(
            inp.request_id, "identification_sheet", facts, discriminator=disc, recipient=recipient
        )
        for letter in (notice, sheet):
            self.mailer.deliver(letter.letter_id)
        return notice.pdf_key, notice.pdf_sha256

    @activity.defn
    @heartbeats
    @fails_fast
    def send_notices(self, inp: NoticesInput) -> list[Notice]:
        """One notice per recipient in the sharing log that received the subject's data."""
        cat, engine, keys = self._keys(inp.service, inp.record_keys)
        smap = self.maps[inp.service]
        with engine.connect() as conn:
            groups = subject_groups(conn, cat, smap, keys)
            recipients = sharing_recipients(conn, cat, smap, keys, groups)
        skip = {e.recipient: e.reason for e in inp.exceptions if e.service == inp.service}
        env = _jinja(self.settings)
        out: list[Notice] = []
        for recipient, count, last in recipients:
            rtoken = keyed_hash(self.hash_key, recipient, "rights.recipient")[:16]
            idem = f"{inp.request_id}:art19:{inp.kind}:{inp.service}:{rtoken}"
            if recipient in skip:
                self.register.audit(
                    idem,
                    actor="dpo",
                    action="article19.not_sent",
                    request_id=inp.request_id,
                    service=inp.service,
                    legal_basis="UK GDPR Art 19: impossible or involves disproportionate effort",
                    detail={"recipient": recipient, "reason": skip[recipient], "kind": inp.kind},
                )
                out.append(
                    Notice(
                        service=inp.service,
                        recipient=recipient,
                        sent=False,
                        letter_key=None,
                        reason=skip[recipient],
                    )
                )
                continue
            if self._has_controller(inp.request_id):
                key, sha = self._article19_letters(inp, recipient, count, last, rtoken)
            else:  # no council on the request: the plain HTML notice, without a letterhead
                html = (
                    env.get_template("article19_notice.html.j2")
                    .render(
                        request_id=inp.request_id,
                        recipient=recipient,
                        service=cat,
                        kind=inp.kind,
                        on=inp.on,
                        detail=inp.detail,
                        disclosures=count,
                        last_shared=last.isoformat() if hasattr(last, "isoformat") else last,
                        subject_reference=self.token(inp.request_id, inp.service, "subject")[:12],
                    )
                    .encode()
                )
                key = opaque_key(
                    "letters", self.token(inp.request_id, inp.kind, inp.service, recipient), "article19.html"
                )
                sha = self.put_once(key, html, "text/html; charset=utf-8", LETTER_LOCK_DAYS)
            self.register.audit(
                idem,
                actor="rightsflow",
                action="article19.sent",
                request_id=inp.request_id,
                service=inp.service,
                legal_basis="UK GDPR Art 19",
                detail={"recipient": recipient, "kind": inp.kind, "letter_key": key, "sha256": sha},
            )
            out.append(Notice(service=inp.service, recipient=recipient, sent=True, letter_key=key))
        activity.logger.info(
            "article 19 %s notices for %s in %s: %d", inp.kind, inp.request_id, inp.service, len(out)
        )
        return out

    # -- letters and certificates -------------------------------------------------------------------
    @activity.defn
    @heartbeats
    @fails_fast
    def write_rights_letter(self, inp: LetterInput) -> str:
        kind = RIGHTS_LETTER_KINDS.get(inp.template)
        if kind == "restriction" and inp.context.get("lifting"):
            kind = "restriction_lift"
        if kind and self._has_controller(inp.request_id):
            # From the council to the requester, as a PDF, sent by email or post (stored first).
            letter = self.letters.issue(inp.request_id, kind, dict(inp.context), discriminator=inp.name)
            self.mailer.deliver(letter.letter_id)
            return letter.pdf_key
        html = (
            _jinja(self.settings)
            .get_template(inp.template)
            .render(
                request_id=inp.request_id,
                subject=self._subject(inp.subject_ref),
                ico=ICO,
                today=datetime.now(UTC).date().isoformat(),
                **inp.context,
            )
            .encode()
        )
        key = opaque_key("letters", self.token(inp.request_id, "letter", inp.name), f"{inp.name}.html")
        sha = self.put_once(key, html, "text/html; charset=utf-8", LETTER_LOCK_DAYS)
        self.register.audit(
            f"{inp.request_id}:letter:{inp.name}",
            actor="rightsflow",
            action=f"letter.{inp.name}",
            request_id=inp.request_id,
            detail={"letter_key": key, "sha256": sha, "template": inp.template},
        )
        return key

    @activity.defn
    @heartbeats
    @fails_fast
    def write_rights_certificate(self, inp: CertificateInput) -> str:
        """A JSON certificate of the outcome (opaque references and counts only) under Object Lock."""
        doc = {"request_id": inp.request_id, "kind": inp.kind, "certificate": inp.name, **inp.body}
        body = json.dumps(doc, indent=2, sort_keys=True, default=str).encode()
        key = opaque_key("certificates", inp.kind, inp.request_id, f"{inp.name}.json")
        sha = self.put_once(key, body, "application/json", CERTIFICATE_LOCK_DAYS)
        self.register.audit(
            f"{inp.request_id}:certificate:{inp.name}",
            actor="rightsflow",
            action=f"{inp.kind}.certified",
            request_id=inp.request_id,
            detail={"certificate_key": key, "sha256": sha},
        )
        return key
