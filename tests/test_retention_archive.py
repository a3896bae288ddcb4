"""Archive purge: a later sweep removes retention archives whose date has passed, on S3 (moto) with
Object Lock, and leaves those not yet due or still locked."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import activities.retention as retention_activities
from activities.retention import (
    FinishServiceInput,
    RetentionActivities,
    SweepBatchesInput,
    SweepCounts,
    finish_service,
)
from rightsflow.catalog import load_catalog
from rightsflow.config import Settings
from rightsflow.db import engine_for_url
from rightsflow.register import AuditEntry, Register
from rightsflow.retention import RetentionDisposal
from rightsflow.retention.batches import run_batches
from rightsflow.s3 import object_lock_of, s3_client
from rightsflow.stores import SCHEMAS
from rightsflow.stores import children_social_care as csc
from tests.support import AS_OF, CSC, codec_client, running_worker, store_urls
from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

# Long enough to outlast the fixture's sweep on a busy machine (it must still be locked then).
SHORT_LOCK_SECONDS = 20
# Two looked-after children's records, archived at their 25th birthdays, kept until their 75th.
SOON = date(1995, 3, 1)  # archive until 2070-03-01: this one's lock is shortened to seconds
LATER = date(1996, 6, 1)  # archive until 2071-06-01: keeps its real lock
PEOPLE = {  # person id -> (forename, surname, NHS number, date of birth)
    1: ("Tallulah", "Quennell", "9990000018", SOON),
    2: ("Marguerite", "Quennell", "9990000026", date(1970, 5, 5)),
    11: ("Evander", "Ashdown", "9990000034", LATER),
    12: ("Philippa", "Ashdown", "9990000042", date(1972, 7, 7)),
}


@dataclass
class Archived:
    settings: Settings
    acts: RetentionActivities
    keys: dict[date, str]  # archive_until -> S3 key


def _households(url: str) -> None:
    engine = engine_for_url(url)
    SCHEMAS[CSC].create_all(engine)
    with Session(engine) as s, s.begin():
        for pid, (forename, surname, nhs, dob) in PEOPLE.items():
            s.add(
                csc.Person(
                    person_id=pid, forename=forename, surname=surname, nhs_number=nhs, date_of_birth=dob
                )
            )
        s.flush()
        for child, parent, rel in ((1, 2, 1), (11, 12, 21)):
            s.add(
                csc.Relationship(
                    relationship_id=rel,
                    person_id=parent,
                    related_person_id=child,
                    relationship_type="mother",
                    has_parental_responsibility=1,
                )
            )
            s.add(
                csc.Relationship(
                    relationship_id=rel + 1,
                    person_id=child,
                    related_person_id=parent,
                    relationship_type="daughter",
                    has_parental_responsibility=0,
                )
            )
            dob = PEOPLE[child][3]
            s.add(
                csc.Episode(
                    episode_id=child,
                    person_id=child,
                    episode_type="LAC",
                    start_date=dob + timedelta(days=3650),
                    end_date=dob + timedelta(days=6570),
                )
            )
            s.add(
                csc.CaseNote(
                    note_id=child,
                    person_id=child,
                    recorded_at=datetime(2008, 1, 1),
                    author_name="A Worker",
                    author_role="Social Worker",
                    note_text=f"{PEOPLE[child][0]} settled in placement.",
                )
            )


def _finish(acts: RetentionActivities, as_of: date) -> retention_activities.FinishServiceResult:
    sweep_id = f"sweep-{as_of.isoformat()}"
    return finish_service(
        acts,
        FinishServiceInput(
            sweep_id=sweep_id, service=CSC, as_of=as_of.isoformat(), approved_by="test", counts=SweepCounts()
        ),
    )


def _versions(s: Settings, key: str) -> list[dict]:
    listing = s3_client(s).list_object_versions(Bucket=s.s3_bucket, Prefix=key)
    return [v for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []) if v["Key"] == key]


def _wait_for_lock_end(s: Settings, key: str) -> None:
    until = object_lock_of(s3_client(s), s.s3_bucket, key)["retain_until"]
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1.0)


def _purged_on(s: Settings) -> dict[date, date | None]:
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    with Register(s).engine.connect() as c:
        return dict(c.execute(select(t.c.archive_until, t.c.archive_purged_on)).all())


def _audit(s: Settings, as_of: date) -> list[dict]:
    with Register(s).engine.connect() as c:
        rows = c.execute(
            select(AuditEntry.detail).where(
                AuditEntry.action == "retention.swept",
                AuditEntry.idempotency_key == f"retention:sweep-{as_of.isoformat()}:{CSC}",
            )
        ).all()
    return [json.loads(r[0]) for r in rows]


def _register_text(s: Settings) -> str:
    """Every retention row and audit entry in the register, as text (to search for personal data)."""
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    with Register(s).engine.connect() as c:
        rows = [dict(r) for r in c.execute(select(t)).mappings()]
        rows += [dict(r) for r in c.execute(select(AuditEntry.__table__)).mappings()]  # type: ignore[attr-defined]
    return json.dumps(rows, default=str)


@pytest.fixture
def archived(rs: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Archived]:
    """Both households archived and destroyed by the sweep of AS_OF; the 2070 archive's Object Lock
    ends a few seconds from now (standing in for the years to its date), the 2071 one's in 2071."""
    real_lock = retention_activities._archive_lock_until

    def lock_until(d: date) -> datetime:
        if d == date(2070, 3, 1):
            return datetime.now(UTC) + timedelta(seconds=SHORT_LOCK_SECONDS)
        return real_lock(d)

    monkeypatch.setattr(retention_activities, "_archive_lock_until", lock_until)
    monkeypatch.setattr(retention_activities, "_pdf", lambda html: None)  # HTML and JSON suffice here
    _households(store_urls(rs)[CSC])
    acts = RetentionActivities(rs, load_catalog(rs.catalog_dir), Register(rs))
    res = run_batches(
        acts,
        SweepBatchesInput(sweep_id=f"sweep-{AS_OF}", service=CSC, as_of=AS_OF.isoformat(), dry_run=False),
        None,
        SweepCounts(),
    )
    assert res.counts.archived == 2
    first = _finish(acts, AS_OF)
    assert first.disposed_households == 2 and first.archives_purged == 0
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    with Register(rs).engine.connect() as c:
        keys = dict(c.execute(select(t.c.archive_until, t.c.archive_key)).all())
    assert set(keys) == {date(2070, 3, 1), date(2071, 6, 1)}
    with engine_for_url(store_urls(rs)[CSC]).connect() as c:
        assert c.execute(select(func.count()).select_from(csc.Person)).scalar() == 0
    yield Archived(rs, acts, keys)


def test_a_later_sweep_removes_only_archives_whose_date_has_passed(archived: Archived) -> None:
    s, acts, keys = archived.settings, archived.acts, archived.keys
    soon, later = keys[date(2070, 3, 1)], keys[date(2071, 6, 1)]

    # On the archive's last day it is kept.
    assert _finish(acts, date(2070, 3, 1)).archives_purged == 0
    assert len(_versions(s, soon)) == 1 and len(_versions(s, later)) == 1

    # The day after, S3 still enforces the lock (its clock has not reached the date): the sweep
    # completes, leaves the archive and does not record it as removed.
    assert _finish(acts, date(2070, 3, 2)).archives_purged == 0
    assert len(_versions(s, soon)) == 1
    assert _purged_on(s)[date(2070, 3, 1)] is None
    assert _audit(s, date(2070, 3, 2))[0]["archives_still_locked"] == 1

    _wait_for_lock_end(s, soon)
    removed = _finish(acts, date(2070, 3, 3))
    assert removed.archives_purged == 1
    assert _versions(s, soon) == []  # every version gone, not hidden behind a delete marker
    assert len(_versions(s, later)) == 1  # not due until after 1 June 2071
    assert _purged_on(s) == {date(2070, 3, 1): date(2070, 3, 3), date(2071, 6, 1): None}
    (audit,) = _audit(s, date(2070, 3, 3))
    assert audit["archives_purged"] == 1 and audit["archives_still_locked"] == 0
    # The removal is certified too, under the certificate's own long lock.
    assert removed.certificate_key
    cert = s3_client(s).get_object(Bucket=s.s3_bucket, Key=removed.certificate_key)["Body"].read().decode()
    lock = object_lock_of(s3_client(s), s.s3_bucket, removed.certificate_key)
    assert lock["mode"] == "COMPLIANCE" and lock["retain_until"].year >= 2050

    # Running the purge again (a retried activity) removes nothing more and reports the same.
    again = _finish(acts, date(2070, 3, 3))
    assert again.archives_purged == 1 and len(_versions(s, later)) == 1
    assert len(_audit(s, date(2070, 3, 3))) == 1
    assert _finish(acts, date(2070, 3, 4)).archives_purged == 0

    # Neither the register nor the certificate holds personal data.
    text = _register_text(s) + cert
    for forename, surname, nhs, _ in PEOPLE.values():
        assert forename not in text and surname not in text and nhs not in text
    assert "1995-03-01" not in text and "1996-06-01" not in text


def test_object_lock_refuses_deletion_before_the_date(archived: Archived) -> None:
    s, acts, keys = archived.settings, archived.acts, archived.keys
    later = keys[date(2071, 6, 1)]
    (version,) = _versions(s, later)
    with pytest.raises(ClientError) as refused:
        s3_client(s).delete_object(Bucket=s.s3_bucket, Key=later, VersionId=version["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # A sweep dated after 1 June 2071 but run today finds that lock in force: it finishes, removes
    # the 2070 archive (whose lock has ended) and keeps the 2071 one for a sweep on or after the
    # real date.
    _wait_for_lock_end(s, keys[date(2070, 3, 1)])
    result = _finish(acts, date(2071, 6, 3))
    assert result.archives_purged == 1
    assert _versions(s, keys[date(2070, 3, 1)]) == [] and len(_versions(s, later)) == 1
    assert _purged_on(s) == {date(2070, 3, 1): date(2071, 6, 3), date(2071, 6, 1): None}
    assert _audit(s, date(2071, 6, 3))[0]["archives_still_locked"] == 1


async def test_a_dry_run_removes_nothing_and_the_sweep_reports_what_it_removed(
    archived: Archived, time_skipping_env
) -> None:
    s, keys = archived.settings, archived.keys
    soon = keys[date(2070, 3, 1)]
    _wait_for_lock_end(s, soon)
    client = codec_client(time_skipping_env.client, s)

    async def sweep(dry_run: bool) -> object:
        return await client.execute_workflow(
            RetentionSweep.run,
            RetentionSweepInput(as_of="2070-03-03", services=[CSC], dry_run=dry_run),
            id=f"retention-archive-{uuid.uuid4().hex[:8]}",
            task_queue=s.task_queue,
        )

    async with running_worker(client, s):
        dry = await sweep(True)
        assert len(_versions(s, soon)) == 1
        assert _purged_on(s)[date(2070, 3, 1)] is None
        real = await sweep(False)
        again = await sweep(False)
    assert dry.services[0].archives_purged == 0  # type: ignore[attr-defined]
    assert real.services[0].archives_purged == 1  # type: ignore[attr-defined]
    assert again.services[0].archives_purged == 1  # type: ignore[attr-defined]  # the same, once
    assert _versions(s, soon) == [] and len(_versions(s, keys[date(2071, 6, 1)])) == 1
    assert _purged_on(s)[date(2070, 3, 1)] == date(2070, 3, 3)


def test_an_archive_whose_date_passed_before_a_backdated_sweep_ran_is_still_lockable() -> None:
    """A sweep run today for a past date may archive with an end date already behind the real clock:
    S3 refuses a lock in the past, so the lock runs a day past now (a later sweep removes it)."""
    now = datetime.now(UTC)
    past = retention_activities._archive_lock_until(date(2001, 1, 1))
    assert now + timedelta(hours=23) < past <= datetime.now(UTC) + timedelta(days=1)
    assert retention_activities._archive_lock_until(date(2070, 3, 1)) == datetime(2070, 3, 2, tzinfo=UTC)
