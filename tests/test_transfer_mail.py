"""A transfer the receiving authority never acknowledges: the sending DPO is emailed each reminder
and the escalation (the escalation also to the service's lead), once each, with references only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rightsflow.mailcatcher import MailCatcher
from tests.support import Authorities, codec_client, running_worker
from tests.test_transfer import _approve, _family, _start, _wait
from workflows.portability_transfer import PortabilityTransfer


@pytest.fixture
def catcher():  # type: ignore[no-untyped-def]
    with MailCatcher() as c:
        yield c


async def test_reminders_and_the_escalation_are_emailed_to_the_sending_dpo(
    two: Authorities, time_skipping_env: Any, catcher: MailCatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIGHTSFLOW_SMTP_URL", catcher.url)
    env = time_skipping_env
    sender_client = codec_client(env.client, two.sender)
    family_ref, people = _family(two.sender_url, 4)
    async with running_worker(sender_client, two.sender):
        tid, handle = await _start(sender_client, two, family_ref, to_task_queue="")
        await _approve(handle)
        await _wait(handle, "awaiting_acknowledgement")
        await env.sleep(timedelta(days=30))
        st = await handle.query(PortabilityTransfer.status)
        assert st.events == ["reminder_5", "reminder_1", "escalation"]
        await handle.terminate("test done")
    mail = catcher.messages
    subjects = [" ".join(str(m["Subject"]).split()) for m in mail]  # unfolded
    assert [s.split(":")[0] for s in subjects] == ["Reminder", "Reminder", "Overdue"]
    assert all(tid in s for s in subjects)
    assert [m["To"] for m in mail[:2]] == ["dpo@westminster.example.org"] * 2
    assert mail[2]["To"] == "dpo@westminster.example.org, bessborough.hub.lead@westminster.example.org"
    assert st.acknowledge_by in mail[2].get_content()
    assert f"rightsflow transfer-status {tid}" in mail[2].get_content()
    for m in mail:
        text = m.get_content() + str(m["Subject"])
        assert family_ref not in text
        for p in people:
            assert p["family_name"] not in text and p["given_name"] not in text
