"""The request service the CLI and the console share: filing, decisions under the actor, views."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

import pytest

from rightsflow.register import Register
from rightsflow.request_service import Refused, RequestService
from rightsflow.seed import shared_child_example
from tests.support import codec_client, running_worker, seed_demo, store_urls


@pytest.fixture
def seeded(settings):
    seed_demo(store_urls(settings))
    return dataclasses.replace(settings, task_queue=f"svc-{uuid.uuid4().hex[:8]}")


async def test_search_files_runs_and_closes_the_search_under_the_actor(seeded, time_skipping_env):
    settings = seeded
    child = shared_child_example(store_urls(settings))
    client = codec_client(time_skipping_env.client, settings)
    service = RequestService(settings, client=client)
    async with running_worker(client, settings):
        found = await service.search(actor="cli:amelia", subject={"nhs_number": child.nhs_number})
    found_in = {s["service"] for s in found.services if s["matches"]}
    assert set(child.services) <= found_in  # the child is found where they are known
    register = Register(settings)
    req = register.get_request(found.request_id)
    assert req.status == "closed" and req.stage == "searched"
    filed = [e for e in register.audit_trail(found.request_id) if e.action == "subject_search.filed"]
    assert filed and filed[0].actor == "cli:amelia"
    assert child.nhs_number not in found.request_id + found.subject_ref


async def test_a_sar_filed_through_the_service_is_listed_with_its_deadline(seeded, time_skipping_env):
    settings = seeded
    child = shared_child_example(store_urls(settings))
    client = codec_client(time_skipping_env.client, settings)
    service = RequestService(settings, client=client)
    today = date.today()
    async with running_worker(client, settings):
        filed = await service.file_sar(
            actor="console:dpo", subject={"nhs_number": child.nhs_number}, received_on=today
        )
        view = await service.verify(filed.request_id, actor="console:dpo", identity_received=today)
        assert view.clock_started
        listed = await service.list_requests(actor="console:dpo")
        mine = [r for r in listed if r["request_id"] == filed.request_id]
        assert mine and mine[0]["type"] == "subject_access"
        with pytest.raises(Refused, match="clock|review|stage|approv"):
            await service.approve(filed.request_id, actor="console:dpo")  # nothing gathered to approve yet
        st = await service.status(filed.request_id, actor="console:dpo")
        assert st["request_id"] == filed.request_id and st["live"] is True
    trail = Register(settings).audit_trail(filed.request_id)
    assert any(e.actor == "console:dpo" for e in trail)


async def test_refused_filings_write_nothing(settings):
    service = RequestService(settings)
    for kwargs in (
        {"received_on": "2026-W47-5"},
        {"received_on": "1999-12-31"},
        {"received_on": date.today().isoformat(), "services": ["atlantis"]},
    ):
        with pytest.raises(Refused):
            await service.file_erasure(actor="cli:t", subject={"nhs_number": "943 476 5919"}, **kwargs)
    assert not (settings.home / "register.db").exists()
