"""Disposition review: the sweep opens review items; approvals, extensions, moves and holds steer it."""

from __future__ import annotations

import io
import json
import shutil
import uuid
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts
from rightsflow.catalog import Catalog, RetentionRule, load_catalog
from rightsflow.db import engine_for_url
from rightsflow.register import AuditEntry, Register
from rightsflow.retention import RetentionDisposal, RetentionReview, as_date
from rightsflow.retention.batches import run_batches
from rightsflow.review import ReviewError, decide, list_reviews, send_reminders
from rightsflow.stores import SCHEMAS
from rightsflow.stores import children_social_care as csc

AS_OF = date(2026, 11, 1)
CSC = "lewisham_childrens_social_care"
SURNAME = "Zebedee-Quartermaine"


def _stores(settings, database_url, monkeypatch, cat: Catalog, s3: object | None = None):  # type: ignore[no-untyped-def]
    """Every store on ``database_url`` (empty), the register, and the sweep's activities on ``cat``."""
    for svc in cat:
        monkeypatch.setenv(svc.store.url_env, database_url)
    engine = engine_for_url(database_url)
    for md in SCHEMAS.values():
        md.drop_all(engine)
        md.create_all(engine)
    register = Register(settings)
    register.create_schema()
    acts = RetentionActivities(settings, cat, register, s3=s3 or object())
    return acts, engine, register


@pytest.fixture
def stores(settings, database_url, monkeypatch):  # type: ignore[no-untyped-def]
    cat = load_catalog(settings.catalog_dir)
    return (*_stores(settings, database_url, monkeypatch, cat), cat)


def _variant(settings, tmp_path: Path, extra: str, rule_stages: int = 2) -> Catalog:  # type: ignore[no-untyped-def]
    """The catalogue with ``extra`` (YAML lines) added to the social-care review rule with
    ``rule_stages`` stages (2: child protection, 1: child in need): a test variant, not the law."""
    folder = tmp_path / "catalog"
    shutil.copytree(settings.catalog_dir, folder)
    path = folder / f"{CSC}.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = f"    review_stages: {rule_stages}\n"
    assert text.count(anchor) == 1
    path.write_text(text.replace(anchor, anchor + extra), encoding="utf-8")
    return load_catalog(folder)


def _sweep(acts, dry_run: bool, as_of: date = AS_OF) -> SweepCounts:  # type: ignore[no-untyped-def]
    inp = SweepBatchesInput(
        sweep_id=f"{'dry' if dry_run else 'sweep'}-{as_of}",
        service=CSC,
        as_of=as_of.isoformat(),
        dry_run=dry_run,
        batch_size=2,
    )
    cursor, counts = None, SweepCounts()
    while True:
        res = run_batches(acts, inp, cursor, counts)
        cursor = res.cursor
        if res.done:
            return counts


def _family(engine, pid: int, episode: str) -> None:  # type: ignore[no-untyped-def]
    """A parent and a child whose episode (closed in 1980, child born 1975) falls due under a review rule."""
    with Session(engine) as s, s.begin():
        for p, dob in ((pid, date(1950, 1, 1)), (pid + 1, date(1975, 1, 1))):
            s.add(
                csc.Person(
                    person_id=p, forename="Ada", surname=SURNAME, date_of_birth=dob, nhs_number="9434765919"
                )
            )
        s.flush()
        for n, (x, y) in enumerate(((pid, pid + 1), (pid + 1, pid))):
            s.add(
                csc.Relationship(
                    relationship_id=pid * 10 + n, person_id=x, related_person_id=y, relationship_type="r"
                )
            )
        s.add(
            csc.Episode(
                episode_id=pid,
                person_id=pid + 1,
                episode_type=episode,
                start_date=date(1978, 1, 1),
                end_date=date(1980, 1, 1),
            )
        )


def _people(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(csc.Person)).scalar())


def test_review_items_listed_then_approved_through_every_stage_and_disposed(stores, settings):
    acts, engine, register, cat = stores
    _family(engine, 100, "CP")  # child_protection_case_file: 35 years from closure, two review stages
    assert _sweep(acts, dry_run=True).awaiting_review == 1
    first = _sweep(acts, dry_run=False)
    assert first.awaiting_review == 1 and first.disposed == 0 and _people(engine) == 2
    _sweep(acts, dry_run=False)  # a second sweep opens nothing twice
    [item] = list_reviews(register.engine, CSC)
    assert (item.rule_id, item.stage, item.stages, item.status) == (
        "child_protection_case_file",
        1,
        2,
        "open",
    )
    assert item.due_on == date(2015, 1, 2)

    ref = item.ref[:12]
    after, changed = decide(settings, cat, register, ref, by="Reviewer One", approve=True)
    assert changed and (after.stage, after.status) == (2, "open")
    # The same reviewer again: idempotent, the second stage needs someone else.
    again, changed = decide(settings, cat, register, ref, by="Reviewer One", approve=True)
    assert not changed and (again.stage, again.status) == (2, "open")
    assert _sweep(acts, dry_run=False, as_of=date(2026, 11, 2)).awaiting_review == 1  # still reviewing
    final, changed = decide(settings, cat, register, ref, by="Reviewer Two", approve=True)
    assert changed and final.status == "approved"

    dry = _sweep(acts, dry_run=True, as_of=date(2026, 11, 3))
    real = _sweep(acts, dry_run=False, as_of=date(2026, 11, 3))
    assert dry.disposed == real.disposed == 1 and dry.awaiting_review == real.awaiting_review == 0
    assert _people(engine) == 0
    with register.engine.connect() as c:
        row = c.execute(select(RetentionDisposal.__table__)).one()
        assert (row.rule_id, row.action) == ("child_protection_case_file", "destroy")
        assert c.execute(select(RetentionReview.status)).scalar() == "disposed"
    assert list_reviews(register.engine, CSC) == []


def test_extend_keeps_the_household_until_the_date(stores, settings):
    acts, engine, register, cat = stores
    _family(engine, 200, "CIN")  # child_in_need_case_file: 25th birthday, one review stage
    _sweep(acts, dry_run=False)
    [item] = list_reviews(register.engine, CSC)
    with pytest.raises(ReviewError):
        decide(settings, cat, register, item.ref, by="RM", extend_to=date(2020, 1, 1), today=AS_OF)
    decide(settings, cat, register, item.ref, by="RM", extend_to=date(2027, 6, 1), today=AS_OF)
    _, changed = decide(settings, cat, register, item.ref, by="RM", extend_to=date(2027, 6, 1), today=AS_OF)
    assert not changed
    assert list_reviews(register.engine, CSC) == []  # not awaiting a decision while extended
    for as_of in (date(2026, 12, 1), date(2027, 5, 31)):
        dry, real = _sweep(acts, True, as_of), _sweep(acts, False, as_of)
        assert dry.retained_not_due == real.retained_not_due == 1 and real.disposed == 0
    # From the new date it is due again: back in the register for a decision, still not disposed.
    assert _sweep(acts, False, date(2027, 6, 1)).awaiting_review == 1
    [reopened] = list_reviews(register.engine, CSC)
    assert reopened.status == "open" and reopened.due_on == date(2027, 6, 1) and _people(engine) == 2


def test_move_re_evaluates_under_another_rule(stores, settings):
    acts, engine, register, cat = stores
    _family(engine, 300, "CIN")
    _sweep(acts, dry_run=False)
    [item] = list_reviews(register.engine, CSC)
    with pytest.raises(ReviewError):
        decide(settings, cat, register, item.ref, by="RM", move_to="no_such_rule")
    # Looked after child case record: archive at 25 (due now) then destroy at 75.
    decide(settings, cat, register, item.ref, by="RM", move_to="looked_after_child_case_record")
    dry = _sweep(acts, True)
    assert dry.archived == 1 and dry.awaiting_review == 0


def test_hold_retains_with_reason_hold_and_decisions_hold_no_personal_data(stores, settings):
    acts, engine, register, cat = stores
    _family(engine, 400, "CIN")
    _sweep(acts, dry_run=False)
    [item] = list_reviews(register.engine, CSC)
    with pytest.raises(ReviewError):
        decide(settings, cat, register, item.ref, by="RM", hold="legal_hold")  # a reason is required
    for _ in range(2):
        decide(settings, cat, register, item.ref, by="RM", hold="legal_hold", reason="Claim pending")
    with engine.connect() as c:
        flags = c.execute(select(csc.Alert.alert_code, csc.Alert.ended_on)).all()
    assert flags == [("LEGAL_HOLD", None)]  # written once, through the flags role's code
    for dry_run in (True, False):
        counts = _sweep(acts, dry_run, date(2026, 11, 5))
        assert counts.retained_hold == 1 and counts.disposed == counts.awaiting_review == 0
    with pytest.raises(ReviewError):
        decide(settings, cat, register, item.ref, by="RM", approve=True)  # held: nothing to approve
    with register.engine.connect() as c:
        t = AuditEntry.__table__
        audit = c.execute(select(t).where(t.c.action.like("retention.review.%"))).all()
        reviews = c.execute(select(RetentionReview.__table__)).all()
    assert [a.action for a in audit] == ["retention.review.hold"]  # the repeat added nothing
    detail = json.loads(audit[0].detail)
    assert detail["household_ref"] == item.ref and "reason_sha256" in detail
    text = json.dumps([str(tuple(r)) for r in audit + reviews])
    for personal in (SURNAME, "9434765919", "Ada"):
        assert personal not in text
    assert "Claim pending" not in json.dumps(detail)


def test_after_review_is_validated() -> None:
    base = {
        "rule_id": "r",
        "record_class": "x",
        "trigger": "last_contact",
        "period": {"years": 1},
        "source": "a source of at least ten characters",
    }
    assert RetentionRule(**base, action="review", review_stages=1).disposal_action == "destroy"
    rule = RetentionRule(
        **base, action="review", review_stages=1, after_review="anonymise", anonymise_keep=["a.b"]
    )
    assert rule.disposal_action == "anonymise"
    with pytest.raises(ValueError):
        RetentionRule(**base, action="destroy", after_review="anonymise")
    with pytest.raises(ValueError):
        RetentionRule(**base, action="review", review_stages=1, after_review="archive_then_destroy")


# --------------------------------------------------------------------------------------------------
# reminders


def _reminders(register) -> list[dict]:  # type: ignore[no-untyped-def]
    with register.engine.connect() as c:
        t = AuditEntry.__table__
        rows = c.execute(
            select(t.c.detail, t.c.actor)
            .where(t.c.action == "retention.review.reminder")
            .order_by(t.c.entry_id)
        ).all()
    return [json.loads(r.detail) for r in rows]


def test_reminders_after_ten_working_days_then_every_five_once_a_day_and_per_stage(stores, settings):
    acts, engine, register, cat = stores
    _family(engine, 500, "CP")  # two review stages
    _sweep(acts, dry_run=False)  # opens the item on Sunday 1 Nov 2026
    [item] = list_reviews(register.engine, CSC)
    assert (item.waiting_since, item.reminders_sent, item.last_reminded_on) == (AS_OF, 0, None)

    assert send_reminders(cat, register, date(2026, 11, 12)) == []  # 9 working days
    [first] = send_reminders(cat, register, date(2026, 11, 13))  # the 10th
    assert (first.ref, first.stage, first.waiting_since, first.number) == (item.ref, 1, AS_OF, 1)
    assert send_reminders(cat, register, date(2026, 11, 13)) == []  # the same day again: nothing
    assert send_reminders(cat, register, date(2026, 11, 19)) == []  # 4 working days later
    assert [r.number for r in send_reminders(cat, register, date(2026, 11, 20))] == [2]
    [listed] = list_reviews(register.engine, CSC)
    assert (listed.reminders_sent, listed.last_reminded_on) == (2, date(2026, 11, 20))

    # Stage 1 approved: stage 2's wait starts that day, with its own ten working days.
    decide(settings, cat, register, item.ref, by="Reviewer One", approve=True, today=date(2026, 11, 23))
    assert send_reminders(cat, register, date(2026, 12, 4)) == []
    [third] = send_reminders(cat, register, date(2026, 12, 7))
    assert (third.stage, third.waiting_since, third.number) == (2, date(2026, 11, 23), 3)
    decide(settings, cat, register, item.ref, by="Reviewer Two", approve=True, today=date(2026, 12, 8))
    assert send_reminders(cat, register, date(2027, 3, 1)) == []  # approved: nothing awaits a decision

    audit = _reminders(register)
    assert [(a["stage"], a["reminder"], a["waiting_since"]) for a in audit] == [
        (1, 1, "2026-11-01"),
        (1, 2, "2026-11-01"),
        (2, 3, "2026-11-23"),
    ]
    assert all(a["household_ref"] == item.ref and a["rule_id"] == "child_protection_case_file" for a in audit)
    with register.engine.connect() as c:
        text = json.dumps([str(tuple(r)) for r in c.execute(select(AuditEntry.__table__))])
    for personal in (SURNAME, "9434765919", "Ada"):
        assert personal not in text


def test_missed_days_are_caught_up_by_one_reminder(stores, settings):
    acts, engine, register, cat = stores
    _family(engine, 550, "CIN")
    _sweep(acts, dry_run=False)
    assert [r.number for r in send_reminders(cat, register, date(2027, 2, 1))] == [1]
    assert send_reminders(cat, register, date(2027, 2, 5)) == []
    assert [r.number for r in send_reminders(cat, register, date(2027, 2, 8))] == [2]
    assert len(_reminders(register)) == 2


def test_an_extended_item_reopened_waits_afresh_before_a_reminder(stores, settings):
    acts, engine, register, cat = stores
    _family(engine, 600, "CIN")
    _sweep(acts, dry_run=False)
    [item] = list_reviews(register.engine, CSC)
    decide(settings, cat, register, item.ref, by="RM", extend_to=date(2027, 6, 1), today=AS_OF)
    assert send_reminders(cat, register, date(2027, 5, 31)) == []  # extended: not awaiting a decision
    assert _sweep(acts, False, date(2027, 6, 1)).awaiting_review == 1  # reopened on Tue 1 Jun 2027
    assert send_reminders(cat, register, date(2027, 6, 1)) == []
    [reopened] = list_reviews(register.engine, CSC)
    assert reopened.waiting_since == date(2027, 6, 1)
    assert send_reminders(cat, register, date(2027, 6, 14)) == []
    assert [r.waiting_since for r in send_reminders(cat, register, date(2027, 6, 15))] == [date(2027, 6, 1)]


def test_a_rule_sets_its_own_reminder_days(settings, database_url, monkeypatch, tmp_path):
    cat = _variant(
        settings, tmp_path, "    review_remind_after: 2\n    review_remind_every: 1\n", rule_stages=1
    )
    acts, engine, register = _stores(settings, database_url, monkeypatch, cat)
    _family(engine, 650, "CIN")  # opened Sunday 1 Nov 2026
    _sweep(acts, dry_run=False)
    assert send_reminders(cat, register, date(2026, 11, 2)) == []
    assert [r.number for r in send_reminders(cat, register, date(2026, 11, 3))] == [1]
    assert [r.number for r in send_reminders(cat, register, date(2026, 11, 4))] == [2]


def test_reminder_days_are_validated() -> None:
    base = {
        "rule_id": "r",
        "record_class": "x",
        "trigger": "last_contact",
        "period": {"years": 1},
        "source": "a source of at least ten characters",
    }
    rule = RetentionRule(**base, action="review", review_stages=1)
    assert rule.review_reminders == (10, 5)
    rule = RetentionRule(**base, action="review", review_stages=1, review_remind_after=3)
    assert rule.review_reminders == (3, 5)
    with pytest.raises(ValueError):
        RetentionRule(**base, action="destroy", review_remind_after=3)
    with pytest.raises(ValueError):
        RetentionRule(**base, action="review", review_stages=1, review_remind_every=0)


async def test_the_sweep_sends_reminders_after_its_services_and_not_on_a_dry_run(rs, time_skipping_env):
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.worker import Worker

    from tests.support import codec_client, store_urls
    from workflows.retention_sweep import RetentionSweep, RetentionSweepInput, ServiceSweep

    engine = engine_for_url(store_urls(rs, [CSC])[CSC])
    SCHEMAS[CSC].create_all(engine)
    _family(engine, 700, "CIN")
    acts = RetentionActivities(rs, load_catalog(rs.catalog_dir), Register(rs))
    client = codec_client(time_skipping_env.client, rs)

    async def sweep(as_of: date, dry_run: bool = False):  # type: ignore[no-untyped-def]
        return await client.execute_workflow(
            RetentionSweep.run,
            RetentionSweepInput(as_of=as_of.isoformat(), services=[CSC], dry_run=dry_run),
            id=f"review-reminders-{uuid.uuid4().hex[:8]}",
            task_queue=rs.task_queue,
        )

    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            client,
            task_queue=rs.task_queue,
            workflows=[RetentionSweep, ServiceSweep],
            activities=[
                acts.retention_services,
                acts.count_people,
                acts.sweep_batches,
                acts.finish_service,
                acts.review_reminders,
            ],
            activity_executor=pool,
        ):
            opened = await sweep(AS_OF)
            dry = await sweep(date(2026, 11, 13), dry_run=True)
            due = await sweep(date(2026, 11, 13))
            again = await sweep(date(2026, 11, 13))
    assert opened.services[0].counts.awaiting_review == 1 and opened.review_reminders == 0
    assert dry.review_reminders is None
    assert (due.review_reminders, again.review_reminders) == (1, 0)
    [item] = list_reviews(Register(rs).engine, CSC)
    assert (item.reminders_sent, item.last_reminded_on) == (1, date(2026, 11, 13))


# --------------------------------------------------------------------------------------------------
# after_review: anonymise, archive_then_destroy


def _approve_both_stages(settings, cat, register) -> str:  # type: ignore[no-untyped-def]
    [item] = list_reviews(register.engine, CSC)
    decide(settings, cat, register, item.ref, by="Reviewer One", approve=True)
    decide(settings, cat, register, item.ref, by="Reviewer Two", approve=True)
    return item.ref


def test_after_review_anonymise_keeps_only_the_kept_fields(settings, database_url, monkeypatch, tmp_path):
    # Kept: the episode's type and dates; the relationship rows, which keep the anonymised family one
    # household (without them its members would be swept again as new households); and the
    # integer flags the plan cannot empty (no one's personal data).
    keep = (
        "[lcs_episode.episode_type, lcs_episode.start_date, lcs_episode.end_date, "
        "lcs_person.is_professional, lcs_relationship.relationship_type, "
        "lcs_relationship.has_parental_responsibility]"
    )
    cat = _variant(settings, tmp_path, f"    after_review: anonymise\n    anonymise_keep: {keep}\n")
    acts, engine, register = _stores(settings, database_url, monkeypatch, cat)
    _family(engine, 800, "CP")
    assert _sweep(acts, dry_run=False).awaiting_review == 1
    ref = _approve_both_stages(settings, cat, register)

    dry = _sweep(acts, dry_run=True, as_of=date(2026, 11, 3))
    real = _sweep(acts, dry_run=False, as_of=date(2026, 11, 3))
    assert dry.anonymised == real.anonymised == 1 and real.disposed == real.awaiting_review == 0
    with engine.connect() as c:
        people = [dict(r) for r in c.execute(select(csc.Person.__table__)).mappings()]
        episodes = c.execute(
            select(csc.Episode.episode_type, csc.Episode.start_date, csc.Episode.end_date)
        ).all()
        relationships = c.execute(select(csc.Relationship.relationship_type)).scalars().all()
    # The kept fields stay, and the person rows they hang on with every other field emptied.
    assert episodes == [("CP", date(1978, 1, 1), date(1980, 1, 1))]
    assert sorted(p["person_id"] for p in people) == [800, 801]
    for p in people:
        cleared = {k: v for k, v in p.items() if k not in ("person_id", "is_professional")}
        assert set(cleared.values()) <= {None, ""} and cleared["surname"] == ""
    assert relationships == ["r", "r"]
    with register.engine.connect() as c:
        disposal = c.execute(select(RetentionDisposal.__table__)).one()
        review = c.execute(select(RetentionReview.__table__)).one()
    assert (disposal.household_ref, disposal.rule_id, disposal.action) == (
        ref,
        "child_protection_case_file",
        "anonymise",
    )
    assert review.status == "disposed"
    # The next sweep finds it anonymised already: nothing to review or dispose of again.
    later = _sweep(acts, dry_run=False, as_of=date(2026, 11, 4))
    assert later.already_anonymised == 1 and later.anonymised == later.awaiting_review == 0
    assert list_reviews(register.engine, CSC) == []


def test_after_review_archive_then_destroy_archives_under_object_lock_then_deletes(
    settings, database_url, monkeypatch, tmp_path, s3_endpoint
):
    from rightsflow.s3 import object_lock_of, s3_client
    from tests.support import on_moto

    s = on_moto(settings, s3_endpoint, bucket=f"review-{uuid.uuid4().hex[:8]}", task_queue="unused")
    cat = _variant(s, tmp_path, "    after_review: archive_then_destroy\n    archive_until: {years: 75}\n")
    acts, engine, register = _stores(s, database_url, monkeypatch, cat)
    acts._s3 = None  # the real (moto) S3 client, created with the archive bucket
    _family(engine, 900, "CP")
    _sweep(acts, dry_run=False)
    ref = _approve_both_stages(s, cat, register)

    dry = _sweep(acts, dry_run=True, as_of=date(2026, 11, 3))
    assert dry.archived == 1 and _people(engine) == 2
    real = _sweep(acts, dry_run=False, as_of=date(2026, 11, 3))
    assert real.archived == 1 and real.awaiting_review == 0 and _people(engine) == 0
    with register.engine.connect() as c:
        disposal = c.execute(select(RetentionDisposal.__table__)).one()
        assert c.execute(select(RetentionReview.status)).scalar() == "disposed"
    assert (disposal.household_ref, disposal.action) == (ref, "archive_then_destroy")
    assert as_date(disposal.archive_until) == date(2055, 1, 1)  # closure 1 Jan 1980 + 75 years
    s3 = s3_client(s)
    lock = object_lock_of(s3, s.s3_bucket, disposal.archive_key)
    assert lock["mode"] == "COMPLIANCE" and lock["retain_until"].date() == date(2055, 1, 2)
    bag = zipfile.ZipFile(
        io.BytesIO(s3.get_object(Bucket=s.s3_bucket, Key=disposal.archive_key)["Body"].read())
    )
    names = bag.namelist()
    assert any(n.endswith("bagit.txt") for n in names)
    people = json.loads(bag.read(next(n for n in names if n.endswith("data/lcs_person.json"))))
    assert {p["surname"] for p in people} == {SURNAME}  # the archive holds the records themselves
