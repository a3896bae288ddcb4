"""Retention rules per household on SQLite, PostgreSQL and MariaDB: boundaries, holds, links, disposal."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts
from rightsflow.catalog import RetentionPeriod, load_catalog
from rightsflow.db import engine_for_url
from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import Register
from rightsflow.retention import RetentionDisposal, add_period, due_on
from rightsflow.retention.batches import run_batches
from rightsflow.stores import SCHEMAS
from rightsflow.stores import children_social_care as csc
from rightsflow.stores import early_help as eh
from rightsflow.stores import family_hub as hub
from rightsflow.stores import thriving_families as tf

AS_OF = date(2026, 11, 1)
THREE = RetentionPeriod(years=3)


def test_the_boundary_last_contact_three_years_ago_today_is_kept_until_tomorrow():
    assert add_period(date(2023, 11, 1), THREE) == date(2026, 11, 1)  # last day kept
    assert due_on(date(2023, 11, 1), THREE) == date(2026, 11, 2)  # first day it may go
    # Leap day: 29 Feb + 3 years is 28 Feb (kept through it), due on 1 March.
    assert add_period(date(2024, 2, 29), THREE) == date(2027, 2, 28)
    assert due_on(date(2024, 2, 29), THREE) == date(2027, 3, 1)
    # ...and + 4 years lands on a leap day again.
    assert due_on(date(2020, 2, 29), RetentionPeriod(years=4)) == date(2024, 3, 1)
    assert add_period(date(2024, 1, 31), RetentionPeriod(years=1, months=1)) == date(2025, 2, 28)


@pytest.fixture
def stores(settings, database_url, monkeypatch):
    """Every service's store in one database (their tables differ), emptied for each test."""
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
    return acts, engine, register


def _sweep(acts, service, dry_run, as_of=AS_OF, batch_size=3):  # type: ignore[no-untyped-def]
    inp = SweepBatchesInput(
        sweep_id="sweep-test" if not dry_run else "dry",
        service=service,
        as_of=as_of.isoformat(),
        dry_run=dry_run,
        batch_size=batch_size,
    )
    cursor, counts = None, SweepCounts()
    while True:
        res = run_batches(acts, inp, cursor, counts)
        cursor = res.cursor
        if res.done:
            return counts


def _hub_household(
    s,
    ref: str,
    last_contact: date,
    *,
    flag: tuple[str, date | None] | None = None,
    restricted: bool = False,
    people: int = 2,
) -> list[str]:  # type: ignore[no-untyped-def]
    s.add(hub.Household(household_ref=ref, opened_on=date(2019, 1, 1), last_contact_on=last_contact))
    members = [f"{ref}-{n}" for n in range(people)]
    for n, m in enumerate(members):
        s.add(
            hub.HouseholdMember(
                member_ref=m,
                household_ref=ref,
                given_name="Test",
                family_name="Person",
                role="parent" if n == 0 else "child",
                restricted_on=date(2026, 1, 5) if restricted and n == 1 else None,
            )
        )
    s.flush()
    s.add(
        hub.HubSession(session_ref=f"{ref}-s1", household_ref=ref, session_on=date(2020, 5, 1), activity="x")
    )
    s.add(hub.HubSession(session_ref=f"{ref}-s2", household_ref=ref, session_on=last_contact, activity="x"))
    s.add(
        hub.PartnerShare(
            share_ref=f"{ref}-p",
            member_ref=members[0],
            partner="Family Lives",
            what="plan",
            shared_at=datetime(2021, 1, 1, 10),
        )
    )
    s.add(
        hub.ConsentRecord(
            consent_ref=f"{ref}-c", member_ref=members[0], scope="share", given_on=date(2020, 1, 1)
        )
    )
    if flag:
        s.add(
            hub.HouseholdFlag(
                flag_ref=f"{ref}-f",
                household_ref=ref,
                member_ref=members[1],
                kind=flag[0],
                raised_on=date(2021, 1, 1),
                cleared_on=flag[1],
            )
        )
    return members


def _count(engine, model, **where) -> int:  # type: ignore[no-untyped-def]
    q = select(func.count()).select_from(model)
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    with engine.connect() as c:
        return int(c.execute(q).scalar())


def test_family_hub_boundary_holds_restriction_and_open_request(stores, settings):
    acts, engine, register = stores
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        _hub_household(s, "H01", date(2023, 11, 1))  # three years ago today: kept
        _hub_household(s, "H02", date(2023, 10, 31))  # a day more: due
        _hub_household(s, "H03", date(2023, 1, 1), flag=("legal_hold", None))  # hold: kept
        _hub_household(s, "H04", date(2023, 1, 1), flag=("safeguarding", date(2022, 6, 1)))  # hold ended
        _hub_household(s, "H05", date(2023, 1, 1), restricted=True)
        request_member = _hub_household(s, "H06", date(2023, 1, 1))[1]
        _hub_household(s, "H07", date(2026, 1, 1))
    subject = register.register_subject(SubjectIdentifiers.parse(nhs_number="943 476 5919"))
    req = register.create_request("erasure", subject, received_on=AS_OF)
    register.record_matches(req.request_id, "westminster_family_hub", [(request_member, "exact_identifier")])

    before = {m: _count(engine, m) for m in (hub.Household, hub.HouseholdMember, hub.HubSession)}
    dry = _sweep(acts, "westminster_family_hub", dry_run=True)
    assert {m: _count(engine, m) for m in before} == before  # a dry run changes nothing
    expected = dict(
        households=7,
        disposed=2,
        retained_hold=1,
        retained_restricted=1,
        retained_open_request=1,
        retained_not_due=2,
    )
    assert {k: getattr(dry, k) for k in expected} == expected
    assert dry.by_rule["family_support_record"]["disposed"] == 2

    real = _sweep(acts, "westminster_family_hub", dry_run=False)
    assert {k: getattr(real, k) for k in expected} == expected
    gone, kept = ["H02", "H04"], ["H01", "H03", "H05", "H06", "H07"]
    for ref in gone:
        assert _count(engine, hub.Household, household_ref=ref) == 0
        assert _count(engine, hub.HubSession, household_ref=ref) == 0
        assert _count(engine, hub.HouseholdMember, household_ref=ref) == 0
        assert _count(engine, hub.HouseholdFlag, household_ref=ref) == 0
    for ref in kept:
        assert _count(engine, hub.HouseholdMember, household_ref=ref) == 2
        assert _count(engine, hub.HubSession, household_ref=ref) == 2
    assert _count(engine, hub.PartnerShare) == len(kept) and _count(engine, hub.ConsentRecord) == len(kept)
    with register.engine.connect() as c:
        rows = c.execute(select(RetentionDisposal.__table__)).mappings().all()  # type: ignore[attr-defined]
    assert len(rows) == 2 and {r["status"] for r in rows} == {"done"}
    assert all(len(r["household_ref"]) == 64 and r["household_key"] is None for r in rows)
    # The same sweep again disposes nothing twice.
    again = _sweep(acts, "westminster_family_hub", dry_run=False)
    assert again.disposed == 0 and again.households == 5


def test_a_person_in_two_early_help_cases_keeps_both(stores):
    acts, engine, _ = stores
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        for pid in (1, 2, 3, 4):
            s.add(eh.EhPerson(eh_person_id=pid, first_names="T", last_name="P"))
        for cid in (10, 20, 30):
            s.add(eh.EhCase(case_id=cid, opened_on=date(2019, 1, 1)))
        s.flush()
        # Person 2 is in the old case 10 and the recent case 20: one household, kept.
        for cid, pid in ((10, 1), (10, 2), (20, 2), (20, 3), (30, 4)):
            s.add(eh.EhCaseMember(case_id=cid, eh_person_id=pid, member_role="x"))
        s.flush()
        for n, (cid, on) in enumerate(
            ((10, date(2022, 1, 1)), (20, date(2026, 6, 1)), (30, date(2022, 1, 1)))
        ):
            s.add(eh.EhContact(contact_id=n + 1, case_id=cid, contact_on=on, contact_mode="visit"))
    counts = _sweep(acts, "lewisham_early_help", dry_run=False)
    assert (counts.households, counts.disposed, counts.retained_linked) == (2, 1, 1)
    assert _count(engine, eh.EhCase, case_id=10) == 1 and _count(engine, eh.EhCase, case_id=30) == 0
    assert _count(engine, eh.EhPerson) == 3 and _count(engine, eh.EhContact) == 2


def test_social_care_relationships_and_staff(stores):
    """A social worker linked to two families joins neither; the longest period in a family wins."""
    acts, engine, _ = stores
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        s.add(csc.Person(person_id=9000001, forename="Staff", surname="Member", is_professional=1))
        # Family A: parent 1, children 2 (born 1995) and 3 (born 2005), both with CIN episodes.
        # Family B: parent 4, child 5 (born 1990) with an NFA referral only: due long ago.
        for pid, dob in (
            (1, date(1970, 1, 1)),
            (2, date(1995, 1, 1)),
            (3, date(2005, 1, 1)),
            (4, date(1960, 1, 1)),
            (5, date(1990, 1, 1)),
        ):
            s.add(csc.Person(person_id=pid, forename="T", surname="P", date_of_birth=dob, is_professional=0))
        s.flush()
        rid = 0
        for a, b in ((1, 2), (1, 3), (4, 5), (2, 9000001), (5, 9000001)):
            for x, y in ((a, b), (b, a)):
                rid += 1
                s.add(
                    csc.Relationship(
                        relationship_id=rid, person_id=x, related_person_id=y, relationship_type="r"
                    )
                )
        for eid, pid in ((1, 2), (2, 3)):
            s.add(
                csc.Episode(
                    episode_id=eid,
                    person_id=pid,
                    episode_type="CIN",
                    start_date=date(2010, 1, 1),
                    end_date=date(2012, 1, 1),
                )
            )
        s.add(
            csc.Referral(
                referral_id=1,
                person_id=5,
                referral_date=date(2005, 1, 1),
                referral_source="school",
                mash_outcome="No further action",
            )
        )
        s.add(
            csc.Visit(
                visit_id=1,
                person_id=5,
                visit_date=date(2005, 1, 2),
                visit_type="visit",
                worker_person_id=9000001,
            )
        )
    dry = _sweep(acts, "lewisham_childrens_social_care", dry_run=True, batch_size=2)
    # A: child 2's CIN file ran out (2020) but child 3's runs to 2030: kept as linked.
    assert dry.households == 2
    assert dry.retained_linked == 1 and dry.disposed == 1
    real = _sweep(acts, "lewisham_childrens_social_care", dry_run=False, batch_size=2)
    assert real.disposed == 1
    assert _count(engine, csc.Person, person_id=9000001) == 1  # staff are never disposed
    assert _count(engine, csc.Person) == 4 and _count(engine, csc.Visit) == 0
    assert _count(engine, csc.Relationship) == 6  # family A's four rows and the worker's link to child 2


def test_anonymise_keeps_only_the_statistical_fields(stores):
    acts, engine, _ = stores
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        s.add(
            tf.FamilyGroup(
                family_group_id=1,
                address="1 Test Street",
                postcode="M1 1AA",
                attached_on=date(2020, 1, 1),
                outcome_claimed_on=date(2021, 1, 1),
            )
        )
        s.flush()
        s.add(
            tf.Client(
                client_id=11,
                family_group_id=1,
                forename="Test",
                surname="Person",
                nhs_number="9434765919",
                date_of_birth=date(1990, 1, 1),
                gender="Female",
                main_language="English",
                ethnicity="White: Irish",
                mobile="07700900123",
                gp_practice="Surgery",
            )
        )
        s.flush()
        s.add(
            tf.Intervention(
                intervention_id=1,
                family_group_id=1,
                delivered_on=date(2022, 3, 1),
                intervention_type="x",
                notes="notes",
            )
        )
        s.add(
            tf.DataShare(
                data_share_id=1, client_id=11, recipient_org="x", data_items="y", shared_on=date(2021, 1, 1)
            )
        )
    counts = _sweep(acts, "manchester_thriving_families", dry_run=False)
    assert counts.anonymised == 1
    with engine.connect() as c:
        client = c.execute(select(tf.Client)).mappings().one()
        group = c.execute(select(tf.FamilyGroup)).mappings().one()
    assert (client["gender"], client["main_language"], client["ethnicity"]) == (
        "Female",
        "English",
        "White: Irish",
    )
    assert client["forename"] == "" and client["surname"] == ""
    assert client["nhs_number"] is None and client["date_of_birth"] is None and client["mobile"] is None
    assert group["address"] is None and group["postcode"] is None and group["attached_on"] == date(2020, 1, 1)
    assert _count(engine, tf.Intervention) == 0 and _count(engine, tf.DataShare) == 0
    again = _sweep(acts, "manchester_thriving_families", dry_run=False)
    assert again.anonymised == 0 and again.already_anonymised == 1


def test_a_hold_placed_while_a_batch_is_being_decided_keeps_the_household(stores, monkeypatch):
    """The race a live store has: a caseworker raises a hold after the sweep read the batch's
    holds but before it deleted. The hold must win on every backend, not be deleted with the rows."""
    from sqlalchemy.orm import Session

    import rightsflow.retention.batches as sweep_module

    acts, engine, _ = stores
    with Session(engine) as s, s.begin():
        held = _hub_household(s, "H10", date(2022, 1, 1))
        _hub_household(s, "H11", date(2022, 1, 1))
    real_evaluate = sweep_module.evaluate

    def evaluate_then_a_hold_arrives(*args, **kwargs):  # type: ignore[no-untyped-def]
        decisions = real_evaluate(*args, **kwargs)
        assert all(d.dispose for d in decisions)  # both were due when read
        with engine.begin() as other:  # another connection: the caseworker's
            other.execute(
                hub.HouseholdFlag.__table__.insert().values(
                    flag_ref="H10-late",
                    household_ref="H10",
                    member_ref=held[0],
                    kind="legal_hold",
                    raised_on=AS_OF,
                )
            )
        return decisions

    monkeypatch.setattr(sweep_module, "evaluate", evaluate_then_a_hold_arrives)
    counts = _sweep(acts, "westminster_family_hub", dry_run=False, batch_size=10)
    assert counts.disposed == 1 and counts.retained_hold == 1
    assert _count(engine, hub.HouseholdMember, household_ref="H10") == 2
    assert _count(engine, hub.HouseholdFlag, flag_ref="H10-late") == 1
    assert _count(engine, hub.Household, household_ref="H11") == 0
