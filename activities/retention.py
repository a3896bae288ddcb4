"""Retention sweep activities: evaluate and dispose in batches, archive, certify.

``sweep_batches`` works through a service's households in batches, one store transaction per
batch, and heartbeats its cursor and tallies after every batch: a retried attempt (a killed
worker) starts from the last heartbeat, and households disposed before the crash are gone from
the store, so nothing is disposed twice. The register's ``retention_disposal`` rows (keyed-hash
references) are the record of what was disposed; ``finish_service`` reconciles them, removes
archives whose date has passed, writes the disposal certificate to S3 under Object Lock and
appends the sweep to the audit log. Payloads carry counts and opaque store keys only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from botocore.exceptions import ClientError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import delete, func, select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeats
from rightsflow.bagging import build_bag_zip
from rightsflow.catalog import Catalog
from rightsflow.config import Settings
from rightsflow.contracts.retention import (  # noqa: F401 - re-exported: the activities' inputs and results
    TIME_BUDGET_SECONDS,
    FinishServiceInput,
    FinishServiceResult,
    ReviewRemindersInput,
    ReviewRemindersResult,
    SweepBatchesInput,
    SweepBatchesResult,
    SweepCounts,
)
from rightsflow.db import store_engine
from rightsflow.keys import load_hash_key
from rightsflow.letters import Letters
from rightsflow.mail import MailConfigError, Mailer
from rightsflow.pdf import render_pdf, weasyprint_available
from rightsflow.register import Register
from rightsflow.retention import (
    AnonymisePlan,
    Decision,
    RetentionDisposal,
    StorePlan,
    anonymise_plan,
    build_plan,
    coerce_keys,
    count_people,
    ensure_schema,
    forget_progress,
    households_rows,
    rows_json,
)
from rightsflow.retention.batches import (  # noqa: F401 - re-exported: tests and the sweep call them from here
    resume_progress,
    run_batches,
)
from rightsflow.review import send_reminders
from rightsflow.review_mail import email_reminders
from rightsflow.s3 import (
    ensure_archive_bucket,
    object_lock_of,
    opaque_key,
    put_locked_object,
    s3_client,
)

CERTIFICATE_LOCK_YEARS = 25  # disposal certificates outlive any claim about the disposal
CERTIFICATE_MAX_INLINE_REFS = 500
MANIFEST_FETCH = 2000  # register rows fetched at a time into the manifest
MANIFEST_SPOOL_BYTES = 4 * 1024 * 1024  # a larger manifest is spooled to disk, not memory
ARCHIVE_UPLOADS = 8  # archive packages checked for and uploaded at once
PROGRESS_KEPT_DAYS = 7  # retention_progress rows older than this are deleted


def _archive_lock_until(d: date) -> datetime:
    """Locked to the end of the archive's last day (UTC).

    A sweep run for a past date can archive a household whose archive date has already passed in
    real time; S3 refuses a lock date in the past, so such an archive is locked for one more day
    and a later sweep removes it (kept a day longer, never a day shorter)."""
    until = datetime.combine(d + timedelta(days=1), dtime(0, 0), tzinfo=UTC)
    return max(until, datetime.now(UTC) + timedelta(days=1))


class RetentionActivities:
    """Retention sweeps over the catalogued stores (one instance per worker)."""

    def __init__(
        self, settings: Settings, catalog: Catalog, register: Register, s3: Any | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        register.create_schema()  # idempotent: a fresh register works from the first sweep
        ensure_schema(register.engine)
        self.plans: dict[str, StorePlan] = {svc.service: build_plan(svc) for svc in catalog}
        self.hash_key = load_hash_key(settings)
        self._s3 = s3
        self._anon: dict[str, dict[str, AnonymisePlan]] = {}

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = s3_client(self.settings)
            ensure_archive_bucket(self._s3, self.settings.s3_bucket)
        return self._s3

    def anonymise_plan_for(self, service: str, rule_id: str) -> AnonymisePlan:
        plans = self._anon.setdefault(service, {})
        if rule_id not in plans:
            rule = next(r for r in self.catalog[service].retention if r.rule_id == rule_id)
            plans[rule_id] = anonymise_plan(
                self.plans[service], rule, store_engine(self.catalog[service], self.settings)
            )
        return plans[rule_id]

    def _object_exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.settings.s3_bucket, Key=key)
            return True
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def archive_households(
        self, conn: Any, plan: StorePlan, decisions: list[Decision], sweep_id: str, as_of: date
    ) -> dict[str, str]:
        """A BagIt package of each household's rows, locked until its archive date: ref -> key.

        Idempotent: a package already in S3 (a retried batch) is kept, not written again. The
        rows of every household still to archive are read with one query per collection, and
        the packages are checked for and uploaded a few at a time (S3 round trips overlap).
        """
        keys = {d.ref: opaque_key("retention/archives", plan.service, f"{d.ref}.zip") for d in decisions}
        if not decisions:
            return keys
        s3 = self.s3  # created once, before the threads share it (boto3 clients are thread-safe)
        with ThreadPoolExecutor(ARCHIVE_UPLOADS) as pool:
            there = dict(zip(keys, pool.map(self._object_exists, keys.values()), strict=True))
            todo = [d for d in decisions if not there[d.ref]]
            rows = households_rows(conn, plan, [d.household for d in todo])
            list(
                pool.map(
                    lambda d, r: put_locked_object(
                        s3,
                        self.settings.s3_bucket,
                        keys[d.ref],
                        self._archive_package(plan, d, r, sweep_id, as_of),
                        "application/zip",
                        _archive_lock_until(d.archive_until or as_of),
                    ),
                    todo,
                    rows,
                )
            )
        return keys

    def _archive_package(
        self, plan: StorePlan, d: Decision, rows: dict[str, list[dict[str, Any]]], sweep_id: str, as_of: date
    ) -> bytes:
        """The zipped BagIt bag of one household's rows (fixed timestamps: the same bytes twice)."""
        info = {
            "Source-Organization": self.catalog[plan.service].authority,
            "External-Identifier": d.ref,
            "External-Description": f"rightsflow retention archive: service {plan.service}, rule {d.rule_id}",
            "Bagging-Date": as_of.isoformat(),
            "Rightsflow-Sweep": sweep_id,
            "Rightsflow-Archive-Until": d.archive_until.isoformat() if d.archive_until else "",
        }
        files = {f"{collection}.json": body for collection, body in rows_json(rows).items()}
        return build_bag_zip(d.ref, files, info)[0]

    # -- activities ------------------------------------------------------------------------------
    @activity.defn
    def retention_services(self) -> list[str]:
        return self.catalog.ids

    @activity.defn
    @heartbeats
    def count_people(self, service: str) -> int:
        with store_engine(self.catalog[service], self.settings).connect() as conn:
            return count_people(conn, self.plans[service])

    @activity.defn
    def sweep_batches(self, inp: SweepBatchesInput) -> SweepBatchesResult:
        cursor, counts = inp.cursor, SweepCounts()
        info = activity.info()
        # One key per activity (stable across its attempts): a retried attempt resumes after the
        # last batch recorded in the register, not after the last heartbeat the server got.
        progress_key = f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
        with self.register.engine.begin() as rconn:
            forget_progress(rconn, datetime.now(UTC) - timedelta(days=PROGRESS_KEPT_DAYS))
        resumed = resume_progress(self, inp, progress_key)
        if resumed is not None:
            cursor, counts, finished = resumed
            if finished:
                return SweepBatchesResult(cursor=cursor, done=True, counts=counts, batches=0)
        result = run_batches(
            self, inp, cursor, counts, heartbeat=activity.heartbeat, progress_key=progress_key
        )
        activity.logger.info(
            "retention %s %s: %d batch(es), done=%s", inp.sweep_id, inp.service, result.batches, result.done
        )
        return result

    @activity.defn
    @heartbeats
    def finish_service(self, inp: FinishServiceInput) -> FinishServiceResult:
        return finish_service(self, inp)

    @activity.defn
    @heartbeats
    def review_reminders(self, inp: ReviewRemindersInput) -> ReviewRemindersResult:
        """Remind the records manager of review items awaiting a decision (safe to repeat)."""
        today = date.fromisoformat(inp.as_of)
        sent = send_reminders(self.catalog, self.register, today, inp.services)
        # Then by email to the records manager and service lead: keyed by item and day, so a
        # retry (or a second sweep today) sends none twice and a failed send goes on the retry.
        try:
            mailer = Mailer(Letters(self.settings, self.catalog, self.register, self._s3))
        except MailConfigError as exc:
            raise ApplicationError(str(exc), type="MailConfigError", non_retryable=True) from None
        emailed = email_reminders(mailer, self.catalog, self.register, today, inp.services)
        activity.logger.info(
            "retention review reminders %s: %d sent, %d emailed", inp.as_of, len(sent), emailed
        )
        return ReviewRemindersResult(sent=len(sent))


def finish_service(acts: RetentionActivities, inp: FinishServiceInput) -> FinishServiceResult:
    """Reconcile, purge expired archives, certify, audit. Every step is safe to repeat."""
    plan = acts.plans[inp.service]
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    as_of = date.fromisoformat(inp.as_of)
    store = store_engine(acts.catalog[inp.service], acts.settings)
    reg = acts.register.engine
    # 1. Pending rows from an interrupted batch: done if the household is gone, else forgotten.
    with reg.begin() as rconn:
        pending = rconn.execute(
            select(t.c.household_ref, t.c.household_key).where(
                t.c.service == inp.service, t.c.sweep_id == inp.sweep_id, t.c.status == "pending"
            )
        ).all()
        if pending:
            key = plan.map.c(plan.person_table, plan.person_key)
            with store.connect() as sconn:
                wanted = coerce_keys(store, plan, [p[1] for p in pending])
                present = {str(r[0]) for r in sconn.execute(select(key).where(key.in_(wanted)))}
            for ref, hkey in pending:
                if hkey in present:
                    rconn.execute(delete(t).where(t.c.service == inp.service, t.c.household_ref == ref))
                else:
                    rconn.execute(
                        update(t)
                        .where(t.c.service == inp.service, t.c.household_ref == ref)
                        .values(status="done", household_key=None)
                    )
    # 2. Archives whose date has passed. One still under Object Lock on the S3 server's clock (a
    # sweep dated ahead of today, or clock skew at midnight) is left for a later sweep.
    locked = 0
    with reg.begin() as rconn:
        expired = rconn.execute(
            select(t.c.household_ref, t.c.archive_key).where(
                t.c.service == inp.service,
                t.c.action == "archive_then_destroy",
                t.c.status == "done",
                t.c.archive_until < as_of,
                t.c.archive_purged_on.is_(None),
                t.c.archive_key.is_not(None),
            )
        ).all()
    for ref, key in expired:
        if not _purge_archive(acts, key):
            locked += 1
            continue
        with reg.begin() as rconn:
            rconn.execute(
                update(t)
                .where(t.c.service == inp.service, t.c.household_ref == ref)
                .values(archive_purged_on=as_of)
            )
    if locked:
        activity.logger.info("retention %s %s: %d archive(s) still locked", inp.sweep_id, inp.service, locked)
    # Counted from the register, so a retried attempt reports the archives an earlier one removed.
    with reg.connect() as rconn:
        purged = int(
            rconn.execute(
                select(func.count())
                .select_from(t)
                .where(t.c.service == inp.service, t.c.archive_purged_on == as_of)
            ).scalar()
            or 0
        )
    # 3. The certificate: what this sweep disposed, by rule and action, with keyed-hash references.
    # The register's rows are streamed into the manifest (a spooled temporary file), so memory
    # stays flat however many households the sweep disposed of.
    query = (
        select(
            t.c.household_ref, t.c.rule_id, t.c.action, t.c.people, t.c.rows, t.c.due_on, t.c.archive_until
        )
        .where(t.c.service == inp.service, t.c.sweep_id == inp.sweep_id, t.c.status == "done")
        .order_by(t.c.household_ref)
    )
    with reg.connect() as rconn, _Manifest(inp) as manifest:
        for row in rconn.execution_options(yield_per=MANIFEST_FETCH).execute(query):
            manifest.add(row)
        manifest.finish()
        disposed = manifest.households
        cert_key = cert_sha = None
        if disposed or purged:
            cert_key, cert_sha = write_certificate(acts, inp, manifest, purged)
    acts.register.audit(
        f"retention:{inp.sweep_id}:{inp.service}",
        actor=inp.approved_by,
        action="retention.swept",
        service=inp.service,
        legal_basis="UK GDPR Art 5(1)(e) storage limitation; the service's retention schedule",
        detail={
            "sweep_id": inp.sweep_id,
            "as_of": inp.as_of,
            "disposed_households": disposed,
            "archives_purged": purged,
            "archives_still_locked": locked,
            "certificate": cert_key,
            "certificate_sha256": cert_sha,
            "counts": {k: v for k, v in asdict(inp.counts).items() if k != "by_rule"},
        },
    )
    return FinishServiceResult(
        service=inp.service,
        certificate_key=cert_key,
        certificate_sha256=cert_sha,
        disposed_households=disposed,
        archives_purged=purged,
    )


def _purge_archive(acts: RetentionActivities, key: str) -> bool:
    """Delete every version of an archive; False while Object Lock still protects one.

    Already gone (an earlier attempt removed it) counts as removed. A refusal for any other reason
    (permissions) is raised, not taken for a lock.
    """
    bucket = acts.settings.s3_bucket
    listing = acts.s3.list_object_versions(Bucket=bucket, Prefix=key)
    versions = [(v, False) for v in listing.get("Versions", [])]
    versions += [(v, True) for v in listing.get("DeleteMarkers", [])]
    for v, marker in versions:
        if v["Key"] != key:
            continue
        try:
            acts.s3.delete_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])
        except ClientError:
            if marker:  # a delete marker carries no lock
                raise
            lock = object_lock_of(acts.s3, bucket, key, v["VersionId"])
            if lock["legal_hold"] or (lock["retain_until"] and lock["retain_until"] > datetime.now(UTC)):
                return False
            raise
    return True


def render_certificate(settings: Settings, context: dict[str, Any]) -> str:
    env = Environment(
        loader=FileSystemLoader(str(settings.templates_dir)), autoescape=select_autoescape(["html", "j2"])
    )
    return env.get_template("disposal_certificate.html.j2").render(**context)


class _Manifest:
    """The certificate's manifest (one entry per disposed household), written as it is read.

    The bytes are those of ``json.dumps(..., sort_keys=True, separators=(",", ":"))`` of the whole
    document, built entry by entry into a spooled temporary file (on disk past a few megabytes; it
    holds keyed-hash references and dates only) with its SHA-256 and MD5 computed on the way. The
    per-rule summary and the first CERTIFICATE_MAX_INLINE_REFS references are kept for the HTML.
    """

    def __init__(self, inp: FinishServiceInput) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=MANIFEST_SPOOL_BYTES)  # noqa: SIM115 - closed by __exit__
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.households = 0
        self.refs: list[str] = []
        self.summary: dict[tuple[str, str], dict[str, int]] = {}
        rest = {"service": inp.service, "sweep_id": inp.sweep_id}
        self._tail = "]," + json.dumps(rest, sort_keys=True, separators=(",", ":"))[1:]
        self._write('{"as_of":' + json.dumps(inp.as_of) + ',"households":[')

    def __enter__(self) -> _Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def _write(self, text: str) -> None:
        data = text.encode()
        self.file.write(data)
        self.sha256.update(data)
        self.md5.update(data)

    def add(self, row: Any) -> None:
        entry = {
            "action": row.action,
            "archive_until": row.archive_until.isoformat() if row.archive_until else None,
            "due_on": row.due_on.isoformat() if row.due_on else None,
            "ref": row.household_ref,
            "rule": row.rule_id,
        }
        self._write(("," if self.households else "") + json.dumps(entry, separators=(",", ":")))
        self.households += 1
        if len(self.refs) <= CERTIFICATE_MAX_INLINE_REFS:
            self.refs.append(row.household_ref)
        s = self.summary.setdefault((row.rule_id, row.action), {"households": 0, "people": 0, "rows": 0})
        s["households"] += 1
        s["people"] += row.people
        s["rows"] += row.rows or 0

    def finish(self) -> None:
        self._write(self._tail)
        self.file.seek(0)


def _put_locked_file(
    acts: RetentionActivities, key: str, manifest: _Manifest, ctype: str, lock: datetime
) -> None:
    """Upload the spooled manifest under Object Lock from the file (never read into memory)."""
    manifest.file.seek(0)
    acts.s3.put_object(
        Bucket=acts.settings.s3_bucket,
        Key=key,
        Body=manifest.file,
        ContentType=ctype,
        ContentMD5=base64.b64encode(manifest.md5.digest()).decode(),
        ServerSideEncryption="AES256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=lock,
    )


def write_certificate(
    acts: RetentionActivities, inp: FinishServiceInput, manifest: _Manifest, purged: int
) -> tuple[str, str]:
    svc = acts.catalog[inp.service]
    rules = {r.rule_id: r for r in svc.retention}
    refs = manifest.refs
    manifest_sha = manifest.sha256.hexdigest()
    base = opaque_key("retention/certificates", inp.service, inp.sweep_id)
    lock = datetime.combine(date.fromisoformat(inp.as_of), dtime(0, 0), tzinfo=UTC)
    lock = max(lock, datetime.now(UTC)) + timedelta(days=365 * CERTIFICATE_LOCK_YEARS)
    context = {
        "service": inp.service,
        "service_name": svc.name,
        "authority": svc.authority,
        "sweep_id": inp.sweep_id,
        "as_of": inp.as_of,
        "approved_by": inp.approved_by,
        "rows": [
            {
                "rule_id": rid,
                "action": action,
                "record_class": rules[rid].record_class if rid in rules else "",
                "source": rules[rid].source if rid in rules else "",
                **s,
            }
            for (rid, action), s in sorted(manifest.summary.items())
        ],
        "total_households": manifest.households,
        "archives_purged": purged,
        "refs": refs if len(refs) <= CERTIFICATE_MAX_INLINE_REFS else [],
        "refs_elided": len(refs) > CERTIFICATE_MAX_INLINE_REFS,
        "manifest_key": f"{base}.manifest.json",
        "manifest_sha256": manifest_sha,
        "counts": inp.counts,
    }
    html = render_certificate(acts.settings, context).encode()
    bucket = acts.settings.s3_bucket
    if not acts._object_exists(f"{base}.manifest.json"):
        _put_locked_file(acts, f"{base}.manifest.json", manifest, "application/json", lock)
    if not acts._object_exists(f"{base}.html"):
        put_locked_object(acts.s3, bucket, f"{base}.html", html, "text/html; charset=utf-8", lock)
    pdf = _pdf(html)
    if pdf is not None and not acts._object_exists(f"{base}.pdf"):
        put_locked_object(acts.s3, bucket, f"{base}.pdf", pdf, "application/pdf", lock)
    return f"{base}.html", hashlib.sha256(html).hexdigest()


def _pdf(html: bytes) -> bytes | None:
    """The certificate as PDF where WeasyPrint is installed; None otherwise."""
    if not weasyprint_available():
        return None
    return render_pdf(html.decode())
