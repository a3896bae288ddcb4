"""``rightsflow review list|decide`` through the command line, on a register the sweep has filled."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts
from rightsflow.catalog import Catalog, load_catalog
from rightsflow.cli.review import review_app
from rightsflow.config import Settings
from rightsflow.db import engine_for_url
from rightsflow.register import Register
from rightsflow.retention import RetentionReview
from rightsflow.retention.batches import run_batches
from rightsflow.review import list_reviews, send_reminders
from rightsflow.stores import SCHEMAS
from rightsflow.stores import children_social_care as csc
from tests.support import CSC, store_urls

AS_OF = date(2026, 11, 1)
SURNAME = "Quillfeather-Ambrose"
NHS = "9434765919"


def _family(engine, pid: int, episode: str) -> None:  # type: ignore[no-untyped-def]
    """A parent and a child whose episode (closed 1980, child born 1975) is due under a review rule."""
    with Session(engine) as s, s.begin():
        for p, dob in ((pid, date(1950, 1, 1)), (pid + 1, date(1975, 1, 1))):
            s.add(csc.Person(person_id=p, forename="Ada", surname=SURNAME, date_of_birth=dob, nhs_number=NHS))
        s.flush()
        s.add(
            csc.Relationship(
                relationship_id=pid, person_id=pid, related_person_id=pid + 1, relationship_type="r"
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


def _sweep(acts: RetentionActivities, as_of: date = AS_OF) -> SweepCounts:
    inp = SweepBatchesInput(
        sweep_id=f"sweep-{as_of}", service=CSC, as_of=as_of.isoformat(), dry_run=False, batch_size=50
    )
    cursor, counts = None, SweepCounts()
    while True:
        res = run_batches(acts, inp, cursor, counts)
        cursor = res.cursor
        if res.done:
            return counts


@pytest.fixture
def reviewing(settings: Settings) -> tuple[RetentionActivities, Register, Catalog]:
    """The social-care store (at the settings' own URL, which the commands use) with a child
    protection family (two review stages) and a child in need family (one), swept once."""
    cat = load_catalog(settings.catalog_dir)
    engine = engine_for_url(store_urls(settings, [CSC])[CSC])
    SCHEMAS[CSC].create_all(engine)
    _family(engine, 100, "CP")
    _family(engine, 200, "CIN")
    register = Register(settings)
    register.create_schema()
    acts = RetentionActivities(settings, cat, register, s3=object())
    assert _sweep(acts).awaiting_review == 2
    return acts, register, cat


def _item(register: Register, rule: str):  # type: ignore[no-untyped-def]
    return next(i for i in list_reviews(register.engine, CSC, everything=True) if i.rule_id == rule)


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(review_app, list(args))


def test_list_shows_items_in_text_and_json_without_personal_data(settings, reviewing):
    _, register, cat = reviewing
    assert _run("list", "--service", "no_such_service").exit_code == 2
    cp = _item(register, "child_protection_case_file")
    send_reminders(cat, register, date(2026, 11, 13))  # both items: ten working days open

    out = _run("list")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert len(lines) == 2
    [line] = [x for x in lines if x.startswith(cp.ref[:16])]
    for part in ("child_protection_case_file", "stage 1/2", "due 2015-01-02", "open"):
        assert part in line
    assert "waiting since 2026-11-01" in line and "reminded 1x, last 2026-11-13" in line

    doc = json.loads(_run("list", "--json").output)
    # by due date: the child in need file at the 25th birthday (2000), child protection in 2015
    assert [(d["rule_id"], d["stage"], d["stages"], d["status"]) for d in doc] == [
        ("child_in_need_case_file", 1, 1, "open"),
        ("child_protection_case_file", 1, 2, "open"),
    ]
    mine = next(d for d in doc if d["ref"] == cp.ref)
    assert (mine["due_on"], mine["waiting_since"], mine["reminders_sent"], mine["last_reminded_on"]) == (
        "2015-01-02",
        "2026-11-01",
        1,
        "2026-11-13",
    )
    for text in (out.output, json.dumps(doc)):
        assert SURNAME not in text and NHS not in text and "Ada" not in text

    # Decided items are listed only with --all.
    assert _run("decide", cp.ref[:12], "--hold", "legal_hold", "--reason", "Claim").exit_code == 0
    assert [d["rule_id"] for d in json.loads(_run("list", "--json").output)] == ["child_in_need_case_file"]
    everything = json.loads(_run("list", "--all", "--json").output)
    assert {d["rule_id"]: d["status"] for d in everything}["child_protection_case_file"] == "held"


def test_list_says_when_there_is_nothing(settings):
    Register(settings).create_schema()
    out = _run("list")
    assert out.exit_code == 0 and out.output.strip() == "No review items."
    assert json.loads(_run("list", "--json").output) == []


def test_decide_approves_stage_by_stage(settings, reviewing):
    _, register, _ = reviewing
    ref = _item(register, "child_protection_case_file").ref[:12]
    out = _run("decide", ref, "--approve", "--by", "Reviewer One")
    assert out.exit_code == 0, out.output
    assert "child_protection_case_file: open, stage 2/2" in out.output
    again = _run("decide", ref, "--approve", "--by", "Reviewer One")
    assert again.exit_code == 0 and "already recorded: nothing changed" in again.output
    final = _run("decide", ref, "--approve", "--by", "Reviewer Two")
    assert final.exit_code == 0 and "approved" in final.output
    assert _item(register, "child_protection_case_file").status == "approved"
    done = _run("decide", ref, "--approve", "--by", "Reviewer Three")
    assert "nothing changed" in done.output


def test_decide_extend_to_needs_a_real_future_date(settings, reviewing):
    _, register, _ = reviewing
    ref = _item(register, "child_in_need_case_file").ref[:12]
    for bad in ("2027-02-30", "next year"):
        out = _run("decide", ref, "--extend-to", bad)
        assert out.exit_code == 2 and "--extend-to must be a date (YYYY-MM-DD)" in out.output
    past = _run("decide", ref, "--extend-to", "2020-01-01")
    assert past.exit_code == 2 and "--extend-to must be a date after today" in past.output
    assert _item(register, "child_in_need_case_file").status == "open"  # nothing recorded
    until = (date.today() + timedelta(days=400)).isoformat()
    ok = _run("decide", ref, "--extend-to", until)
    assert ok.exit_code == 0 and "extended" in ok.output
    assert _item(register, "child_in_need_case_file").extended_to == date.fromisoformat(until)


def test_decide_names_unknown_short_and_ambiguous_references(settings, reviewing):
    acts, register, _ = reviewing
    unknown = _run("decide", "deadbeefdeadbeef", "--approve")
    assert unknown.exit_code == 2 and "no review item deadbeefdeadbeef" in unknown.output
    short = _run("decide", "abc", "--approve")
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    neither = _run("decide", "deadbeefdeadbeef")
    assert neither.exit_code == 2 and "exactly one of" in neither.output

    # Moved to the other review rule, the household has an item under each rule: ambiguous.
    ref = _item(register, "child_in_need_case_file").ref
    assert _run("decide", ref[:12], "--move-to", "child_protection_case_file").exit_code == 0
    assert _sweep(acts, date(2026, 11, 2)).awaiting_review == 2
    both = _run("decide", ref[:12], "--approve")
    assert both.exit_code == 2 and "matches 2 review items: give --service and --rule" in both.output
    chosen = _run("decide", ref[:12], "--approve", "--service", CSC, "--rule", "child_protection_case_file")
    assert chosen.exit_code == 0 and "stage 2/2" in chosen.output


def test_decide_hold_requires_a_reason_and_writes_the_flag(settings, reviewing):
    _, register, _ = reviewing
    ref = _item(register, "child_in_need_case_file").ref[:12]
    out = _run("decide", ref, "--hold", "legal_hold")
    assert out.exit_code == 2 and "--reason is required with --hold" in out.output
    bad = _run("decide", ref, "--hold", "whim", "--reason", "x")
    assert bad.exit_code == 2 and "--hold must be one of" in bad.output
    ok = _run("decide", ref, "--hold", "legal_hold", "--reason", "Claim pending")
    assert ok.exit_code == 0 and "held" in ok.output
    engine = engine_for_url(store_urls(settings, [CSC])[CSC])
    with engine.connect() as c:
        assert c.execute(select(csc.Alert.alert_code)).scalars().all() == ["LEGAL_HOLD"]
    with register.engine.connect() as c:
        row = c.execute(select(RetentionReview.__table__).where(RetentionReview.status == "held")).one()
    assert (row.hold_kind, row.reason) == ("legal_hold", "Claim pending")
