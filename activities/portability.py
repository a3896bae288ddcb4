"""Article 20 portability to the person: their own records, machine-readable, as a download link.

``PortabilityActivities`` (sending side only):

- ``check_portability``: Art 20 applies only where processing rests on consent (Art 6(1)(a)) or a
  contract (Art 6(1)(b)); a public-task or legal-obligation service is refused before its store is
  read. Otherwise the subject is found in the service's store by an exact identifier (NHS number
  or UPN) from the register.
- ``gather_own_records``: the subject's own records, gathered and redacted exactly as for a subject
  access request (``gather_records`` + ``redact_dossiers``): the subject's person rows, household
  rows that are not about another member, rows referencing the subject; other members' rows are
  never gathered, references to them are masked, and their names and identifiers are withheld
  from free text (DPA 2018 Sch 2 para 16). Kept as an encrypted claim-check object.
- ``send_portability_package``: the same BagIt package as an inter-authority transfer (a JSON and
  a CSV file per record type, ``manifest.json`` with fields and data categories), under Object Lock
  at a keyed-hash key, and a presigned download link that expires. The register records what was
  sent (files, record counts, digest, how much was withheld) and when, and when the link expires.

Nothing personal crosses Temporal: opaque ids, store keys, counts, object keys and the link.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from temporalio import activity

from activities.heartbeat import heartbeats
from activities.transfer import (
    MANIFEST_VERSION,
    _object_exists,
    _typed,
    build_bag_zip,
    manifest_for,
    payload_files,
)
from rightsflow.catalog import Catalog, ServiceCatalog
from rightsflow.claims import ClaimStore
from rightsflow.config import Settings
from rightsflow.contracts.portability import (  # noqa: F401 - re-exported: the activities' inputs and results
    ART20_BASIS,
    CheckInput,
    GatheredOwn,
    GatherOwnInput,
    PortabilityCheck,
    SendInput,
    SentPackage,
)
from rightsflow.db import store_engine
from rightsflow.gathering import gather_records, redact_dossiers
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.portability import art20_applies, art20_refusal, portability_workflow_id  # noqa: F401
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, presigned_get, put_locked_object
from rightsflow.storemap import StoreMap
from rightsflow.transfer_package import mapped_rows


class PortabilityActivities:
    def __init__(
        self, settings: Settings, catalog: Catalog, register: Register, claims: ClaimStore | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.claims = claims or ClaimStore(settings)

    @activity.defn
    @heartbeats
    def check_portability(self, inp: CheckInput) -> PortabilityCheck:
        from activities.discovery import EXACT, find_in_store

        cat = self.catalog[inp.service]
        if not art20_applies(cat):
            check = PortabilityCheck(eligible=False, reason=art20_refusal(cat))
        else:
            smap = StoreMap(cat)
            engine = store_engine(cat, self.settings)
            ids = self.register.subject_identifiers(inp.subject_ref)
            exact = [m.record_key for m in find_in_store(smap, engine, ids) if m.strength == EXACT]
            if not exact:
                check = PortabilityCheck(
                    eligible=False,
                    reason=f"no record in {inp.service} matches the requester by NHS number or UPN",
                )
            else:
                subj = cat.subject
                person = smap.t(subj.collection)
                keys = _typed(engine, subj.collection, subj.key, exact)
                with engine.connect() as conn:
                    restricted = conn.execute(
                        select(func.count()).where(
                            person.c[subj.key].in_(keys), person.c[subj.restricted_field].is_not(None)
                        )
                    ).scalar_one()
                self.register.record_matches(inp.request_id, inp.service, [(k, EXACT) for k in exact])
                check = PortabilityCheck(
                    eligible=True, reason=None, record_keys=sorted(exact), restricted=int(restricted)
                )
        self.register.audit(
            f"{inp.request_id}:checked",
            actor="rightsflow",
            action="portability.checked",
            request_id=inp.request_id,
            subject_ref=inp.subject_ref,
            service=inp.service,
            legal_basis=ART20_BASIS,
            detail={
                "eligible": check.eligible,
                "consent_based": cat.lawful_basis.consent_based,
                "records_matched": len(check.record_keys),
                "restricted": check.restricted,
            },
        )
        return check

    @activity.defn
    @heartbeats
    def gather_own_records(self, inp: GatherOwnInput) -> GatheredOwn:
        """The subject's own records, redacted as for a SAR, kept as an encrypted claim check."""
        cat = self.catalog[inp.service]
        dossier = gather_records(cat, store_engine(cat, self.settings), inp.record_keys)
        masked = sum(int(e.get("masked_ids", 0)) for e in dossier["records"])
        redacted, redactions = redact_dossiers([dossier], set(), [])
        # the person's own copy: what redaction withheld as someone else's stays withheld
        records = mapped_rows(cat, redacted[0]["collections"], blank_withheld=False)
        key = opaque_key("work", inp.request_id, "portability.bin")
        self.claims.put(key, {"service": inp.service, "records": records})
        counts = {k: len(v) for k, v in records.items()}
        by_kind: dict[str, int] = {}
        for r in redactions:
            by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
        self.register.audit(
            f"{inp.request_id}:gathered",
            actor="rightsflow",
            action="portability.gathered",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis="DPA 2018 Sch 2 para 16 (third parties withheld); UK GDPR Art 20(4)",
            detail={"collections": counts, "withheld": by_kind, "masked_references": masked},
        )
        return GatheredOwn(
            claim_key=key,
            records=sum(counts.values()),
            collections=counts,
            withheld=len(redactions),
            masked_references=masked,
        )

    @activity.defn
    @heartbeats
    def send_portability_package(self, inp: SendInput) -> SentPackage:
        """The BagIt package under Object Lock, written once, and a fresh expiring link to it."""
        cat = self.catalog[inp.service]
        token = keyed_hash(load_hash_key(self.settings), inp.request_id, "portability.package")[:32]
        key = opaque_key("portability", token, "data-portability.zip")
        client, bucket = self.claims.client, self.claims.bucket
        if _object_exists(client, bucket, key):
            stored = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            sha, size = hashlib.sha256(stored).hexdigest(), len(stored)
            files = len(_zip_names(stored))
        else:
            doc = self.claims.get(inp.claim_key)
            body, names = self._bag(cat, inp, doc["records"])
            until = datetime.now(UTC) + timedelta(days=inp.lock_days)
            sha = put_locked_object(client, bucket, key, body, "application/zip", until)["sha256"]
            size, files = len(body), len(names)
        link = presigned_get(client, bucket, key, inp.link_expiry_seconds)
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=inp.link_expiry_seconds)
        self.register.audit(
            f"{inp.request_id}:sent",
            actor="rightsflow",
            action="portability.sent",
            request_id=inp.request_id,
            service=inp.service,
            legal_basis=ART20_BASIS,
            detail={
                "package_key": key,
                "sha256": sha,
                "bytes": size,
                "files": files,
                "sent_at": now.isoformat(),
                "link_expires_at": expires.isoformat(),
                "delivered_as": "presigned download link",
            },
        )
        return SentPackage(
            package_key=key,
            sha256=sha,
            bytes=size,
            files=files,
            link=link,
            link_expires_at=expires.isoformat(),
            sent_at=now.isoformat(),
        )

    def _bag(
        self, cat: ServiceCatalog, inp: SendInput, records: dict[str, list[dict[str, Any]]]
    ) -> tuple[bytes, list[str]]:
        counts = {k: len(v) for k, v in records.items()}
        manifest = manifest_for(cat, counts)
        manifest.update(
            {
                "request_id": inp.request_id,
                "reason": "portability",
                "recipient": "the data subject",
                "sending_authority": cat.authority,
                "sent_on": inp.sent_on,
                "legal_basis": ART20_BASIS,
                "third_parties": "withheld: information identifying other people (DPA 2018 Sch 2 para 16)",
            }
        )
        files = payload_files(manifest, records)
        info = {
            "Source-Organization": cat.authority,
            "External-Identifier": inp.request_id,
            "External-Description": f"{cat.name}: your records (UK GDPR Article 20 data portability)",
            "Bagging-Date": inp.sent_on,
            "Rightsflow-Source-Service": cat.service,
            "Rightsflow-Reason": "portability",
            "Rightsflow-Manifest-Version": MANIFEST_VERSION,
        }
        body, _oxum, names = build_bag_zip(inp.request_id, files, info)
        return body, names


def _zip_names(body: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return zf.namelist()
