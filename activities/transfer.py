"""Inter-authority transfer: a family's records as a BagIt package, handed over, validated, imported.

Sending side (``TransferActivities``): resolve the family in one service's store through the
catalogue's household link, check restrictions, holds and consents, gather every mapped record of
every member (``gather_records`` from subject access, with all members as the subject, so nobody
is redacted from their own family's records), build a BagIt bag (RFC 8493) with the ``bagit``
library, lock it in the archive bucket, copy it to the receiving authority's inbox prefix and tell
the receiver's ``TransferIntake`` workflow (signal-with-start on its task queue). After the
acknowledgement: a contact row and a sharing-log row in the sender's store, so retention runs from
the transfer date and Article 19 knows the recipient; later the package is removed. A receiver on
another Temporal deployment cannot signal: ``check_acknowledgement`` reads the acknowledgement it
leaves beside the deliveries (``exchange_ack_key``), accepted only for this transfer's package digest.

Receiving side: ``activities/transfer_intake.py`` (``TransferIntakeActivities``); the bag itself
is built and validated by ``rightsflow/bagging.py``. ``activities/transfer_inbox.py``
starts intakes from the inbox where no signal-with-start arrives.

Nothing personal crosses Temporal: inputs and results carry opaque ids, store keys, counts,
collection names and reasons that name files and fields only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict
from datetime import date
from typing import Any

from botocore.exceptions import ClientError  # noqa: F401 - kept for callers that catch it from here
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

from activities.heartbeat import heartbeats
from rightsflow.bagging import (  # noqa: F401 - re-exported: the bag is built and checked there
    BAG_PROFILE,
    MANIFEST_VERSION,
    build_bag_zip,
    manifest_for,
    payload_files,
    validate_bag_dir,
)
from rightsflow.bagging import safe_extract as _safe_extract  # noqa: F401
from rightsflow.catalog import Catalog, ServiceCatalog
from rightsflow.claims import ClaimStore
from rightsflow.config import Settings
from rightsflow.contracts.transfer import (  # noqa: F401 - re-exported: the activities' inputs and results
    AckInput,
    AckNotice,
    CheckAckInput,
    CheckRejectionInput,
    Delivered,
    DeliverInput,
    DeliveryNotice,
    FamilyCheck,
    GatheredFamily,
    GatherFamilyInput,
    ImportInput,
    ImportResult,
    IntakeInput,
    MarkInput,
    MarkResult,
    PackageInput,
    PackageResult,
    RejectionNotice,
    RemoveInput,
    ResolveInput,
    TransferEvent,
    ValidateInput,
    ValidationResult,
)
from rightsflow.db import store_engine
from rightsflow.gathering import gather_records
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, put_locked_object
from rightsflow.storemap import StoreMap, typed_keys
from rightsflow.storemap import as_column_day as _as_column  # noqa: F401 - the names other modules import
from rightsflow.storemap import deterministic_key as _deterministic_key  # noqa: F401
from rightsflow.storemap import is_int_key as _is_int_key  # noqa: F401
from rightsflow.storemap import typed_keys as _typed  # noqa: F401
from rightsflow.transfer_exchange import (  # noqa: F401 - re-exported: the CLI, console and receiver use them
    ack_notice,
    ack_problems,
    exchange_ack_key,
    exchange_rejection_key,
    inbox_key,
    intake_task_queue,
    intake_workflow_id,
    object_exists,
    read_json,
    rejection_reasons,
    transfer_workflow_id,
)
from rightsflow.transfer_exchange import audited as _audited  # noqa: F401
from rightsflow.transfer_exchange import lock_until as _lock_until
from rightsflow.transfer_exchange import object_exists as _object_exists  # noqa: F401
from rightsflow.transfer_family import (  # noqa: F401 - re-exported
    family_flags,
    family_rows,
    family_seeds,
    household_members,
    mark_handed_off,
)
from rightsflow.transfer_family import insert_role_row as _insert_role_row  # noqa: F401
from rightsflow.transfer_package import transfer_bag


def family_records(
    cat: ServiceCatalog, engine: Engine, member_keys: list[Any]
) -> dict[str, list[dict[str, Any]]]:
    """Every mapped record of the family's members (collection -> rows), nobody redacted: subject
    access gathering with all members as the subject, shaped by ``family_rows``."""
    return family_rows(cat, gather_records(cat, engine, member_keys))


# -- sending -----------------------------------------------------------------------------------------


class TransferActivities:
    """The sending authority's side. ``client`` (for signal-with-start) defaults to the activity's."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        register: Register,
        claims: ClaimStore | None = None,
        client: Client | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.claims = claims or ClaimStore(settings)
        self._client = client

    def _temporal(self) -> Client:
        return self._client or activity.client()

    @activity.defn
    def record_transfer_event(self, inp: TransferEvent) -> None:
        # the receiving side has no request of its own: the audit entry is the record
        self.register.record_event(
            inp.transfer_id,
            inp.key,
            action=inp.action,
            actor=inp.actor,
            detail=inp.detail,
            legal_basis=inp.legal_basis,
            stage=inp.stage,
            status=inp.status,
            deadline=inp.deadline,
            decision=inp.decision,
            request_optional=True,
        )

    @activity.defn
    @heartbeats
    def resolve_family(self, inp: ResolveInput) -> FamilyCheck:
        """The family's store keys, and what restricts or holds them. Records the keys as matches,
        so a retention sweep leaves the family alone while the transfer is open."""
        from activities.discovery import EXACT, find_in_store

        cat = self.catalog[inp.service]
        smap = StoreMap(cat)
        engine = store_engine(cat, self.settings)
        subj = cat.subject
        with engine.connect() as conn:
            if inp.family_ref:
                seeds = family_seeds(conn, engine, cat, smap, inp.family_ref)
            else:
                ids = self.register.subject_identifiers(inp.subject_ref)
                exact = [m.record_key for m in find_in_store(smap, engine, ids) if m.strength == EXACT]
                seeds = typed_keys(engine, subj.collection, subj.key, exact)
            if not seeds:
                raise LookupError(f"transfer {inp.transfer_id}: no family found in {inp.service}")
            groups, members = household_members(conn, cat, smap, seeds)
            flags = family_flags(conn, cat, smap, groups, members)
        keys = [str(m) for m in members]
        self.register.record_matches(inp.transfer_id, inp.service, [(k, "family_member") for k in keys])
        check = FamilyCheck(
            service=inp.service,
            group_keys=[str(g) for g in groups],
            member_keys=keys,
            restricted=flags.restricted,
            holds=flags.holds,
            consents_active=flags.consents_active,
            consents_withdrawn=flags.consents_withdrawn,
            consent_based=cat.lawful_basis.consent_based,
        )
        self.register.audit(
            f"{inp.transfer_id}:resolved",
            actor="rightsflow",
            action="transfer.family_resolved",
            request_id=inp.transfer_id,
            subject_ref=inp.subject_ref,
            service=inp.service,
            detail={
                "members": len(keys),
                "households": len(groups),
                "restricted": check.restricted,
                "holds": check.holds,
                "consents_active": flags.consents_active,
                "consents_withdrawn": flags.consents_withdrawn,
            },
        )
        return check

    @activity.defn
    @heartbeats
    def gather_family(self, inp: GatherFamilyInput) -> GatheredFamily:
        """Every mapped record of every member, as a claim-check object (encrypted) in S3."""
        cat = self.catalog[inp.service]
        records = family_records(cat, store_engine(cat, self.settings), inp.member_keys)
        key = opaque_key("work", inp.transfer_id, "family.bin")
        self.claims.put(key, {"service": inp.service, "records": records})
        counts = {k: len(v) for k, v in records.items()}
        self.register.audit(
            f"{inp.transfer_id}:gathered",
            actor="rightsflow",
            action="transfer.gathered",
            request_id=inp.transfer_id,
            service=inp.service,
            detail={"collections": counts},
        )
        return GatheredFamily(claim_key=key, records=sum(counts.values()), collections=counts)

    @activity.defn
    @heartbeats
    def build_package(self, inp: PackageInput) -> PackageResult:
        """The BagIt package under Object Lock at an opaque key. Written once: a retry finds it."""
        cat = self.catalog[inp.service]
        token = keyed_hash(load_hash_key(self.settings), inp.transfer_id, "transfer.package")[:32]
        key = opaque_key("transfers", token, "package.zip")
        client, bucket = self.claims.client, self.claims.bucket
        doc = self.claims.get(inp.claim_key)
        records: dict[str, list[dict[str, Any]]] = doc["records"]
        body, oxum, names = transfer_bag(
            cat,
            records,
            check=inp.check,
            transfer_id=inp.transfer_id,
            reason=inp.reason,
            to_authority=inp.to_authority,
            transfer_date=inp.transfer_date,
            acknowledge_by=inp.acknowledge_by,
            catalog_dir=self.settings.catalog_dir,
        )
        if object_exists(client, bucket, key):
            stored = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            sha = hashlib.sha256(stored).hexdigest()
            head = client.head_object(Bucket=bucket, Key=key)
            until = head.get("ObjectLockRetainUntilDate")
            retain = until.isoformat() if until else ""
            size = len(stored)
        else:
            until_dt = _lock_until(inp.lock_days)
            sha = put_locked_object(client, bucket, key, body, "application/zip", until_dt)["sha256"]
            retain, size = until_dt.isoformat(), len(body)
        self.register.audit(
            f"{inp.transfer_id}:packaged",
            actor="rightsflow",
            action="transfer.packaged",
            request_id=inp.transfer_id,
            service=inp.service,
            detail={
                "package_key": key,
                "sha256": sha,
                "bytes": size,
                "payload_oxum": oxum,
                "files": len(names),
                "retain_until": retain,
            },
        )
        return PackageResult(
            package_key=key, sha256=sha, bytes=size, payload_oxum=oxum, files=names, retain_until=retain
        )

    @activity.defn
    @heartbeats
    async def deliver(self, inp: DeliverInput) -> Delivered:
        """Copy the locked package to the receiver's inbox and tell its intake workflow (signal-with-start).

        The master copy's digest is checked first, so a resend never forwards a damaged package.
        """
        inbox = inbox_key(inp.to_authority, inp.transfer_id, inp.attempt, "package.zip")
        client, bucket = self.claims.client, self.claims.bucket

        def copy() -> None:
            if object_exists(client, bucket, inbox):
                return
            body = client.get_object(Bucket=bucket, Key=inp.package_key)["Body"].read()
            if hashlib.sha256(body).hexdigest() != inp.sha256:
                raise RuntimeError(
                    f"transfer {inp.transfer_id}: the locked package does not match its digest"
                )
            put_locked_object(client, bucket, inbox, body, "application/zip", _lock_until(inp.lock_days))

        await asyncio.to_thread(copy)
        notice = DeliveryNotice(attempt=inp.attempt, bucket=bucket, key=inbox, sha256=inp.sha256)
        doc = {
            **asdict(notice),
            "transfer_id": inp.transfer_id,
            "from_authority": inp.from_authority,
            "to_authority": inp.to_authority,
            "sender_workflow_id": transfer_workflow_id(inp.transfer_id),
        }
        notice_key = inbox_key(inp.to_authority, inp.transfer_id, inp.attempt, "notice.json")
        body = json.dumps(doc, sort_keys=True).encode()

        def write_notice() -> None:
            # under Object Lock like every other object of a transfer (no personal data in it); a
            # retry finds it and writes no second version
            if not object_exists(client, bucket, notice_key):
                put_locked_object(
                    client, bucket, notice_key, body, "application/json", _lock_until(inp.lock_days)
                )

        await asyncio.to_thread(write_notice)
        if inp.to_task_queue:
            await self._signal_intake(inp, notice)
        await asyncio.to_thread(
            self.register.audit,
            f"{inp.transfer_id}:delivered:{inp.attempt}",
            actor="rightsflow",
            action="transfer.delivered",
            request_id=inp.transfer_id,
            detail={
                "attempt": inp.attempt,
                "inbox_key": inbox,
                "notice_key": notice_key,
                "to_authority": inp.to_authority,
                "intake_task_queue": inp.to_task_queue or None,
            },
        )
        return Delivered(attempt=inp.attempt, inbox_key=inbox)

    async def _signal_intake(self, inp: DeliverInput, notice: DeliveryNotice) -> None:
        """Signal-with-start the receiver's TransferIntake (same Temporal namespace)."""
        from temporalio.common import WorkflowIDConflictPolicy

        # started by its type name: activities never import workflow classes
        await self._temporal().start_workflow(
            "TransferIntake",
            IntakeInput(
                transfer_id=inp.transfer_id,
                from_authority=inp.from_authority,
                to_authority=inp.to_authority,
                sender_workflow_id=transfer_workflow_id(inp.transfer_id),
            ),
            id=intake_workflow_id(inp.transfer_id),
            task_queue=inp.to_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal="deliver",
            start_signal_args=[notice],
        )

    @activity.defn
    @heartbeats
    def mark_transferred(self, inp: MarkInput) -> MarkResult:
        """A contact dated the transfer day (retention's last-contact trigger reads the contacts role)
        and a sharing-log entry naming the receiving authority (Art 19), each once."""
        cat = self.catalog[inp.service]
        engine = store_engine(cat, self.settings)
        with engine.begin() as conn:
            contacts, shares = mark_handed_off(
                conn,
                engine,
                cat,
                group_keys=inp.group_keys,
                member_keys=inp.member_keys,
                to_authority=inp.to_authority,
                transfer_id=inp.transfer_id,
                day=date.fromisoformat(inp.transfer_date),
            )
        self.register.audit(
            f"{inp.transfer_id}:marked",
            actor="rightsflow",
            action="transfer.last_contact_set",
            request_id=inp.transfer_id,
            service=inp.service,
            detail={"contacts_added": contacts, "shares_logged": shares, "transfer_date": inp.transfer_date},
        )
        return MarkResult(contacts_added=contacts, shares_logged=shares)

    @activity.defn
    @heartbeats
    def remove_package(self, inp: RemoveInput) -> int:
        """Delete every version of the package and its inbox copies; a still-locked version fails
        the attempt (retried later). Idempotent: nothing left is nothing to do."""
        client, bucket = self.claims.client, self.claims.bucket
        n = 0
        for key in inp.keys:
            for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
                for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    if v["Key"] != key:
                        continue
                    client.delete_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])
                    n += 1
        self.register.audit(
            f"{inp.transfer_id}:package_removed:{n > 0}",
            actor="rightsflow",
            action="transfer.package_removed",
            request_id=inp.transfer_id,
            detail={"objects": len(inp.keys), "versions_deleted": n},
        )
        return n

    @activity.defn
    @heartbeats
    def purge_transfer_work(self, transfer_id: str) -> int:
        return self.claims.purge(opaque_key("work", transfer_id) + "/")

    @activity.defn
    @heartbeats
    def check_rejection(self, inp: CheckRejectionInput) -> RejectionNotice | None:
        """The receiver's rejection of delivery ``attempt`` left in our bucket, if any (read-only).
        A document for another transfer, authority or attempt is recorded once and ignored."""
        key = exchange_rejection_key(inp.to_authority, inp.transfer_id, inp.attempt)
        doc = read_json(self.claims.client, self.claims.bucket, key)
        if doc is None:
            return None
        reasons = rejection_reasons(doc, inp.transfer_id, inp.to_authority, inp.attempt)
        if reasons is None:
            self.register.audit(
                f"{inp.transfer_id}:exchange_rejection_invalid:{inp.attempt}",
                actor="rightsflow",
                action="transfer.rejection_invalid",
                request_id=inp.transfer_id,
                detail={"rejection_key": key},
            )
            return None
        self.register.audit(
            f"{inp.transfer_id}:exchange_rejection_read:{inp.attempt}",
            actor="rightsflow",
            action="transfer.rejection_read",
            request_id=inp.transfer_id,
            detail={"rejection_key": key, "attempt": inp.attempt, "reasons": reasons[:20]},
        )
        return RejectionNotice(attempt=inp.attempt, reasons=reasons)

    @activity.defn
    @heartbeats
    def check_acknowledgement(self, inp: CheckAckInput) -> AckNotice | None:
        """The receiver's acknowledgement left in our bucket (``exchange_ack_key``), if any.

        Read-only and safe to repeat. A document for another transfer, another authority or another
        package digest is not an acknowledgement of this package: recorded once, and ignored.
        """
        key = exchange_ack_key(inp.to_authority, inp.transfer_id)
        doc = read_json(self.claims.client, self.claims.bucket, key)
        if doc is None:
            return None
        problems = ack_problems(doc, inp.transfer_id, inp.to_authority, inp.sha256)
        if problems:
            self.register.audit(
                f"{inp.transfer_id}:exchange_ack_invalid",
                actor="rightsflow",
                action="transfer.acknowledgement_invalid",
                request_id=inp.transfer_id,
                detail={"ack_key": key, "mismatched": problems},
            )
            return None
        self.register.audit(
            f"{inp.transfer_id}:exchange_ack_read",
            actor="rightsflow",
            action="transfer.acknowledgement_read",
            request_id=inp.transfer_id,
            detail={"ack_key": key, "accepted_on": doc["accepted_on"]},
        )
        return ack_notice(doc, key, inp.sha256)


# the receiving side lives in its own module; imported last (it uses the contracts and helpers above)
from activities.transfer_intake import TransferIntakeActivities  # noqa: E402, F401
