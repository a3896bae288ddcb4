"""Rectification and restriction workflows on the time-skipping server, seeded stores and moto S3."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from rightsflow.contracts.attention import ResolveInput
from rightsflow.db import engine_for_url
from rightsflow.register import AuditEntry, Register, RightsRequest
from rightsflow.stores import SCHEMAS
from tests.support import (
    AS_OF,
    CSC,
    FT,
    codec_client,
    file_request,
    raw_history,
    running_worker,
    s3_objects,
    store_urls,
    wait_stage,
)
from tests.test_erasure import _prepare
from workflows.rectification import Rectification, RectificationInput, RectifyDecision
from workflows.restriction import LiftInput, Restriction, RestrictionInput, ShortenInput

NEW_DOB = date(2016, 2, 29)


async def test_rectification_reaches_every_service_and_notifies(es, time_skipping_env):
    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "rectification", child.nhs)
    wid = f"rectification-{req.request_id}"
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Rectification.run,
            RectificationInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                field="date_of_birth",
                value=NEW_DOB.isoformat(),
                services=[FT, CSC],
            ),
            id=wid,
            task_queue=s.task_queue,
        )
        st = await wait_stage(handle, Rectification.status, "awaiting_decision")
        assert sorted(st.services) == sorted([FT, CSC])
        urls = store_urls(s)
        ft, csc = SCHEMAS[FT].tables, SCHEMAS[CSC].tables
        with engine_for_url(urls[FT]).connect() as c:  # restricted while it is checked
            assert (
                c.execute(
                    select(ft["ft_family_member"].c.restricted_on).where(
                        ft["ft_family_member"].c.member_id == child.ft_member
                    )
                ).scalar_one()
                is not None
            )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(Rectification.decide, RectifyDecision(accept=False))
        await handle.execute_update(Rectification.decide, RectifyDecision(accept=True, decided_by="dpo-test"))
        result = await handle.result()
    with engine_for_url(urls[CSC]).connect() as c:
        lcs = SCHEMAS[CSC].tables["lcs_disclosure"]
        csc_recipients = len(
            set(c.execute(select(lcs.c.recipient).where(lcs.c.person_id == child.csc_person)).scalars())
        )
    # one notice per recipient per sharing log: two in Family Thrive, one per recipient in social care
    assert sorted(result.corrected) == sorted([FT, CSC]) and result.notices_sent == 2 + csc_recipients
    with engine_for_url(urls[FT]).connect() as c:
        row = (
            c.execute(
                select(ft["ft_family_member"]).where(ft["ft_family_member"].c.member_id == child.ft_member)
            )
            .mappings()
            .one()
        )
        assert row["birth_date"] == NEW_DOB and row["restricted_on"] is None
    with engine_for_url(urls[CSC]).connect() as c:
        row = (
            c.execute(select(csc["lcs_person"]).where(csc["lcs_person"].c.person_id == child.csc_person))
            .mappings()
            .one()
        )
        assert row["date_of_birth"] == NEW_DOB and row["restricted_on"] is None
        notes = [
            r[0] or ""
            for r in c.execute(
                select(csc["lcs_case_note"].c.supplementary_statement).where(
                    csc["lcs_case_note"].c.person_id == child.csc_person
                )
            )
        ]
    assert any("corrected" in n and req.request_id in n for n in notes)
    with register.engine.connect() as c:
        details = " ".join(
            r[0] for r in c.execute(select(AuditEntry.detail).where(AuditEntry.request_id == req.request_id))
        )
    assert "2016-02-29" not in details and "rectification.corrected" in " ".join(
        r[0] for r in Register(s).engine.connect().execute(select(AuditEntry.action))
    )
    blob = await raw_history(time_skipping_env.client, wid)
    assert b"2016-02-29" not in blob and child.nhs.encode() not in blob
    for key, body in s3_objects(s).items():
        if key.startswith("certificates/"):
            assert b"2016-02-29" not in body and child.nhs.encode() not in body


async def test_restriction_lifts_only_after_the_person_is_told(es, time_skipping_env):
    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "restriction", child.nhs)
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Restriction.run,
            RestrictionInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                reason="accuracy",
                services=[FT, CSC],
                notice_days=14,
            ),
            id=f"restriction-{req.request_id}",
            task_queue=s.task_queue,
        )
        st = await wait_stage(handle, Restriction.status, "restricted")
        assert sorted(st.services) == sorted([FT, CSC]) and st.notices_sent >= 2
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(Restriction.shorten, ShortenInput(days=0))
        await handle.execute_update(Restriction.lift, LiftInput(reason="accuracy now verified"))
        await wait_stage(handle, Restriction.status, "lift_notified")
        ft = SCHEMAS[FT].tables
        with engine_for_url(store_urls(s)[FT]).connect() as c:  # told, not yet lifted
            assert (
                c.execute(
                    select(ft["ft_family_member"].c.restricted_on).where(
                        ft["ft_family_member"].c.member_id == child.ft_member
                    )
                ).scalar_one()
                is not None
            )
        await handle.execute_update(Restriction.shorten, ShortenInput(days=2))
        assert await handle.result() == "lifted"
    with engine_for_url(store_urls(s)[FT]).connect() as c:
        assert (
            c.execute(
                select(ft["ft_family_member"].c.restricted_on).where(
                    ft["ft_family_member"].c.member_id == child.ft_member
                )
            ).scalar_one()
            is None
        )
    actions = [e.action for e in register.audit_trail(req.request_id)]
    assert actions.index("letter.lift-notice") < actions.index("restriction.lifted")
    assert register.get_request(req.request_id).status == "closed"


# -- errors retrying cannot fix: the request needs attention, never an endless retry ----------------


async def wait_attention(handle: Any, query: Any, times: int = 1) -> Any:
    """Poll the status query until the request has needed attention ``times`` times."""
    st = None
    for _ in range(600):
        st = await handle.query(query)
        if st.attention is not None and st.attention.times >= times:
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(f"the request never needed attention; last {st}")


def register_row(register: Register, request_id: str) -> tuple[str, str | None]:
    with register.session() as db:
        row = db.get(RightsRequest, request_id)
        assert row is not None
        return row.status, row.attention


async def test_an_unknown_service_needs_attention_and_the_dpo_closes_the_request(es, time_skipping_env):
    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "restriction", child.nhs)
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Restriction.run,
            RestrictionInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                services=[FT, "no_such_service"],
            ),
            id=f"restriction-{req.request_id}",
            task_queue=s.task_queue,
        )
        st = await wait_attention(handle, Restriction.status)
        assert st.attention.reason == "unknown_service"
        assert st.attention.step == "discover_in_service:no_such_service"
        assert register_row(register, req.request_id) == ("needs_attention", "unknown_service")
        with pytest.raises(WorkflowUpdateFailedError):  # only retry or close
            await handle.execute_update(Restriction.resolve, ResolveInput(action="ignore"))
        await handle.execute_update(Restriction.resolve, ResolveInput(action="close", decided_by="dpo-test"))
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert register_row(register, req.request_id) == ("closed", "unknown_service")
    actions = [e.action for e in register.audit_trail(req.request_id)]
    assert "request.needs_attention" in actions and "request.closed_needing_attention" in actions
    # the reason reached the register without the subject's identifiers
    blob = await raw_history(time_skipping_env.client, f"restriction-{req.request_id}")
    assert child.nhs.encode() not in blob


async def test_an_impossible_corrected_date_needs_attention_and_a_retry_runs_the_step_again(
    es, time_skipping_env
):
    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "rectification", child.nhs)
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Rectification.run,
            RectificationInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                field="date_of_birth",
                value="2015-02-30",
                services=[FT],
            ),
            id=f"rectification-{req.request_id}",
            task_queue=s.task_queue,
        )
        await wait_stage(handle, Rectification.status, "awaiting_decision")
        await handle.execute_update(Rectification.decide, RectifyDecision(accept=True))
        st = await wait_attention(handle, Rectification.status)
        assert (st.attention.reason, st.attention.step) == ("invalid_value", f"rectify_service:{FT}")
        assert st.stage == "awaiting_decision" and st.corrected == []
        assert register_row(register, req.request_id) == ("needs_attention", "invalid_value")
        await handle.execute_update(Rectification.resolve, ResolveInput(action="retry"))
        st = await wait_attention(handle, Rectification.status, times=2)  # the step ran again, failed again
        assert st.attention.reason == "invalid_value"
        await handle.execute_update(Rectification.resolve, ResolveInput(action="close"))
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert register_row(register, req.request_id)[0] == "closed"
    blob = await raw_history(time_skipping_env.client, f"rectification-{req.request_id}")
    assert b"2015-02-30" not in blob
