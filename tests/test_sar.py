"""SubjectAccessRequest end to end on real Temporal servers, seeded stores and an S3 server (moto)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.request
import zipfile
from datetime import date, timedelta

import pytest
import typer
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from rightsflow.catalog import load_catalog
from rightsflow.clock import LONDON
from rightsflow.config import Settings
from rightsflow.db import engine_for_url
from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import Register
from rightsflow.seed import PERSON_TABLES, shared_child_example
from rightsflow.stores import SCHEMAS
from tests.support import (
    assert_absent,
    codec_client,
    raw_history,
    running_worker,
    spaced,
    store_urls,
    wait_stage,
)
from workflows.subject_access import (
    ApproveInput,
    ClarifyInput,
    ExtendInput,
    SarInput,
    SubjectAccessRequest,
    VerifyInput,
)


async def _file(
    client: Client,
    settings: Settings,
    ids: SubjectIdentifiers,
    received: date,
    requester: str = "self",
    **kw: object,
) -> tuple[WorkflowHandle, str, Register]:
    register = Register(settings)
    ref = register.register_subject(ids)
    req = register.create_request("subject_access", ref, received_on=received, requester=requester)
    handle = await client.start_workflow(
        SubjectAccessRequest.run,
        SarInput(
            request_id=req.request_id,
            subject_ref=ref,
            received_on=received.isoformat(),
            requester=requester,
            **kw,
        ),  # type: ignore[arg-type]
        id=f"sar-{req.request_id}",
        task_queue=settings.task_queue,
    )
    return handle, req.request_id, register


async def _wait_stage(handle: WorkflowHandle, stage: str, timeout: float = 60) -> object:
    return await wait_stage(handle, SubjectAccessRequest.status, stage, timeout=timeout)


async def _finish(handle: WorkflowHandle) -> None:
    """End a test's request the way a DPO would (a refusal), so nothing is left in flight."""
    from workflows.subject_access import RejectInput

    await _wait_stage(handle, "awaiting_review")
    await handle.execute_update(
        SubjectAccessRequest.reject, RejectInput(exemption="test over: manifestly unfounded")
    )
    assert (await handle.result()).outcome == "refused"


async def _today(env) -> date:  # type: ignore[no-untyped-def]
    return (await env.get_current_time()).astimezone(LONDON).date()


def _sibling(urls: dict[str, str], service: str, child_nhs: str) -> dict[str, str | None]:
    """Another child of the shared child's family, read straight from one store."""
    table_name, key, nhs_col, dob_col, given_col, family_col = PERSON_TABLES[service]
    t = SCHEMAS[service].tables[table_name]
    with engine_for_url(urls[service]).connect() as conn:
        me = conn.execute(select(t).where(t.c[nhs_col].in_([child_nhs, spaced(child_nhs)]))).mappings().one()
        if service == "lewisham_family_thrive":
            fam = (
                conn.execute(
                    select(t).where(
                        t.c.family_id == me["family_id"],
                        t.c[key] != me[key],
                        t.c.relationship_to_lead.in_(["Son", "Daughter"]),
                    )
                )
                .mappings()
                .all()
            )
        else:
            raise NotImplementedError(service)
    if not fam:
        return {}
    s = fam[0]
    return {"given": s[given_col], "family": s[family_col], "nhs": str(s[nhs_col]).replace(" ", "")}


async def test_sar_from_filing_to_a_delivered_pack(sar_settings, time_skipping_env):
    settings = sar_settings
    urls = store_urls(settings)
    child = shared_child_example(urls)
    client = codec_client(time_skipping_env.client, settings)
    today = await _today(time_skipping_env)
    async with running_worker(client, settings):
        handle, request_id, register = await _file(
            client, settings, SubjectIdentifiers.parse(nhs_number=child.nhs_number), today, **QUICK_RETRY
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        assert "clock has not started" in str(refused.value.cause)
        view = await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        assert view.clock_started and view.clock_start == today.isoformat()
        st = await _wait_stage(handle, "awaiting_review")
        gathered = {s.service for s in st.services if s.state == "gathered"}
        assert set(child.services) <= gathered
        assert st.redactions > 0
        await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        assert "already been approved" in str(twice.value.cause)
        result = await handle.result()
    assert result.outcome == "delivered"
    body = urllib.request.urlopen(result.pack.link).read()  # noqa: S310 - presigned URL to the local S3
    z = zipfile.ZipFile(io.BytesIO(body))
    files = {n: z.read(n) for n in z.namelist()}
    assert files["records.pdf"].startswith(b"%PDF")
    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(files["records.pdf"])).pages) >= 2
    export = json.loads(files["records.json"])
    names = {svc.service: svc.name for svc in load_catalog(settings.catalog_dir)}
    assert {s["service"] for s in export["services"]} >= {names[s] for s in child.services}
    letter = files["cover_letter.html"].decode()
    for item in (
        "purposes",
        "categories",
        "recipients",
        "retention",
        "sources",
        "Rectification",
        "Erasure",
        "Restriction",
        "Objection",
        "ICO",
        "Automated decision-making",
    ):
        assert item.lower() in letter.lower(), item
    everything = b"".join(files.values()).decode("utf-8", "ignore")
    assert child.given_name in everything
    sib = _sibling(urls, "lewisham_family_thrive", child.nhs_number)
    assert sib, "the demo child has a sibling"
    assert "[withheld: third party]" in files["records.json"].decode()
    assert sib["nhs"] not in everything.replace(" ", "")
    assert f"{sib['given']} {sib['family']}" not in everything
    # the sibling's first name appears only inside a professional's full name, never on its own
    assert not re.search(rf"\b{sib['given']}\b(?!\s+[A-Z])", everything), sib["given"]
    trail = [e.action for e in register.audit_trail(request_id)]
    assert "subject_access.pack_sent" in trail and "subject_access.approved" in trail
    assert register.get_request(request_id).status == "closed"


# -- the statutory clock ------------------------------------------------------------------------------


def _deadline_cli(*args: str) -> dict[str, str]:
    from typer.testing import CliRunner

    from rightsflow.cli.deadline import deadline

    app = typer.Typer()
    app.command()(deadline)
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def _nobody() -> SubjectIdentifiers:
    from rightsflow.nhs import synthetic_nhs_number

    return SubjectIdentifiers.parse(nhs_number=synthetic_nhs_number(499_999))


ONE = ["westminster_family_hub"]  # a quick search that finds nobody: these tests are about the clock


@pytest.mark.parametrize(
    "received, identity",
    [
        ("2026-01-31", "2026-01-31"),  # the 31st, and a Saturday: due 28 Feb (Sat) -> Mon 2 Mar
        ("2025-11-25", "2025-11-25"),  # due on Christmas Day, then Boxing Day: -> Mon 29 Dec
        ("2026-08-29", "2026-08-31"),  # received on a Saturday, identity on the August bank holiday
    ],
)
async def test_the_deadline_command_and_the_workflow_agree(
    sar_settings, time_skipping_env, received, identity
):
    settings = sar_settings
    client = codec_client(time_skipping_env.client, settings)
    async with running_worker(client, settings):
        handle, _, _ = await _file(client, settings, _nobody(), date.fromisoformat(received), services=ONE)
        view = await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=identity)
        )
        await _finish(handle)
    expected = _deadline_cli("--received", received, "--identity-received", identity)
    assert (view.clock_start, view.deadline) == (expected["clock_start"], expected["deadline"])


async def test_an_extension_after_the_first_month_is_refused(sar_settings, time_skipping_env):
    settings = sar_settings
    client = codec_client(time_skipping_env.client, settings)
    today = await _today(time_skipping_env)
    late = today - timedelta(days=40)
    async with running_worker(client, settings):
        handle, request_id, register = await _file(client, settings, _nobody(), late, services=ONE)
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=late.isoformat())
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(SubjectAccessRequest.extend, ExtendInput(reason="complex request"))
        assert "has passed" in str(refused.value.cause)
        st = await handle.query(SubjectAccessRequest.status)
        assert not st.clock.extended
        # in time: three months from the start, as the deadline command computes, with a letter
        handle2, request2, _ = await _file(client, settings, _nobody(), today, services=ONE)
        await handle2.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        view = await handle2.execute_update(
            SubjectAccessRequest.extend, ExtendInput(reason="records across three services")
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle2.execute_update(SubjectAccessRequest.extend, ExtendInput(reason="again"))
        for h in (handle, handle2):
            await _finish(h)
    expected = _deadline_cli("--received", today.isoformat(), "--extend")
    assert view.deadline == expected["extended_deadline"] and view.extended
    trail = register.audit_trail(request2)
    actions = [e.action for e in trail]
    assert "subject_access.extended" in actions
    # the extension letter goes through the letters path: recorded here without a council, it is
    # written under the default council's letterhead (RIGHTSFLOW_DEFAULT_CONTROLLER)
    assert "letter.extension" in actions
    assert "subject_access.extended" not in [e.action for e in register.audit_trail(request_id)]


async def test_a_pause_moves_the_deadline(sar_settings, time_skipping_env):
    settings = sar_settings
    env = time_skipping_env
    client = codec_client(env.client, settings)
    today = await _today(env)
    async with running_worker(client, settings):
        handle, _, _ = await _file(client, settings, _nobody(), today, services=ONE)
        before = await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        stopped = await handle.execute_update(
            SubjectAccessRequest.clarify, ClarifyInput(asked=today.isoformat())
        )
        assert stopped.state == "stopped" and stopped.deadline is None
        with pytest.raises(WorkflowUpdateFailedError):  # one open pause at a time
            await handle.execute_update(SubjectAccessRequest.clarify, ClarifyInput(asked=today.isoformat()))
        await env.sleep(timedelta(days=4))
        answered = today + timedelta(days=4)
        after = await handle.execute_update(
            SubjectAccessRequest.clarify, ClarifyInput(answered=answered.isoformat())
        )
        await _finish(handle)
    expected = _deadline_cli("--received", today.isoformat(), "--pause", f"{today}:{answered}")
    assert after.deadline == expected["deadline"]
    assert after.paused_days == 5
    assert date.fromisoformat(after.deadline) > date.fromisoformat(before.deadline)


async def test_reminders_and_escalation_are_recorded_on_time(sar_settings, time_skipping_env):
    settings = sar_settings
    env = time_skipping_env
    client = codec_client(env.client, settings)
    today = await _today(env)
    async with running_worker(client, settings):
        handle, request_id, register = await _file(client, settings, _nobody(), today, services=ONE)
        view = await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        await _wait_stage(handle, "awaiting_review")
        await env.sleep(timedelta(days=15))
        early = {e.action for e in register.audit_trail(request_id)}
        await env.sleep(timedelta(days=30))
        st = await handle.query(SubjectAccessRequest.status)
        await _finish(handle)
    assert "subject_access.escalation" not in early
    actions = [e.action for e in register.audit_trail(request_id)]
    for action in ("subject_access.reminder_10", "subject_access.reminder_3", "subject_access.escalation"):
        assert actions.count(action) == 1, action
    assert st.overdue and st.events == [
        f"reminder_10:{view.deadline}",
        f"reminder_3:{view.deadline}",
        f"escalation:{view.deadline}",
    ]


# -- gathering: outages, a stopped worker ----------------------------------------------------------------

QUICK_RETRY = {"store_retry_first_seconds": 1, "store_retry_max_seconds": 2}  # real seconds, not skipped
DOWN = "postgresql+psycopg://nobody@127.0.0.1:1/down"  # nothing listens on port 1: connection refused


async def _wait_for(handle: WorkflowHandle, check, timeout: float = 60):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout * 10)):
        st = await handle.query(SubjectAccessRequest.status)
        if check(st):
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not reached: {st}")


def _others_done_one_down(st, down: str) -> bool:  # type: ignore[no-untyped-def]
    by = {s.service: s for s in st.services}
    return by[down].state == "store_unavailable" and all(
        by[s].state in ("gathered", "not_found") for s in by if s != down
    )


async def test_a_store_outage_delays_that_service_then_completes(
    sar_settings, time_skipping_env, monkeypatch
):
    settings = sar_settings
    env = time_skipping_env
    urls = store_urls(settings)
    child = shared_child_example(urls)
    down = child.services[0]
    env_var = load_catalog(settings.catalog_dir)[down].store.url_env
    client = codec_client(env.client, settings)
    today = await _today(env)
    monkeypatch.setenv(env_var, DOWN)
    async with running_worker(client, settings):
        handle, request_id, register = await _file(
            client, settings, SubjectIdentifiers.parse(nhs_number=child.nhs_number), today, **QUICK_RETRY
        )
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )

        st = await _wait_for(handle, lambda st: _others_done_one_down(st, down))
        assert st.stage == "gathering"  # the request waits for the store; it has not failed
        monkeypatch.delenv(env_var)  # the store is back
        st = await _wait_stage(handle, "awaiting_review")
        by = {s.service: s for s in st.services}
        assert by[down].state == "gathered" and by[down].failures >= 1 and by[down].records > 0
        await _finish(handle)
    actions = [(e.action, e.service) for e in register.audit_trail(request_id)]
    assert ("subject_access.gathered", down) in actions
    assert [a for a in actions if a[0] == "subject_access.gathered"].count(
        ("subject_access.gathered", down)
    ) == 1


async def test_a_worker_stopped_mid_gather_loses_nothing_and_duplicates_nothing(
    sar_settings, dev_server_env, monkeypatch
):
    settings = sar_settings
    env = dev_server_env
    child = shared_child_example(store_urls(settings))
    down = child.services[-1]
    env_var = load_catalog(settings.catalog_dir)[down].store.url_env
    client = codec_client(env.client, settings)
    today = date.today()
    monkeypatch.setenv(env_var, DOWN)
    async with running_worker(client, settings):
        handle, request_id, register = await _file(
            client, settings, SubjectIdentifiers.parse(nhs_number=child.nhs_number), today, **QUICK_RETRY
        )
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        st = await _wait_for(handle, lambda st: _others_done_one_down(st, down))
        assert st.stage == "gathering"
    # the first worker is gone mid-gather (some services gathered, one not); the store comes back;
    # a new worker takes over from the history
    monkeypatch.delenv(env_var)
    async with running_worker(client, settings):
        await _wait_stage(handle, "awaiting_review")
        await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        result = await handle.result()
    body = urllib.request.urlopen(result.pack.link).read()  # noqa: S310
    export = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("records.json"))
    names = {svc.service: svc.name for svc in load_catalog(settings.catalog_dir)}
    assert {s["service"] for s in export["services"]} >= {names[s] for s in child.services}
    for s in export["services"]:
        for c in s["collections"]:
            as_text = [json.dumps(r, sort_keys=True) for r in c["records"]]
            assert len(as_text) == len(set(as_text)), f"duplicate rows in {s['service']}: {c['collection']}"
    gathered = [e.service for e in register.audit_trail(request_id) if e.action == "subject_access.gathered"]
    assert sorted(gathered) == sorted(set(gathered)) and set(child.services) <= set(gathered)
    assert len(register.matches_for(request_id)) == len(
        {(m.service, m.record_key) for m in register.matches_for(request_id)}
    )


# -- no personal data in Temporal --------------------------------------------------------------------------


async def test_no_personal_data_in_the_workflow_history(sar_settings, dev_server_env):
    settings = sar_settings
    urls = store_urls(settings)
    child = shared_child_example(urls)
    sib = _sibling(urls, "lewisham_family_thrive", child.nhs_number)
    client = codec_client(dev_server_env.client, settings)
    today = date.today()
    async with running_worker(client, settings):
        handle, request_id, _ = await _file(
            client,
            settings,
            SubjectIdentifiers.parse(
                name=f"{child.given_name} {child.family_name}", dob=child.date_of_birth.isoformat()
            ),
            today,
        )
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        st = await _wait_for(
            handle,
            lambda st: (
                any(s.candidates for s in st.services)
                and all(s.state in ("awaiting_confirmation", "not_found", "gathered") for s in st.services)
            ),
        )
        candidates = [c for s in st.services for c in s.candidates]
        await handle.execute_update(SubjectAccessRequest.verify, VerifyInput(confirm_matches=candidates))
        await _wait_stage(handle, "awaiting_review")
        from activities.subject_access import AddedRedaction
        from workflows.subject_access import ReviewInput

        await handle.execute_update(
            SubjectAccessRequest.review, ReviewInput(add=[AddedRedaction(text=sib["given"])])
        )
        await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        result = await handle.result()
    assert result.outcome == "delivered"
    assert handle.id == f"sar-{request_id}"
    raw = await raw_history(dev_server_env.client, handle.id)  # no codec: what the server holds
    assert_absent(
        raw,
        (
            child.nhs_number,
            spaced(child.nhs_number),
            child.given_name,
            child.family_name,
            child.date_of_birth.isoformat(),
            sib["given"],
            sib["nhs"],
        ),
        what="personal data in the history",
    )
    assert b"binary/encrypted" in raw or b"YmluYXJ5L2VuY3J5cHRlZA" in raw


async def test_a_parent_needs_authority_with_parental_responsibility_before_the_clock_starts(
    sar_settings, time_skipping_env
):
    settings = sar_settings
    client = codec_client(time_skipping_env.client, settings)
    today = await _today(time_skipping_env)
    received = today - timedelta(days=6)
    async with running_worker(client, settings):
        handle, request_id, register = await _file(
            client, settings, _nobody(), received, requester="parent", services=ONE
        )
        view = await handle.execute_update(
            SubjectAccessRequest.verify,
            VerifyInput(identity_received=(received + timedelta(days=1)).isoformat()),
        )
        assert not view.clock_started and view.waiting_for == ["authority"]
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                SubjectAccessRequest.verify,
                VerifyInput(authority_received=(received + timedelta(days=3)).isoformat()),
            )
        assert "parental responsibility" in str(refused.value.cause)
        view = await handle.execute_update(
            SubjectAccessRequest.verify,
            VerifyInput(
                authority_received=(received + timedelta(days=3)).isoformat(),
                parental_responsibility=True,
                child_competent=False,
            ),
        )
        assert view.clock_started and view.clock_start == (received + timedelta(days=3)).isoformat()
        await _finish(handle)
    req = register.get_request(request_id)
    assert req.clock_start == received + timedelta(days=3) and req.deadline.isoformat() == view.deadline
    verified = [e.detail for e in register.audit_trail(request_id) if e.action == "subject_access.verified"]
    assert verified[-1]["parental_responsibility"] is True and verified[-1]["child_competent"] is False


async def test_a_confirmation_sent_while_the_store_is_still_searched_applies_when_it_answers(
    sar_settings, time_skipping_env, monkeypatch
):
    """A DPO's confirmation can reach the workflow in the same task as the search result that
    found the candidate (updates are validated first): it is kept and applied, not refused."""
    from activities.discovery import find_in_store
    from rightsflow.storemap import StoreMap

    settings = sar_settings
    env = time_skipping_env
    urls = store_urls(settings)
    child = shared_child_example(urls)
    down = child.services[0]
    catalog = load_catalog(settings.catalog_dir)
    by_name = SubjectIdentifiers.parse(
        name=f"{child.given_name} {child.family_name}", dob=child.date_of_birth.isoformat()
    )
    found = find_in_store(StoreMap(catalog[down]), engine_for_url(urls[down]), by_name)
    refs = [f"{down}/{m.record_key}" for m in found]
    assert refs, "the child is found by name and date of birth in that store"
    env_var = catalog[down].store.url_env
    client = codec_client(env.client, settings)
    today = await _today(env)
    monkeypatch.setenv(env_var, DOWN)
    async with running_worker(client, settings):
        handle, _, _ = await _file(client, settings, by_name, today, **QUICK_RETRY)
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        settled = ("awaiting_confirmation", "not_found", "gathered")
        st = await _wait_for(
            handle,
            lambda st: all(
                s.state == "store_unavailable" if s.service == down else s.state in settled
                for s in st.services
            ),
        )
        # The search of that store has not returned: the candidate is not known yet.
        await handle.execute_update(SubjectAccessRequest.verify, VerifyInput(confirm_matches=refs))
        searched = next(s.service for s in st.services if s.service != down)
        with pytest.raises(WorkflowUpdateFailedError):  # a store that has answered is not guessed at
            await handle.execute_update(
                SubjectAccessRequest.verify, VerifyInput(confirm_matches=[f"{searched}/no-such-record"])
            )
        monkeypatch.delenv(env_var)  # the store is back: its search finds the candidate
        # The kept confirmation applies without another word from the DPO: the store is gathered.
        # (Its state reads "awaiting_confirmation" while the confirmation is being recorded; a
        # confirmation dropped would leave it there, and this wait would fail.)
        st = await _wait_for(
            handle, lambda st: {s.service: s for s in st.services}[down].state in ("gathered", "not_found")
        )
        assert {s.service: s for s in st.services}[down].state == "gathered"
        assert set({s.service: s for s in st.services}[down].confirmed) == set(refs)
