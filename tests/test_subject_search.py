"""SubjectSearch end to end on real Temporal servers, with seeded stores and the codec."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from rightsflow.cli import app
from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import Register
from rightsflow.seed import shared_child_example
from tests.support import (
    AS_OF,
    assert_absent,
    codec_client,
    raw_history,
    running_worker,
    seed_demo,
    store_urls,
)
from workflows.subject_search import SubjectSearch, SubjectSearchInput


@pytest.fixture
def seeded(settings):
    urls = store_urls(settings)
    seed_demo(urls)
    return settings, urls


def _child(urls) -> SubjectIdentifiers:  # type: ignore[no-untyped-def]
    example = shared_child_example(urls)
    return SubjectIdentifiers.parse(nhs_number=example.nhs_number)


async def _search(client: Client, settings, ids: SubjectIdentifiers):  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(settings, task_queue=f"test-{uuid.uuid4().hex[:8]}")
    register = Register(settings)
    register.create_schema()
    ref = register.register_subject(ids)
    req = register.create_request("subject_search", ref, received_on=AS_OF)
    client = codec_client(client, settings)
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            SubjectSearch.run,
            SubjectSearchInput(request_id=req.request_id, subject_ref=ref),
            id=f"subject-search-{req.request_id}",
            task_queue=settings.task_queue,
        )
        result = await handle.result()
    return result, handle, register, req.request_id


async def test_a_child_known_to_two_services_is_found_in_both(seeded, time_skipping_env):
    settings, urls = seeded
    example = shared_child_example(urls)
    result, _, register, request_id = await _search(
        time_skipping_env.client, settings, SubjectIdentifiers.parse(nhs_number=example.nhs_number)
    )
    assert len(result.services) == len(urls)  # every catalogued service is searched
    assert sorted(result.exact_services) == sorted(example.services)
    assert len(result.exact_services) >= 2
    # every service searched is in the audit log, with counts and no identifiers
    trail = register.audit_trail(request_id)
    assert sorted(e.service for e in trail if e.action == "subject.discovered") == sorted(urls)


async def test_name_and_date_of_birth_give_candidates_to_confirm(seeded, time_skipping_env):
    settings, urls = seeded
    example = shared_child_example(urls)
    ids = SubjectIdentifiers.parse(
        name=f"{example.given_name} {example.family_name}", dob=example.date_of_birth.isoformat()
    )
    result, _, _, _ = await _search(time_skipping_env.client, settings, ids)
    found = {s.service: s.matches for s in result.services if s.matches}
    assert set(example.services) <= set(found)
    assert all(m.strength == "name_dob_candidate" for ms in found.values() for m in ms)


async def test_history_on_the_dev_server_holds_no_personal_data_in_plain_text(seeded, dev_server_env):
    settings, urls = seeded
    example = shared_child_example(urls)
    ids = SubjectIdentifiers.parse(nhs_number=example.nhs_number)
    result, handle, _, _ = await _search(dev_server_env.client, settings, ids)
    assert len(result.exact_services) >= 2
    # Read the history back with a client that has no codec: what the server stores.
    raw = await raw_history(dev_server_env.client, handle.id)
    assert_absent(
        raw,
        (
            example.nhs_number,
            example.nhs_number[:3] + " " + example.nhs_number[3:6],
            example.family_name,
            example.given_name,
        ),
    )
    assert b"binary/encrypted" in raw or b"YmluYXJ5L2VuY3J5cHRlZA" in raw  # payloads were encrypted


def test_bad_input_is_refused_with_a_clear_message_and_nothing_recorded(settings):
    runner = CliRunner()
    bad = runner.invoke(app, ["search", "--nhs-number", "943 476 5918"])
    assert bad.exit_code == 2
    assert "not a valid NHS number" in bad.output
    assert "5918" not in bad.output
    missing = runner.invoke(app, ["search", "--name", "Amelia Okafor"])
    assert missing.exit_code == 2
    assert "date of birth" in missing.output
    assert not (settings.home / "register.db").exists()
