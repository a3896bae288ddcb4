"""Disposition review: the sweep opens review items; approvals, extensions, moves and holds steer it."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts, run_batches
from rightsflow.catalog import RetentionRule, load_catalog
from rightsflow.db import engine_for_url
from rightsflow.register import AuditEntry, Register
from rightsflow.retention import RetentionDisposal, RetentionReview
from rightsflow.review import ReviewError, decide, list_reviews
from rightsflow.stores import SCHEMAS
from rightsflow.stores import children_social_care as csc

AS_OF = date(2026, 11, 1)
CSC = "lewisham_childrens_social_care"
SURNAME = "Zebedee-Quartermaine"


@pytest.fixture
def stores(settings, database_url, monkeypatch):  # type: ignore[no-untyped-def]
    cat = load_catalog(settings.catalog_dir)
    for svc in cat:
        monkeypatch.setenv(svc.store.url_env, database_url)
    engine = engine_for_url(database_url)
    for md in SCHEMAS.values():
        md.drop_all(engine)
        md.create_all(engine)
    register = Register(settings)
    register.create_schema()
    acts = RetentionActivities(settings, cat, register, s3=object())
    return acts, engine, register, cat


def _sweep(acts, dry_run: bool, as_of: date = AS_OF) -> SweepCounts:  # type: ignore[no-untyped-def]
    inp = SweepBatchesInput(
        f"{'dry' if dry_run else 'sweep'}-{as_of}", CSC, as_of.isoformat(), dry_run, batch_size=2
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
