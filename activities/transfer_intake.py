"""The receiving authority's side of a transfer (``TransferIntakeActivities``).

Fetch the delivered bag, validate it (``rightsflow.bagging``), keep an accepted one under Object
Lock, import its canonical family record into the receiver's own store through its own catalogue
(``rightsflow.canonical``), and write the written acknowledgement under Object Lock, with a locked
copy (or a locked rejection) beside the delivery in the sender's bucket for a sender on another
Temporal deployment. Nothing personal crosses Temporal.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import ClientError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeats
from rightsflow.catalog import Catalog
from rightsflow.claims import ClaimStore
from rightsflow.config import Settings
from rightsflow.contracts.transfer import (
    AckInput,
    AckNotice,
    ImportInput,
    ImportResult,
    TransferEvent,
    ValidateInput,
    ValidationResult,
)
from rightsflow.db import store_engine
from rightsflow.import_ledger import ensure_ledger, imported_before, record_import
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, put_locked_object
from rightsflow.transfer_exchange import (
    ack_notice,
    audited,
    exchange_ack_key,
    exchange_rejection_key,
    lock_until,
    object_exists,
)
from rightsflow.transfer_receive import acknowledgement, canonical_record, check_bag, integer_keyed, rejection


class TransferIntakeActivities:
    """The receiving authority's side: its own settings, catalogue, register, bucket and stores."""

    def __init__(
        self, settings: Settings, catalog: Catalog, register: Register, claims: ClaimStore | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.claims = claims or ClaimStore(settings)

    @activity.defn
    @heartbeats
    def validate_delivery(self, inp: ValidateInput) -> ValidationResult:
        """Fetch the delivered bag, validate it, and keep an accepted one under Object Lock.

        A rejection is also left, locked, beside the delivery in the sender's bucket."""
        result = self._check_delivery(inp)
        if not result.ok:
            self._exchange_rejection(inp, result.reasons)
        return result

    def _check_delivery(self, inp: ValidateInput) -> ValidationResult:
        from rightsflow.s3 import s3_client

        src = s3_client(self.settings)
        try:
            body = src.get_object(Bucket=inp.notice.bucket, Key=inp.notice.key)["Body"].read()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code in ("404", "NoSuchKey", "NotFound", "AccessDenied", "403"):
                return ValidationResult(
                    ok=False, reasons=[f"the package could not be fetched from the inbox ({code})"]
                )
            raise
        check = check_bag(
            body,
            announced_sha256=inp.notice.sha256,
            catalog=self.catalog,
            to_authority=inp.to_authority,
            wanted=inp.target_service,
            transfer_id=inp.transfer_id,
        )
        sha = check.sha256
        if not check.ok:
            self.register.audit(
                f"intake:{inp.transfer_id}:rejected:{inp.notice.attempt}",
                actor="rightsflow",
                action="transfer_intake.rejected",
                request_id=inp.transfer_id,
                detail={"attempt": inp.notice.attempt, "reasons": check.reasons},
            )
            return ValidationResult(ok=False, reasons=check.reasons, sha256=sha)
        tcat = check.target
        assert tcat is not None
        token = keyed_hash(load_hash_key(self.settings), inp.transfer_id, "transfer.received")[:32]
        staged = opaque_key("received", token, "package.zip")
        client, bucket = self.claims.client, self.claims.bucket
        if not object_exists(client, bucket, staged):
            put_locked_object(client, bucket, staged, body, "application/zip", lock_until(inp.lock_days))
        counts = check.collections
        self.register.audit(
            f"intake:{inp.transfer_id}:validated",
            actor="rightsflow",
            action="transfer_intake.validated",
            request_id=inp.transfer_id,
            service=tcat.service,
            detail={
                "attempt": inp.notice.attempt,
                "sha256": sha,
                "staged_key": staged,
                "collections": counts,
            },
        )
        return ValidationResult(
            ok=True,
            reasons=[],
            target_service=tcat.service,
            staged_key=staged,
            sha256=sha,
            collections=counts,
        )

    @activity.defn
    @heartbeats
    def import_bag(self, inp: ImportInput) -> ImportResult:
        """Import the bag's canonical family record into the receiver's store, in one transaction.

        Through the receiver's own catalogue (``rightsflow.canonical.import_record``): people
        matched by NHS number or UPN are not inserted again; a name and date-of-birth match is
        offered for confirmation; what has no field of its own is filed, labelled, as additional
        information or a case note, and listed. Text keys are derived from the transfer and the
        sender's row, so a re-run finds them and inserts nothing twice; a store with integer keys
        records the import in its own ledger in the same transaction (``rightsflow.import_ledger``),
        so a re-run returns the first run's outcome.
        """
        from rightsflow.canonical import import_record

        done_key = f"intake:{inp.transfer_id}:imported"
        tcat = self.catalog[inp.target_service]
        engine = store_engine(tcat, self.settings)
        body = self.claims.client.get_object(Bucket=self.claims.bucket, Key=inp.staged_key)["Body"].read()
        record = canonical_record(body)
        int_keys = integer_keyed(tcat, engine)
        if int_keys:
            ensure_ledger(engine)
        day = date.fromisoformat(str((record.get("source") or {}).get("transfer_date") or date.today())[:10])
        with engine.begin() as conn:
            # the store's own ledger, written in this transaction: a worker that died after the
            # commit and before the audit entry left the family imported, and a re-run says so
            result = imported_before(conn, inp.transfer_id) if int_keys else None
            if result is None:
                if int_keys and audited(self.register, done_key):
                    # imported by a release without the ledger: nothing tells which rows are its
                    raise ApplicationError(
                        f"transfer {inp.transfer_id} was imported already (a store with integer keys "
                        "is not re-run)",
                        type="AlreadyImported",
                        non_retryable=True,
                    )
                out = import_record(
                    tcat,
                    conn,
                    record,
                    transfer_id=inp.transfer_id,
                    transfer_date=day,
                    catalog_dir=self.settings.catalog_dir,
                )
                labelled: dict[str, int] = {}
                for name, n in out.inserted.items():
                    label = tcat.collection_label(name)
                    labelled[label] = labelled.get(label, 0) + n
                result = ImportResult(
                    people_new=out.people_new,
                    people_matched=out.people_matched,
                    inserted=out.inserted,
                    already_present=out.already_present,
                    not_placed=out.not_placed,
                    candidates=out.candidates,
                    labelled=labelled,
                )
                if int_keys:
                    record_import(conn, inp.transfer_id, result)
        self.register.audit(
            done_key,
            actor="rightsflow",
            action="transfer_intake.imported",
            request_id=inp.transfer_id,
            service=inp.target_service,
            detail={
                "people_new": result.people_new,
                "people_matched": result.people_matched,
                "candidates": len(result.candidates),
                "inserted": result.inserted,
                "already_present": result.already_present,
                "not_placed": result.not_placed,
            },
        )
        return result

    @activity.defn
    @heartbeats
    def write_ack(self, inp: AckInput) -> AckNotice:
        """The written acceptance, under Object Lock in the receiver's archive. No personal data."""
        token = keyed_hash(load_hash_key(self.settings), inp.transfer_id, "transfer.ack")[:32]
        key = opaque_key("acks", token, "acknowledgement.json")
        client, bucket = self.claims.client, self.claims.bucket
        if object_exists(client, bucket, key):
            doc = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        else:
            doc = acknowledgement(inp, datetime.now(UTC).date())
            put_locked_object(
                client,
                bucket,
                key,
                json.dumps(doc, indent=2, sort_keys=True).encode(),
                "application/json",
                lock_until(inp.lock_days),
            )
        exchange = self._exchange_copy(inp, doc) if inp.exchange_bucket else None
        self.register.audit(
            f"intake:{inp.transfer_id}:acknowledged",
            actor="rightsflow",
            action="transfer_intake.acknowledged",
            request_id=inp.transfer_id,
            detail={"ack_key": key, "attempt": inp.attempt, "exchange_ack_key": exchange},
        )
        # the attempt this run acknowledges (a document kept from an earlier attempt names its own)
        return dataclasses.replace(ack_notice(doc, key, inp.sha256), attempt=inp.attempt)

    def _exchange_rejection(self, inp: ValidateInput, reasons: list[str]) -> str | None:
        """A locked rejection beside the delivery in the sender's bucket, for a sender on another
        deployment (which no signal reaches): it polls for it and resends. Reasons name files and
        fields only. None (recorded) where the sender gave no write access to the inbox prefix."""
        from rightsflow.s3 import s3_client

        key = exchange_rejection_key(inp.to_authority, inp.transfer_id, inp.notice.attempt)
        doc = rejection(
            inp.transfer_id,
            inp.to_authority,
            inp.notice.attempt,
            inp.notice.sha256,
            datetime.now(UTC).date(),
            reasons,
        )
        client = s3_client(self.settings)
        try:
            if not object_exists(client, inp.notice.bucket, key):
                body = json.dumps(doc, indent=2, sort_keys=True).encode()
                put_locked_object(
                    client, inp.notice.bucket, key, body, "application/json", lock_until(inp.lock_days)
                )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code not in ("AccessDenied", "403", "NoSuchBucket", "404"):
                raise
            self.register.audit(
                f"intake:{inp.transfer_id}:exchange_rejection_not_written:{inp.notice.attempt}",
                actor="rightsflow",
                action="transfer_intake.exchange_rejection_not_written",
                request_id=inp.transfer_id,
                detail={"error": code, "attempt": inp.notice.attempt},
            )
            return None
        return key

    def _exchange_copy(self, inp: AckInput, doc: dict[str, Any]) -> str | None:
        """A locked copy of the acknowledgement beside the deliveries in the sender's bucket, once.

        None (recorded) where the sender has not granted write access to the inbox prefix: the
        signal, or the DPO's letter, is then the only acknowledgement.
        """
        from rightsflow.s3 import s3_client

        assert inp.exchange_bucket
        key = exchange_ack_key(inp.to_authority, inp.transfer_id)
        client = s3_client(self.settings)
        body = json.dumps(doc, indent=2, sort_keys=True).encode()
        try:
            # written once; anything else found there (stale or forged) gets our version on top
            if not object_exists(client, inp.exchange_bucket, key) or (
                client.get_object(Bucket=inp.exchange_bucket, Key=key)["Body"].read() != body
            ):
                put_locked_object(
                    client, inp.exchange_bucket, key, body, "application/json", lock_until(inp.lock_days)
                )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code not in ("AccessDenied", "403", "NoSuchBucket", "404"):
                raise
            self.register.audit(
                f"intake:{inp.transfer_id}:exchange_ack_not_written",
                actor="rightsflow",
                action="transfer_intake.exchange_ack_not_written",
                request_id=inp.transfer_id,
                detail={"error": code},
            )
            return None
        return key

    @activity.defn
    def record_intake_event(self, inp: TransferEvent) -> None:
        self.register.audit(
            f"intake:{inp.transfer_id}:{inp.key}",
            actor=inp.actor,
            action=inp.action,
            request_id=inp.transfer_id,
            legal_basis=inp.legal_basis,
            detail=inp.detail,
        )
