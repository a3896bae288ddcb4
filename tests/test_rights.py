"""Rectification and restriction workflows on the time-skipping server, seeded stores and moto S3."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError

from rightsflow.db import engine_for_url
from rightsflow.register import AuditEntry, Register
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
