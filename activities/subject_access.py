"""Subject access: gather a subject's records from each store, redact third parties, build the pack.

The workflow passes opaque references only (request id, subject reference, store keys, claim-check
keys). Gathered records are personal data: they go to the archive bucket as claim-check objects,
encrypted here with the codec key (AES-GCM) on top of the bucket's SSE, and are deleted when the
request closes. Every activity is idempotent: claim keys are fixed per request and step, audit
entries carry deterministic idempotency keys, and the pack key is a keyed hash of the request id.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from temporalio import activity

from activities.errors import fails_fast, service_entry
from activities.heartbeat import heartbeats
from rightsflow.catalog import Catalog
from rightsflow.claims import ClaimStore, work_prefix  # noqa: F401 - re-exported for callers
from rightsflow.config import Settings
from rightsflow.contracts.subject_access import (  # noqa: F401  (re-exported for callers)
    AddedRedaction,
    GatherInput,
    GatherResult,
    LetterInput,
    MatchDecisionInput,
    PackInput,
    PackResult,
    RecordInput,
    RedactInput,
    RedactResult,
)
from rightsflow.db import store_engine
from rightsflow.gathering import (  # noqa: F401 - re-exported for callers
    _fields_with_category,
    gather_records,
    redact_dossiers,
    requester_own_names,
)
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.letters import ICO as LETTER_ICO
from rightsflow.letters import Letters
from rightsflow.redaction import (
    Redaction,
)
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, presigned_get, put_locked_object
from rightsflow.sar_pack import pack_files, pack_jinja, zip_pack

# -- inputs and results (opaque references only) ---------------------------------------------------


# -- the activities ---------------------------------------------------------------------------------


class SubjectAccessActivities:
    def __init__(
        self, settings: Settings, catalog: Catalog, register: Register, claims: ClaimStore | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.claims = claims or ClaimStore(settings)

    @activity.defn
    def record_event(self, inp: RecordInput) -> None:
        """Audit entry (once per key) and the request's stage/status/dates in the register."""
        self.register.record_event(
            inp.request_id,
            inp.key,
            action=inp.action,
            actor=inp.actor,
            detail=inp.detail,
            legal_basis=inp.legal_basis,
            stage=inp.stage,
            status=inp.status,
            clock_start=inp.clock_start,
            deadline=inp.deadline,
            decision=inp.decision,
            attention=inp.attention,
        )

    @activity.defn
    @fails_fast
    def confirm_matches(self, inp: MatchDecisionInput) -> None:
        for ref in inp.confirmed:
            service, _, key = ref.partition("/")
            self.register.confirm_match(inp.request_id, service, key)

    @activity.defn
    @heartbeats
    @fails_fast
    def gather_service(self, inp: GatherInput) -> GatherResult:
        cat = service_entry(self.catalog, inp.service)
        dossier = gather_records(cat, store_engine(cat, self.settings), inp.record_keys)
        key = opaque_key("work", inp.request_id, "gathered", f"{inp.service}.bin")
        self.claims.put(key, dossier)
        n = sum(len(e["rows"]) for e in dossier["records"])
        self.register.audit(
            f"{inp.request_id}:gathered:{inp.service}",
            actor="rightsflow",
            action="subject_access.gathered",
            request_id=inp.request_id,
            service=inp.service,
            detail={
                "records": n,
                "collections": {e["collection"]: len(e["rows"]) for e in dossier["records"]},
            },
        )
        activity.logger.info("gathered %d record(s) from %s for %s", n, inp.service, inp.request_id)
        return GatherResult(
            service=inp.service,
            claim_key=key,
            records=n,
            collections=sum(1 for e in dossier["records"] if e["rows"]),
        )

    @activity.defn
    @heartbeats
    @fails_fast
    def redact(self, inp: RedactInput) -> RedactResult:
        dossiers = [self.claims.get(k) for k in inp.gathered]
        redacted, redactions = redact_dossiers(
            dossiers, set(inp.released), inp.added, requester_own_names(self.register, inp.request_id)
        )
        key = opaque_key("work", inp.request_id, "redacted", f"v{inp.version}.bin")
        self.claims.put(key, {"services": redacted, "redactions": [asdict(r) for r in redactions]})
        by_kind: dict[str, int] = {}
        for r in redactions:
            if not r.released:
                by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
        released = sum(r.released for r in redactions)
        self.register.audit(
            f"{inp.request_id}:redacted:v{inp.version}",
            actor="rightsflow",
            action="subject_access.redacted",
            request_id=inp.request_id,
            legal_basis="DPA 2018 Sch 2 para 16; Sch 3 (where the DPO decided)",
            detail={
                "version": inp.version,
                "withheld": by_kind,
                "released": released,
                "added_by_dpo": len(inp.added),
                "redaction_ids": [r.redaction_id for r in redactions],
            },
        )
        return RedactResult(
            claim_key=key,
            redactions=len(redactions) - released,
            released=released,
            by_kind=by_kind,
            redaction_ids=[r.redaction_id for r in redactions],
        )

    def _subject(self, subject_ref: str) -> dict[str, Any]:
        ids = self.register.subject_identifiers(subject_ref)
        return {
            "name": " ".join(p for p in (ids.given_name, ids.family_name) if p) or None,
            "date_of_birth": ids.date_of_birth.isoformat() if ids.date_of_birth else None,
        }

    @activity.defn
    @heartbeats
    @fails_fast
    def build_and_deliver_pack(self, inp: PackInput) -> PackResult:
        """Render, write under Object Lock with SSE at a keyed-hash key, presign, record what was sent."""
        doc = self.claims.get(inp.redacted_key)
        redactions = [Redaction(**r) for r in doc["redactions"]]
        subject = self._subject(inp.subject_ref)
        today = datetime.now(UTC).date()
        letters = Letters(self.settings, self.catalog, self.register, self.claims.client)
        cover = None
        if letters.controller_code(inp.request_id):  # the council's letter, signed, addressed
            cover = partial(letters.render_html, inp.request_id, "sar_cover")
        files = pack_files(
            self.settings, self.catalog, subject, inp, doc["services"], redactions, today, cover
        )
        body = zip_pack(files)
        token = keyed_hash(load_hash_key(self.settings), inp.request_id, "sar.pack")[:32]
        key = opaque_key("packs", token, "subject-access-pack.zip")
        client = self.claims.client
        retain_until = datetime.now(UTC) + timedelta(days=inp.retention_days)
        try:  # idempotent: a retry after the write finds the object and does not write it again
            head = client.head_object(Bucket=self.claims.bucket, Key=key)
            stored = client.get_object(Bucket=self.claims.bucket, Key=key)["Body"].read()
            sha = hashlib.sha256(stored).hexdigest()
            retain_until = head.get("ObjectLockRetainUntilDate") or retain_until
        except Exception:  # noqa: BLE001 - absent: write it
            put = put_locked_object(client, self.claims.bucket, key, body, "application/zip", retain_until)
            sha = put["sha256"]
        link = presigned_get(client, self.claims.bucket, key, inp.link_expiry_seconds)
        expires = datetime.now(UTC) + timedelta(seconds=inp.link_expiry_seconds)
        self.register.audit(
            f"{inp.request_id}:pack-sent",
            actor="rightsflow",
            action="subject_access.pack_sent",
            request_id=inp.request_id,
            detail={
                "pack_key": key,
                "sha256": sha,
                "files": sorted(files),
                "bytes": len(body),
                "retain_until": retain_until.isoformat(),
                "link_expires_at": expires.isoformat(),
                "withheld": sum(not r.released for r in redactions),
                "services": [
                    s["service"] for s in doc["services"] if any(c["rows"] for c in s["collections"])
                ],
            },
        )
        return PackResult(
            pack_key=key,
            sha256=sha,
            files=sorted(files),
            retain_until=retain_until.isoformat(),
            link=link,
            link_expires_at=expires.isoformat(),
        )

    @activity.defn
    @heartbeats
    @fails_fast
    def write_letter(self, inp: LetterInput) -> str:
        """The extension or refusal letter, stored under Object Lock; returns its (opaque) key."""
        env = pack_jinja(self.settings)
        html = (
            env.get_template(f"sar_{inp.kind}_letter.html.j2")
            .render(
                request_id=inp.request_id,
                subject=self._subject(inp.subject_ref),
                text=inp.text,
                clock_start=inp.clock_start,
                deadline=inp.deadline,
                extended_deadline=inp.extended_deadline,
                today=datetime.now(UTC).date().isoformat(),
                ico=LETTER_ICO,
            )
            .encode()
        )
        token = keyed_hash(load_hash_key(self.settings), f"{inp.request_id}:{inp.kind}", "sar.letter")[:32]
        key = opaque_key("letters", token, f"{inp.kind}.html")
        client = self.claims.client
        try:
            client.head_object(Bucket=self.claims.bucket, Key=key)
        except Exception:  # noqa: BLE001 - absent: write it
            put_locked_object(
                client,
                self.claims.bucket,
                key,
                html,
                "text/html; charset=utf-8",
                datetime.now(UTC) + timedelta(days=inp.retention_days),
            )
        self.register.audit(
            f"{inp.request_id}:letter:{inp.kind}",
            actor="rightsflow",
            action=f"subject_access.{inp.kind}_letter",
            request_id=inp.request_id,
            detail={"letter_key": key},
        )
        return key

    @activity.defn
    @heartbeats
    def purge_working_copies(self, request_id: str) -> int:
        return self.claims.purge(work_prefix(request_id))
