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

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import Engine, MetaData, Table, and_, or_, select
from temporalio import activity
from temporalio.client import Client

from activities.subject_access import ClaimStore, _primary_key, gather_records
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
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, put_locked_object
from rightsflow.storemap import StoreMap


def intake_task_queue(authority_code: str) -> str:
    """The receiving authority's intake task queue (its worker runs with RIGHTSFLOW_TASK_QUEUE set to it)."""
    return f"rightsflow-intake-{authority_code}"


def transfer_workflow_id(transfer_id: str) -> str:
    return f"transfer-{transfer_id}"


def intake_workflow_id(transfer_id: str) -> str:
    return f"intake-{transfer_id}"


def exchange_ack_key(to_authority: str, transfer_id: str) -> str:
    """Where the receiver leaves its acknowledgement in the sender's bucket (beside the deliveries),
    for a sender on another Temporal deployment, which no signal can reach."""
    return opaque_key("inbox", to_authority, transfer_id, "acknowledgement.json")


def exchange_rejection_key(to_authority: str, transfer_id: str, attempt: int) -> str:
    """Where the receiver leaves its rejection of one delivery in the sender's bucket, beside it."""
    return opaque_key("inbox", to_authority, transfer_id, f"attempt-{attempt}", "rejection.json")


# -- helpers -----------------------------------------------------------------------------------------


def _object_exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def _lock_until(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def household_members(conn: Any, cat: ServiceCatalog, smap: StoreMap, seeds: list[Any]) -> tuple[list, list]:
    """(group keys, member keys) of the families the ``seeds`` (person keys) belong to."""
    hh = cat.subject.household
    link = smap.t(hh.collection)
    if hh.via in ("column", "membership"):
        assert hh.group_column
        groups = [
            r[0]
            for r in conn.execute(
                select(link.c[hh.group_column]).where(link.c[hh.person_column].in_(seeds)).distinct()
            )
            if r[0] is not None
        ]
        members = [
            r[0]
            for r in conn.execute(
                select(link.c[hh.person_column]).where(link.c[hh.group_column].in_(groups)).distinct()
            )
        ]
        return groups, sorted(set(members) | set(seeds), key=str)
    # relationship: the connected family, a few hops out (people linked by typed relationships)
    assert hh.related_column
    members = set(seeds)
    frontier = set(seeds)
    for _ in range(4):
        if not frontier:
            break
        q = select(link.c[hh.person_column], link.c[hh.related_column]).where(
            or_(link.c[hh.person_column].in_(list(frontier)), link.c[hh.related_column].in_(list(frontier)))
        )
        if hh.professional_column:
            q = q.where(or_(link.c[hh.professional_column].is_(None), link.c[hh.professional_column] == 0))
        found = {v for row in conn.execute(q) for v in row if v is not None}
        frontier = found - members
        members |= found
    if cat.subject.professional_field:
        person = smap.t(cat.subject.collection)
        staff = {
            r[0]
            for r in conn.execute(
                select(person.c[cat.subject.key]).where(
                    person.c[cat.subject.key].in_(list(members)),
                    person.c[cat.subject.professional_field] == 1,
                )
            )
        }
        members -= staff
    return [], sorted(members, key=str)


def family_records(
    cat: ServiceCatalog, engine: Engine, member_keys: list[Any]
) -> dict[str, list[dict[str, Any]]]:
    """Every mapped record of the family's members (collection -> rows), nobody redacted: the
    family's own records travel whole."""
    dossier = gather_records(cat, engine, member_keys)
    columns = cat.columns
    records: dict[str, list[dict[str, Any]]] = {}
    for entry in dossier["records"]:
        name = entry["collection"]
        if name not in columns:  # summaries gather_records adds for a SAR
            continue
        keyf = entry.get("key_field")
        have = records.setdefault(name, [])
        seen = {r.get(keyf) for r in have} if keyf else set()
        for r in entry["rows"]:
            if keyf and r.get(keyf) in seen:
                continue
            have.append(
                {
                    k: (None if v == "[withheld: third party]" else v)
                    for k, v in r.items()
                    if k in columns[name]
                }
            )
    return records


def _typed(engine: Engine, table_name: str, column: str, values: list[str]) -> list[Any]:
    t = Table(table_name, MetaData(), autoload_with=engine)
    try:
        kind = t.c[column].type.python_type
    except NotImplementedError:
        kind = str
    out = []
    for v in values:
        try:
            out.append(kind(v) if kind in (int, str) else v)
        except (TypeError, ValueError):
            continue
    return out


def _deterministic_key(table: Table, column: str, *parts: str) -> Any:
    """A key derived from the transfer and the source key: the same row gets the same key on a re-run.

    Text keys only; integer keys are allocated (see ``_insert_role_row`` and ``import_bag``).
    """
    length = getattr(table.c[column].type, "length", None) or 24
    digest = hashlib.sha256(":".join(parts).encode()).hexdigest().upper()
    return "T" + digest[: max(6, min(length, 24) - 1)]


def _is_int_key(table: Table, column: str) -> bool:
    try:
        return table.c[column].type.python_type is int
    except NotImplementedError:
        return False


def _insert_role_row(
    conn: Any,
    table: Table,
    pk: str | None,
    values: dict[str, Any],
    note_field: str | None,
    note: str,
    seed: str,
) -> bool:
    """Insert one row into a role collection once. Other required text columns get ``note``."""
    row = dict(values)
    for col in table.c:
        if col.name in row or col.nullable or col.primary_key or col.server_default is not None:
            continue
        try:
            kind = col.type.python_type
        except NotImplementedError:
            kind = str
        if kind is str:
            row[col.name] = note[: getattr(col.type, "length", None) or len(note)]
        elif kind is date:
            row[col.name] = next((v for v in values.values() if isinstance(v, date)), date.today())
        elif kind in (int, bool):
            # A required flag or count the store sets only in its own application (Family Thrive's
            # "shared with consent" is a Python-side default, lost on reflection): 0 / no, as the
            # transfer records nothing more (its basis is in the note), rather than failing the insert.
            row[col.name] = kind(0)
    if note_field and note_field in table.c and note_field not in row:
        row[note_field] = note[: getattr(table.c[note_field].type, "length", None) or len(note)]
    if pk and not _is_int_key(table, pk):
        row[pk] = _deterministic_key(table, pk, seed)
        if conn.execute(select(table.c[pk]).where(table.c[pk] == row[pk])).first():
            return False
    else:
        conds = [table.c[k] == v for k, v in row.items() if k != pk and v is not None]
        if conn.execute(select(table).where(and_(*conds)).limit(1)).first():
            return False
    conn.execute(table.insert().values(**row))
    return True


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
                hh = subj.household
                if hh.via == "relationship":
                    seeds = _typed(engine, subj.collection, subj.key, [inp.family_ref])
                else:
                    assert hh.group_column
                    link = smap.t(hh.collection)
                    gk = _typed(engine, hh.collection, hh.group_column, [inp.family_ref])
                    seeds = [
                        r[0]
                        for r in conn.execute(
                            select(link.c[hh.person_column]).where(link.c[hh.group_column].in_(gk))
                        )
                    ]
            else:
                ids = self.register.subject_identifiers(inp.subject_ref)
                found = find_in_store(smap, engine, ids)
                exact = [m.record_key for m in found if m.strength == EXACT]
                seeds = _typed(engine, subj.collection, subj.key, exact)
            if not seeds:
                raise LookupError(f"transfer {inp.transfer_id}: no family found in {inp.service}")
            groups, members = household_members(conn, cat, smap, seeds)
            person = smap.t(subj.collection)
            restricted = conn.execute(
                select(person.c[subj.key]).where(
                    person.c[subj.key].in_(members), person.c[subj.restricted_field].is_not(None)
                )
            ).all()
            fl = cat.roles.flags
            ft = smap.t(fl.collection)
            conds = []
            if fl.group_column and groups:
                conds.append(ft.c[fl.group_column].in_(groups))
            if fl.person_column:
                conds.append(ft.c[fl.person_column].in_(members))
            holds: set[str] = set()
            if conds:
                for (code,) in conn.execute(
                    select(ft.c[fl.code_field]).where(or_(*conds), ft.c[fl.ended_field].is_(None)).distinct()
                ):
                    if str(code) in fl.codes:
                        holds.add(fl.codes[str(code)])
            active = withdrawn = 0
            if cat.roles.consents:
                cr = cat.roles.consents
                ct = smap.t(cr.collection)
                cconds = []
                if cr.person_column:
                    cconds.append(ct.c[cr.person_column].in_(members))
                if cr.group_column and groups:
                    cconds.append(ct.c[cr.group_column].in_(groups))
                for (w,) in conn.execute(select(ct.c[cr.withdrawn_field]).where(or_(*cconds))):
                    if w is None:
                        active += 1
                    else:
                        withdrawn += 1
        keys = [str(m) for m in members]
        self.register.record_matches(inp.transfer_id, inp.service, [(k, "family_member") for k in keys])
        check = FamilyCheck(
            service=inp.service,
            group_keys=[str(g) for g in groups],
            member_keys=keys,
            restricted=len(restricted),
            holds=sorted(holds),
            consents_active=active,
            consents_withdrawn=withdrawn,
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
                "consents_active": active,
                "consents_withdrawn": withdrawn,
            },
        )
        return check

    @activity.defn
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
    def build_package(self, inp: PackageInput) -> PackageResult:
        """The BagIt package under Object Lock at an opaque key. Written once: a retry finds it."""
        cat = self.catalog[inp.service]
        token = keyed_hash(load_hash_key(self.settings), inp.transfer_id, "transfer.package")[:32]
        key = opaque_key("transfers", token, "package.zip")
        client, bucket = self.claims.client, self.claims.bucket
        doc = self.claims.get(inp.claim_key)
        records: dict[str, list[dict[str, Any]]] = doc["records"]
        counts = {k: len(v) for k, v in records.items()}
        manifest = manifest_for(cat, counts)
        manifest.update(
            {
                "transfer_id": inp.transfer_id,
                "reason": inp.reason,
                "sending_authority": cat.authority,
                "receiving_authority": inp.to_authority,
                "transfer_date": inp.transfer_date,
                "acknowledge_by": inp.acknowledge_by,
                "checks": {
                    "members": len(inp.check.member_keys),
                    "restricted_members": inp.check.restricted,
                    "holds": inp.check.holds,
                    "consents_active": inp.check.consents_active,
                    "consents_withdrawn": inp.check.consents_withdrawn,
                },
            }
        )
        from rightsflow.canonical import RECORD_FILE, SCHEMA_VERSION, export_record

        record = export_record(
            cat,
            records,
            catalog_dir=self.settings.catalog_dir,
            transfer_id=inp.transfer_id,
            transfer_date=inp.transfer_date,
            reason=inp.reason,
        )
        manifest["canonical_record"] = {"file": RECORD_FILE, "schema_version": SCHEMA_VERSION}
        files = payload_files(manifest, records)
        files[RECORD_FILE] = json.dumps(record, indent=2, sort_keys=True).encode()
        info = {
            "Source-Organization": cat.authority,
            "Rightsflow-Receiving-Organization": inp.to_authority,
            "External-Identifier": inp.transfer_id,
            "External-Description": f"{BAG_PROFILE}: {cat.name} records of one family ({inp.reason})",
            "Bagging-Date": inp.transfer_date,
            "Rightsflow-Transfer-Date": inp.transfer_date,
            "Rightsflow-Acknowledge-By": inp.acknowledge_by,
            "Rightsflow-Source-Service": cat.service,
            "Rightsflow-Reason": inp.reason,
            "Rightsflow-Manifest-Version": MANIFEST_VERSION,
        }
        body, oxum, names = build_bag_zip(inp.transfer_id, files, info)
        if _object_exists(client, bucket, key):
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
    async def deliver(self, inp: DeliverInput) -> Delivered:
        """Copy the locked package to the receiver's inbox and tell its intake workflow (signal-with-start).

        The master copy's digest is checked first, so a resend never forwards a damaged package.
        """
        import asyncio

        inbox = opaque_key(
            "inbox", inp.to_authority, inp.transfer_id, f"attempt-{inp.attempt}", "package.zip"
        )
        client, bucket = self.claims.client, self.claims.bucket

        def copy() -> None:
            if _object_exists(client, bucket, inbox):
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
        notice_key = opaque_key(
            "inbox", inp.to_authority, inp.transfer_id, f"attempt-{inp.attempt}", "notice.json"
        )
        body = json.dumps(doc, sort_keys=True).encode()

        def write_notice() -> None:
            # under Object Lock like every other object of a transfer (no personal data in it); a
            # retry finds it and writes no second version
            if not _object_exists(client, bucket, notice_key):
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
    def mark_transferred(self, inp: MarkInput) -> MarkResult:
        """A contact dated the transfer day (retention's last-contact trigger reads the contacts role)
        and a sharing-log entry naming the receiving authority (Art 19), each once."""
        cat = self.catalog[inp.service]
        engine = store_engine(cat, self.settings)
        day = date.fromisoformat(inp.transfer_date)
        note = f"Records transferred to {inp.to_authority} (transfer {inp.transfer_id})"
        contacts = shares = 0
        with engine.begin() as conn:
            role = cat.roles.contacts
            t = Table(role.collection, MetaData(), autoload_with=conn)
            pk = _primary_key(cat, role.collection)
            if role.group_column and inp.group_keys:
                targets = [
                    (role.group_column, g)
                    for g in _typed(engine, role.collection, role.group_column, inp.group_keys)
                ]
            else:
                col = role.person_column or role.group_column
                assert col
                targets = [(col, m) for m in _typed(engine, role.collection, col, inp.member_keys)]
            for col, value in targets:
                contacts += _insert_role_row(
                    conn,
                    t,
                    pk,
                    {col: value, role.date_field: _as_column(t, role.date_field, day)},
                    None,
                    note,
                    f"{inp.transfer_id}:contact:{value}",
                )
            sl = cat.roles.sharing_log
            st = Table(sl.collection, MetaData(), autoload_with=conn)
            spk = _primary_key(cat, sl.collection)
            col = sl.person_column or sl.group_column
            assert col
            keys = inp.member_keys if sl.person_column else inp.group_keys
            for value in _typed(engine, sl.collection, col, keys):
                shares += _insert_role_row(
                    conn,
                    st,
                    spk,
                    {
                        col: value,
                        sl.date_field: _as_column(st, sl.date_field, day),
                        sl.recipient_field: inp.to_authority[
                            : getattr(st.c[sl.recipient_field].type, "length", None) or 200
                        ],
                    },
                    sl.what_field,
                    note,
                    f"{inp.transfer_id}:share:{value}",
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
    def purge_transfer_work(self, transfer_id: str) -> int:
        return self.claims.purge(opaque_key("work", transfer_id) + "/")

    @activity.defn
    def check_rejection(self, inp: CheckRejectionInput) -> RejectionNotice | None:
        """The receiver's rejection of delivery ``attempt`` left in our bucket, if any (read-only).
        A document for another transfer, authority or attempt is recorded once and ignored."""
        return _read_rejection(self.claims, self.register, inp)

    @activity.defn
    def check_acknowledgement(self, inp: CheckAckInput) -> AckNotice | None:
        """The receiver's acknowledgement left in our bucket (``exchange_ack_key``), if any.

        Read-only and safe to repeat. A document for another transfer, another authority or another
        package digest is not an acknowledgement of this package: recorded once, and ignored.
        """
        key = exchange_ack_key(inp.to_authority, inp.transfer_id)
        client, bucket = self.claims.client, self.claims.bucket
        try:
            doc = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        except ValueError:
            doc = {}
        problems = [
            name
            for name, ok in (
                ("transfer_id", doc.get("transfer_id") == inp.transfer_id),
                ("to_authority", doc.get("to_authority") == inp.to_authority),
                ("package_sha256", doc.get("package_sha256") == inp.sha256),
                ("accepted_on", isinstance(doc.get("accepted_on"), str)),
            )
            if not ok
        ]
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
        return AckNotice(
            attempt=int(doc.get("attempt", 0)),
            ack_key=key,
            sha256=inp.sha256,
            accepted_on=doc["accepted_on"],
            people_new=int(doc.get("people_new", 0)),
            people_matched=int(doc.get("people_matched", 0)),
            rows_inserted=int(doc.get("rows_inserted", 0)),
            not_placed=list(doc.get("not_placed") or []),
            imported=dict(doc.get("imported") or {}),
        )


def _read_rejection(
    claims: ClaimStore, register: Register, inp: CheckRejectionInput
) -> RejectionNotice | None:
    key = exchange_rejection_key(inp.to_authority, inp.transfer_id, inp.attempt)
    try:
        doc = json.loads(claims.client.get_object(Bucket=claims.bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    except ValueError:
        doc = {}
    if (
        doc.get("transfer_id") != inp.transfer_id
        or doc.get("to_authority") != inp.to_authority
        or doc.get("attempt") != inp.attempt
        or not isinstance(doc.get("reasons"), list)
    ):
        register.audit(
            f"{inp.transfer_id}:exchange_rejection_invalid:{inp.attempt}",
            actor="rightsflow",
            action="transfer.rejection_invalid",
            request_id=inp.transfer_id,
            detail={"rejection_key": key},
        )
        return None
    reasons = [str(r)[:300] for r in doc["reasons"][:50]]
    register.audit(
        f"{inp.transfer_id}:exchange_rejection_read:{inp.attempt}",
        actor="rightsflow",
        action="transfer.rejection_read",
        request_id=inp.transfer_id,
        detail={"rejection_key": key, "attempt": inp.attempt, "reasons": reasons[:20]},
    )
    return RejectionNotice(attempt=inp.attempt, reasons=reasons)


def _as_column(table: Table, column: str, day: date) -> Any:
    try:
        kind = table.c[column].type.python_type
    except NotImplementedError:
        return day
    if kind is datetime:
        return datetime.combine(day, datetime.min.time())
    return day


def _audited(register: Register, key: str) -> bool:
    from rightsflow.register import AuditEntry

    with register.session() as s:
        return s.scalar(select(AuditEntry.entry_id).where(AuditEntry.idempotency_key == key)) is not None


# the receiving side lives in its own module; imported last (it uses the contracts and helpers above)
from activities.transfer_intake import TransferIntakeActivities  # noqa: E402, F401
