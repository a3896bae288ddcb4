"""Letters: addressed from the request's council to the requester, naming the subject, stored as
PDF and HTML under Object Lock, sent by email through a real SMTP server, or printed for post."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
import typer
from pypdf import PdfReader
from typer.testing import CliRunner

from rightsflow.catalog import load_catalog
from rightsflow.cli.letters import letters as letters_command
from rightsflow.identity import SubjectIdentifiers
from rightsflow.letters import Letters
from rightsflow.mail import Mailer, SmtpConfig, smtp_config
from rightsflow.mailcatcher import MailCatcher
from rightsflow.register import Register
from rightsflow.s3 import object_lock_of
from tests.support import S3_ENV, export_env, free_port, on_moto

PARENT = {
    "kind": "parent",
    "name": "Grace Okafor",
    "email": "grace.okafor@example.com",
    "address": ["14 Brownhill Road", "London", "SE6 2AB"],
}


@pytest.fixture
def ls(settings, s3_endpoint, monkeypatch):  # type: ignore[no-untyped-def]
    import uuid

    s = on_moto(settings, s3_endpoint, bucket=f"letters-{uuid.uuid4().hex[:8]}", task_queue="unused")
    export_env(monkeypatch, s, S3_ENV)
    monkeypatch.delenv("RIGHTSFLOW_SMTP_URL", raising=False)
    Register(s).create_schema()
    return s


@pytest.fixture
def catcher():  # type: ignore[no-untyped-def]
    with MailCatcher() as c:
        yield c


def _request(s, requester=PARENT, controller="lewisham"):  # type: ignore[no-untyped-def]
    reg = Register(s)
    ref = reg.register_subject(
        SubjectIdentifiers(
            nhs_number="9434765919",
            given_name="Amelia",
            family_name="Okafor",
            date_of_birth=date(2015, 3, 14),
        )
    )
    req = reg.create_request(
        "subject_access",
        ref,
        received_on=date(2026, 11, 21),
        requester=requester["kind"] if requester else "self",
        controller=controller,
        requester_details=requester,
    )
    reg.update_request(req.request_id, clock_start=date(2026, 11, 21), deadline=date(2026, 12, 21))
    return reg, req.request_id


def _text(pdf: bytes) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages)


def test_acknowledgement_is_addressed_to_the_parent_names_the_child_the_deadline_and_the_dpo(ls, catcher):
    reg, rid = _request(ls)
    letters = Letters(ls, load_catalog(ls.catalog_dir), reg)
    mailer = Mailer(letters, SmtpConfig(host=catcher.host, port=catcher.port, implicit_tls=False))
    letter = letters.issue(rid, "acknowledgement")
    assert mailer.deliver(letter.letter_id).status == "sent"

    text = _text(letters.read(letter.pdf_key))
    for expected in (
        "Grace Okafor",
        "14 Brownhill Road",
        "Amelia Okafor",
        "21 December 2026",
        "London Borough of Lewisham",
        "dpo@lewisham.example.org",
        "020 7946 0101",
    ):
        assert expected in text, expected
    assert "Westminster" not in text and "Manchester" not in text
    # locked in S3, PDF and HTML, at keys that carry no personal data
    for key in (letter.pdf_key, letter.html_key):
        assert object_lock_of(letters.client, ls.s3_bucket, key)["mode"] == "COMPLIANCE"
        assert "Okafor" not in key and "9434765919" not in key
    [msg] = catcher.messages
    assert msg["To"] == "Grace Okafor <grace.okafor@example.com>"
    assert "dpo@lewisham.example.org" in msg["From"]
    assert rid in msg["Subject"] and "Okafor" not in msg["Subject"]
    [pdf] = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_content() == letters.read(letter.pdf_key)


def test_a_letter_issued_and_sent_twice_is_one_letter_and_one_email(ls, catcher):
    reg, rid = _request(ls)
    letters = Letters(ls, load_catalog(ls.catalog_dir), reg)
    mailer = Mailer(letters, SmtpConfig(host=catcher.host, port=catcher.port, implicit_tls=False))
    first = letters.issue(rid, "acknowledgement")
    again = letters.issue(rid, "acknowledgement")
    assert first.letter_id == again.letter_id
    mailer.deliver(first.letter_id)
    mailer.deliver(first.letter_id)
    assert len(catcher.messages) == 1
    [view] = letters.letters_of(rid)
    assert [d["status"] for d in view.deliveries] == ["sent"]
    assert view.deliveries[0]["message_id"] == catcher.messages[0]["Message-ID"]


def test_a_mail_failure_is_recorded_raised_for_a_retry_and_the_letter_is_kept(ls, catcher):
    reg, rid = _request(ls)
    letters = Letters(ls, load_catalog(ls.catalog_dir), reg)
    letter = letters.issue(
        rid,
        "extension",
        {
            "clock_start": "2026-11-21",
            "deadline": "2026-12-21",
            "extended_deadline": "2027-02-21",
            "reasons": "Three services.",
        },
    )
    down = Mailer(letters, SmtpConfig(host="127.0.0.1", port=free_port(), implicit_tls=False))
    with pytest.raises(OSError):
        down.deliver(letter.letter_id)
    assert letters.read(letter.pdf_key)[:4] == b"%PDF"  # stored before sending: nothing lost
    up = Mailer(letters, SmtpConfig(host=catcher.host, port=catcher.port, implicit_tls=False))
    assert up.deliver(letter.letter_id).status == "sent"
    [view] = letters.letters_of(rid)
    assert [d["status"] for d in view.deliveries] == ["failed", "sent"]
    assert "21 February 2027" in _text(letters.read(letter.pdf_key))


def test_requesters_without_email_are_in_one_print_batch_pdf(ls):
    cat = load_catalog(ls.catalog_dir)
    by_post = {
        "kind": "solicitor",
        "name": "Patel & Co Solicitors",
        "address": ["1 High Street", "London", "SE13 5AB"],
    }
    reg, one = _request(ls, by_post)
    _, two = _request(ls, {**by_post, "name": "Hughes Legal"})
    letters = Letters(ls, cat, reg)
    mailer = Mailer(letters, config=None)
    for rid in (one, two):
        letter = letters.issue(rid, "acknowledgement")
        assert letter.channel == "post"
        assert mailer.deliver(letter.letter_id).status == "queued"
    key, count = mailer.print_batch(date.today())
    assert count == 2 and key
    text = _text(letters.read(key))
    assert "Patel & Co Solicitors" in text and "Hughes Legal" in text
    assert mailer.print_batch(date.today()) == (None, 0)  # each letter is printed once
    [view] = letters.letters_of(one)
    assert [d["status"] for d in view.deliveries] == ["queued", "printed"]
    assert view.deliveries[-1]["batch_key"] == key


def test_letters_command_lists_kind_date_keys_link_and_delivery(ls, catcher, monkeypatch):
    reg, rid = _request(ls)
    monkeypatch.setenv("RIGHTSFLOW_SMTP_URL", catcher.url)
    letters = Letters(ls, load_catalog(ls.catalog_dir), reg)
    Mailer(letters).deliver(letters.issue(rid, "acknowledgement").letter_id)
    app = typer.Typer()
    app.command()(letters_command)
    result = CliRunner().invoke(app, [rid, "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["kind"] == "acknowledgement" and row["title"] == "Acknowledgement of your request"
    assert row["pdf_key"].endswith(".pdf") and row["html_key"].endswith(".html")
    assert row["pdf_link"].startswith("http") and row["created_at"][:4] == str(date.today().year)
    assert row["deliveries"][0]["channel"] == "email" and row["deliveries"][0]["message_id"]
    assert "Okafor" not in result.output  # names stay in the PDF behind the link


def test_smtp_url_forms():
    assert smtp_config({}) is None
    c = smtp_config({"RIGHTSFLOW_SMTP_URL": "smtp://relay.council.example:587"})
    assert (c.host, c.port, c.implicit_tls, c.user) == ("relay.council.example", 587, False, None)
    c = smtp_config({"RIGHTSFLOW_SMTP_URL": "smtps://mailer%40council:p%40ss@relay.example"})
    assert (c.port, c.implicit_tls, c.user, c.password) == (465, True, "mailer@council", "p@ss")
    c = smtp_config(
        {
            "RIGHTSFLOW_SMTP_URL": "smtp://relay:25",
            "RIGHTSFLOW_SMTP_USER": "u",
            "RIGHTSFLOW_SMTP_PASSWORD": "pw",
        }
    )
    assert (c.user, c.password) == ("u", "pw") and "pw" not in c.where()
    with pytest.raises(ValueError, match="smtp:// or smtps://"):
        smtp_config({"RIGHTSFLOW_SMTP_URL": "http://relay"})


def test_print_batch_command_prints_the_batch_key_and_a_link(ls):
    from rightsflow.cli import app

    by_post = {
        "kind": "solicitor",
        "name": "Patel & Co Solicitors",
        "address": ["1 High Street", "London SE13"],
    }
    reg, rid = _request(ls, by_post)
    letters = Letters(ls, load_catalog(ls.catalog_dir), reg)
    Mailer(letters, config=None).deliver(letters.issue(rid, "acknowledgement").letter_id)
    runner = CliRunner()
    result = runner.invoke(app, ["print-batch"])
    assert result.exit_code == 0, result.output
    assert "1 letter(s) in one PDF" in result.output and "print-batches/" in result.output
    assert "Patel" not in result.output
    assert "No postal letters to print" in runner.invoke(app, ["print-batch"]).output
    assert runner.invoke(app, ["print-batch", "--date", "yesterday"]).exit_code == 2


@pytest.mark.parametrize(
    ("request_type", "asked", "expected"),
    [
        (
            "erasure",
            {"ground": "consent-withdrawn"},
            "because you have withdrawn your consent (UK GDPR Article 17)",
        ),
        ("rectification", {"field": "date of birth"}, "correct the date of birth we hold"),
        ("restriction", {"reason": "accuracy"}, "while the accuracy of the records is checked"),
        ("objection", {}, "(UK GDPR Article 21)"),
        ("consent_withdrawal", {}, "(UK GDPR Article 7(3))"),
        ("portability", {}, "(UK GDPR Article 20)"),
    ],
)
def test_each_rights_request_is_acknowledged_with_what_was_asked_the_deadline_and_the_dpo(
    ls, request_type, asked, expected
):
    reg = Register(ls)
    ref = reg.register_subject(
        SubjectIdentifiers(nhs_number="9434765919", given_name="Amelia", family_name="Okafor")
    )
    req = reg.create_request(
        request_type, ref, received_on=date(2026, 11, 2), controller="lewisham", requester_details=PARENT
    )
    letters = Letters(ls, load_catalog(ls.catalog_dir), reg)
    facts = {"deadline": "2026-12-02", "services": ["lewisham_family_thrive"], "asked": asked}
    letter = letters.issue(req.request_id, "acknowledgement", facts)
    text = _text(letters.read(letter.pdf_key))
    for needle in (
        expected,
        "2 November 2026",  # received
        "2 December 2026",  # the statutory deadline
        "Family Thrive",  # the council's services it searches, by name
        "dpo@lewisham.example.org",  # the DPO's contact
        "020 7946 0101",
    ):
        assert needle in text, needle
    assert "lewisham_family_thrive" not in text and "consent-withdrawn" not in text
