"""Retention review reminders reach the records manager and the service lead by email, once a day,
with the item's reference and the command to decide it but no personal data."""

from __future__ import annotations

from datetime import date

import pytest
from temporalio.testing import ActivityEnvironment

from activities.retention import ReviewRemindersInput
from rightsflow.catalog import load_catalog
from rightsflow.mailcatcher import MailCatcher
from rightsflow.review import list_reviews
from tests.test_retention_review import CSC, SURNAME, _family, _stores, _sweep


@pytest.fixture
def catcher():  # type: ignore[no-untyped-def]
    with MailCatcher() as c:
        yield c


def test_a_review_reminder_is_emailed_to_the_records_manager_once_a_day(
    settings, database_url, monkeypatch, catcher
):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RIGHTSFLOW_SMTP_URL", catcher.url)
    cat = load_catalog(settings.catalog_dir)
    acts, engine, register = _stores(settings, database_url, monkeypatch, cat)
    _family(engine, 770, "CIN")
    _sweep(acts, dry_run=False)
    [item] = list_reviews(register.engine)
    env = ActivityEnvironment()
    day = ReviewRemindersInput(as_of="2027-02-01", services=None)
    first = env.run(acts.review_reminders, day)
    again = env.run(acts.review_reminders, day)  # the sweep runs twice that day
    assert (first.sent, again.sent) == (1, 0)
    [msg] = catcher.messages
    to = [a.strip() for a in msg["To"].split(",")]
    assert to == ["records.management@lewisham.example.org", "csc.lead@lewisham.example.org"]
    text = msg.get_content()
    assert item.ref[:16] in msg["Subject"] and cat[CSC].name in msg["Subject"]
    assert item.rule_id in text and item.due_on.isoformat() in text
    assert f"rightsflow review decide {item.ref[:16]} --service {CSC} --rule {item.rule_id}" in text
    assert SURNAME not in text and "Ada" not in text and "9434765919" not in text
    # the next reminder (five working days on) is a new message
    env.run(acts.review_reminders, ReviewRemindersInput(as_of=date(2027, 2, 8).isoformat()))
    assert len(catcher.messages) == 2
