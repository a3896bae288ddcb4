"""Mail: staff reminders reach the people the controller file names, once; the laptop's mail
catcher keeps every message in files only its owner can read, and `rightsflow up` starts it."""

from __future__ import annotations

import smtplib
import stat
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest

from rightsflow.catalog import load_catalog
from rightsflow.letters import Letters
from rightsflow.mail import Mailer, SmtpConfig
from rightsflow.mailcatcher import MailCatcher
from rightsflow.register import Register
from tests.support import free_port


@pytest.fixture
def catcher():  # type: ignore[no-untyped-def]
    with MailCatcher() as c:
        yield c


def test_reminders_go_to_the_dpo_and_escalations_to_the_service_lead_once(settings, catcher):
    Register(settings).create_schema()
    cat = load_catalog(settings.catalog_dir)
    mailer = Mailer(
        Letters(settings, cat, Register(settings)),
        SmtpConfig(host=catcher.host, port=catcher.port, implicit_tls=False),
    )
    to = mailer.notify_staff(
        "rq_x:reminder_3:2026-12-21", "lewisham", ["dpo"], "Reminder: request rq_x is due", "Due soon."
    )
    assert to == ["dpo@lewisham.example.org"]
    again = mailer.notify_staff(
        "rq_x:reminder_3:2026-12-21", "lewisham", ["dpo"], "Reminder: request rq_x is due", "Due soon."
    )
    assert again == to and len(catcher.messages) == 1  # the same reminder is not sent twice
    mailer.notify_staff(
        "rq_x:escalation:2026-12-21",
        "lewisham",
        ["dpo", "service_lead"],
        "Overdue: request rq_x",
        "Overdue.",
        service="lewisham_early_help",
    )
    overdue = catcher.messages[-1]
    assert overdue["To"] == "dpo@lewisham.example.org, early.help.lead@lewisham.example.org"
    assert mailer.staff_addresses("lewisham", ["records_manager"]) == [
        "records.management@lewisham.example.org"
    ]


def test_the_mail_catcher_process_keeps_each_message_readable_by_its_owner_only(tmp_path):
    port = free_port()
    folder = tmp_path / "mail"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rightsflow.mailcatcher", "--port", str(port), "--folder", str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"smtp://127.0.0.1:{port}" in (proc.stdout.readline() if proc.stdout else "")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "dpo@council.example", "parent@example.com", "Letter"
        msg.set_content("Dear parent")
        for _ in range(50):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                    smtp.send_message(msg)
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        [eml] = list(folder.glob("*.eml"))
        assert b"Dear parent" in eml.read_bytes()
        assert stat.S_IMODE(eml.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        proc.terminate()
        proc.wait(10)


def test_up_starts_the_mail_catcher_before_the_worker_and_points_the_worker_at_it(tmp_path, settings):
    from rightsflow.embedded.extras import ExtraContext, registered_processes

    [mail] = [p for p in registered_processes() if p.name == "mail"]
    assert mail.before_worker
    ctx = ExtraContext(settings=settings, home=tmp_path, port=8025, env={}, addresses={})
    assert mail.exports is not None and mail.exports(ctx) == {"RIGHTSFLOW_SMTP_URL": "smtp://127.0.0.1:8025"}
    assert str(tmp_path / "mail") in mail.address_of(ctx)
    relay = ExtraContext(
        settings=settings,
        home=tmp_path,
        port=8025,
        env={"RIGHTSFLOW_SMTP_URL": "smtps://relay.example"},
        addresses={},
    )
    assert mail.enabled is not None and not mail.enabled(relay)  # a configured relay is used instead
