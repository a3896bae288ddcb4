"""Objection (Art 21) and consent withdrawal on the time-skipping server, seeded stores and moto S3."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
import typer
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from typer.testing import CliRunner

from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.identity import SubjectIdentifiers
from rightsflow.objection import BASIS_OVERRIDDEN, BASIS_STOPPED, BASIS_UPHELD
from rightsflow.register import AuditEntry, Decision, Register
from rightsflow.sharing import RESTRICTED, WITHDRAWN, may_share
from rightsflow.stores import SCHEMAS
from tests.support import (
    AS_OF,
    CSC,
    FT,
    assert_absent,
    codec_client,
    file_request,
    raw_history,
    running_worker,
    s3_objects,
    spaced,
    store_urls,
    wait_stage,
)
from tests.test_erasure import _prepare
from workflows.objection import (
    ConsentWithdrawal,
    ConsentWithdrawalInput,
    Objection,
    ObjectionDecideInput,
    ObjectionDecision,
    ObjectionInput,
)
from workflows.restriction import ShortenInput


def _restricted_on(s, service: str, key: int) -> date | None:  # type: ignore[no-untyped-def]
    table, col = {FT: ("ft_family_member", "member_id"), CSC: ("lcs_person", "person_id")}[service]
    t = SCHEMAS[service].tables[table]
    with engine_for_url(store_urls(s)[service]).connect() as c:
        return c.execute(select(t.c.restricted_on).where(t.c[col] == key)).scalar_one()


def _withdrawn_on(s, member: int) -> list[date | None]:  # type: ignore[no-untyped-def]
    t = SCHEMAS[FT].tables["ft_consent"]
    with engine_for_url(store_urls(s)[FT]).connect() as c:
        return list(c.execute(select(t.c.withdrawn_on).where(t.c.member_id == member)).scalars())


def _no_personal_data(blob: bytes, child) -> None:  # type: ignore[no-untyped-def]
    assert_absent(blob, (child.nhs, spaced(child.nhs), child.given, child.family))


async def test_objection_stops_consent_processing_and_weighs_public_task(es, time_skipping_env, caplog):
    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "objection", child.nhs)
    rid, wid = req.request_id, f"objection-{req.request_id}"
    caplog.set_level("INFO")
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Objection.run,
            ObjectionInput(
                request_id=rid,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                services=[FT, CSC],
                notice_days=14,
            ),
            id=wid,
            task_queue=s.task_queue,
        )
        st = await wait_stage(handle, Objection.status, "awaiting_decision")
        views = {v.service: v for v in st.services}
        # consent-based: stopped (consent withdrawn with the date it arrived, restricted, erasure offered)
        assert views[FT].route == "stop" and views[FT].state == "stopped" and views[FT].erasure_offered
        assert set(_withdrawn_on(s, child.ft_member)) == {AS_OF}
        assert _restricted_on(s, FT, child.ft_member) is not None
        assert may_share(s, load_catalog(s.catalog_dir), FT, str(child.ft_member)) == (False, RESTRICTED)
        # public task: restricted until the DPO decides
        assert views[CSC].route == "weigh" and views[CSC].state == "restricted"
        assert _restricted_on(s, CSC, child.csc_person) is not None
        assert st.erasure_hint and "--service " + FT in st.erasure_hint and child.nhs not in st.erasure_hint

        for bad in (
            ObjectionDecision(
                service=FT, decision="override", reason="needed"
            ),  # nothing to weigh in a stopped service
            ObjectionDecision(service=CSC, decision="override", reason="  "),  # reasons are required
            ObjectionDecision(service=CSC, decision="maybe", reason="x"),
        ):
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(Objection.decide, ObjectionDecideInput(decisions=[bad]))
        with pytest.raises(WorkflowUpdateFailedError):  # nothing to shorten before the person is told
            await handle.execute_update(Objection.shorten, ShortenInput(days=0))
        await handle.execute_update(
            Objection.decide,
            ObjectionDecideInput(
                decisions=[
                    ObjectionDecision(
                        service=CSC, decision="override", reason="child protection enquiries continue (s47)"
                    )
                ],
                decided_by="dpo-test",
            ),
        )
        await wait_stage(handle, Objection.status, "lift_notified")
        # told, not yet lifted
        assert _restricted_on(s, CSC, child.csc_person) is not None
        actions = [e.action for e in register.audit_trail(rid)]
        assert "letter.objection-decision" in actions and "restriction.lifted" not in actions
        await handle.execute_update(Objection.shorten, ShortenInput(days=3))
        result = await handle.result()

    assert result.stopped == [FT] and result.overridden == [CSC] and result.upheld == []
    assert result.erasure_offered == [FT]
    assert _restricted_on(s, CSC, child.csc_person) is None  # lifted after the wait
    assert _restricted_on(s, FT, child.ft_member) is not None  # stays stopped
    trail = register.audit_trail(rid)
    actions = [e.action for e in trail]
    assert actions.index("letter.objection-decision") < actions.index("restriction.lifted")
    assert "erasure.offered" in actions and "consent.withdrawn" in actions
    assert register.get_request(rid).status == "closed"
    with register.engine.connect() as c:
        decisions = {
            r.service: r for r in c.execute(select(Decision.__table__).where(Decision.request_id == rid))
        }
        audit = " ".join(
            r[0] for r in c.execute(select(AuditEntry.detail).where(AuditEntry.request_id == rid))
        )
    assert decisions[FT].decision == "processing_stopped" and decisions[FT].legal_basis == BASIS_STOPPED
    assert decisions[CSC].decision == "objection_overridden"
    assert decisions[CSC].legal_basis == BASIS_OVERRIDDEN and decisions[CSC].decided_by == "dpo-test"
    assert "Art 21(1)" in decisions[FT].legal_basis and "Art 21(1)" in decisions[CSC].legal_basis
    _no_personal_data(audit.encode(), child)

    objects = s3_objects(s)
    decided = objects[result.letter_keys[1]].decode()
    assert "compelling legitimate grounds" in decided and "child protection enquiries" in decided
    assert "Information Commissioner" in decided
    received = objects[result.letter_keys[0]].decode()
    assert "withdrew your consent" in received and "Art 18(1)(d)" in received
    cert = json.loads(objects[result.certificate_key])
    outcome = {x["service"]: x for x in cert["services"]}
    assert outcome[FT]["outcome"] == "stopped" and outcome[CSC]["outcome"] == "overridden_and_lifted"
    assert cert["told_person_before_lifting"] is True and cert["wait_days"] == 3
    for key, body in objects.items():
        _no_personal_data(key.encode(), child)
        if key.startswith("certificates/"):
            _no_personal_data(body, child)
            assert b"child protection enquiries" not in body  # reasons stay in the letter

    # The history read back without the codec, and the logs: no personal data in plain text.
    blob = await raw_history(time_skipping_env.client, wid)
    _no_personal_data(blob, child)
    assert b"child protection enquiries" not in blob  # the DPO's reasons are encrypted too
    _no_personal_data(caplog.text.encode(), child)


async def test_an_upheld_objection_stays_restricted_and_offers_erasure(es, time_skipping_env):
    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "objection", child.nhs)
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Objection.run,
            ObjectionInput(
                request_id=req.request_id, subject_ref=ref, received_on=AS_OF.isoformat(), services=[CSC]
            ),
            id=f"objection-{req.request_id}",
            task_queue=s.task_queue,
        )
        await wait_stage(handle, Objection.status, "awaiting_decision")
        await handle.execute_update(
            Objection.decide,
            ObjectionDecideInput(
                decisions=[ObjectionDecision(service=CSC, decision="uphold", reason="no overriding grounds")]
            ),
        )
        with pytest.raises(WorkflowUpdateFailedError):  # decided once
            await handle.execute_update(
                Objection.decide,
                ObjectionDecideInput(
                    decisions=[ObjectionDecision(service=CSC, decision="override", reason="x")]
                ),
            )
        result = await handle.result()
    assert result.upheld == [CSC] and result.erasure_offered == [CSC] and result.overridden == []
    assert _restricted_on(s, CSC, child.csc_person) is not None
    assert may_share(s, load_catalog(s.catalog_dir), CSC, str(child.csc_person)) == (False, RESTRICTED)
    with register.engine.connect() as c:
        d = c.execute(select(Decision.__table__).where(Decision.request_id == req.request_id)).one()
    assert d.decision == "objection_upheld" and d.legal_basis == BASIS_UPHELD
    offered = [e for e in register.audit_trail(req.request_id) if e.action == "erasure.offered"]
    assert len(offered) == 1 and "17(1)(c)" in (offered[0].legal_basis or "")
    assert "restriction.lifted" not in [e.action for e in register.audit_trail(req.request_id)]


async def test_withdraw_consent_is_idempotent_and_sharing_stops(es, time_skipping_env):
    s = es
    child = _prepare(s)
    cat = load_catalog(s.catalog_dir)
    client = codec_client(time_skipping_env.client, s)
    register = Register(s)
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=child.nhs))
    assert may_share(s, cat, FT, str(child.ft_member))[0] is True
    assert may_share(s, cat, CSC, str(child.csc_person))[0] is True  # public task: consent is not the basis
    results = []
    async with running_worker(client, s):
        for received in (AS_OF, date(2026, 11, 20)):  # the second request keeps the first date
            req = register.create_request("consent_withdrawal", ref, received_on=received)
            results.append(
                await client.execute_workflow(
                    ConsentWithdrawal.run,
                    ConsentWithdrawalInput(
                        request_id=req.request_id,
                        subject_ref=ref,
                        received_on=received.isoformat(),
                        services=[FT],
                    ),
                    id=f"consent-withdrawal-{req.request_id}",
                    task_queue=s.task_queue,
                )
            )
    first, second = results
    consents = len(_withdrawn_on(s, child.ft_member))
    assert first.services[0].withdrawn == consents >= 1 and second.services[0].withdrawn == 0
    assert second.services[0].already == consents
    assert set(_withdrawn_on(s, child.ft_member)) == {AS_OF}
    assert may_share(s, cat, FT, str(child.ft_member)) == (False, WITHDRAWN)
    assert _restricted_on(s, FT, child.ft_member) is None  # withdrawn, not restricted
    assert first.erasure_offered == [FT] and first.erasure_hint and "consent-withdrawn" in first.erasure_hint
    for r in results:
        trail = register.audit_trail(r.request_id)
        assert [e.action for e in trail].count("erasure.offered") == 1
        assert register.get_request(r.request_id).status == "closed"
    letter = s3_objects(s)[first.letter_key].decode()
    assert AS_OF.isoformat() in letter and "erase" in letter
    _no_personal_data(first.letter_key.encode(), child)
    for r in results:
        _no_personal_data(
            await raw_history(time_skipping_env.client, f"consent-withdrawal-{r.request_id}"), child
        )


def test_may_share_unknown_keys_and_the_commands_check_their_arguments(es):
    from rightsflow.cli.rights import decide, withdraw_consent

    s = es
    cat = load_catalog(s.catalog_dir)
    assert may_share(s, cat, FT, "999999999")[0] is False
    assert may_share(s, cat, FT, "not-a-number")[0] is False
    app = typer.Typer()
    app.command("withdraw-consent")(withdraw_consent)
    app.command("decide")(decide)
    runner = CliRunner()
    r = runner.invoke(
        app, ["withdraw-consent", "--received", "2026-01-05", "--nhs-number", "9434765919", "--service", CSC]
    )
    assert r.exit_code == 2 and "not consent-based" in r.output and "9434765919" not in r.output
    register = Register(s)
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number="9434765919"))
    req = register.create_request("objection", ref, received_on=AS_OF)
    r = runner.invoke(app, ["decide", req.request_id, "--uphold", "--reason", "x"])
    assert r.exit_code == 2 and "--service" in r.output
    r = runner.invoke(app, ["decide", req.request_id, "--service", CSC, "--override"])
    assert r.exit_code == 2 and "--reason" in r.output


async def test_the_commands_file_decide_and_withdraw(es, time_skipping_env, monkeypatch):
    from rightsflow.cli.rights import decide, lift, object_, rights_status, withdraw_consent

    s = es
    child = _prepare(s)
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_skipping_env.client.service_client.config.target_host)
    monkeypatch.setenv("RIGHTSFLOW_TASK_QUEUE", s.task_queue)
    app = typer.Typer()
    for fn, name in (
        (object_, "object"),
        (decide, "decide"),
        (lift, "lift"),
        (rights_status, "rights-status"),
        (withdraw_consent, "withdraw-consent"),
    ):
        app.command(name)(fn)

    async def cli(*args: str):  # type: ignore[no-untyped-def]
        return await asyncio.to_thread(CliRunner().invoke, app, list(args))

    client = codec_client(time_skipping_env.client, s)
    async with running_worker(client, s):
        filed = await cli(
            "object", "--received", AS_OF.isoformat(), "--nhs-number", child.nhs, "--service", CSC
        )
        assert filed.exit_code == 0, filed.output
        rid = filed.output.strip()
        assert rid.startswith("rq_") and child.nhs not in filed.output
        for _ in range(300):
            st = json.loads((await cli("rights-status", rid, "--json")).output)
            if st["stage"] == "awaiting_decision":
                break
            await asyncio.sleep(0.1)
        assert st["services"][0]["state"] == "restricted", st
        refused = await cli("lift", rid, "--reason", "x")
        assert refused.exit_code == 2 and "--override" in refused.output
        decided = await cli("decide", rid, "--service", CSC, "--uphold", "--reason", "no overriding grounds")
        assert decided.exit_code == 0 and "upheld" in decided.output, decided.output
        await client.get_workflow_handle(f"objection-{rid}").result()

        withdrawn = await cli(
            "withdraw-consent",
            "--received",
            AS_OF.isoformat(),
            "--nhs-number",
            child.nhs,
            "--service",
            FT,
            "--wait",
        )
        assert withdrawn.exit_code == 0, withdrawn.output
        assert "rightsflow erase" in withdrawn.output and "--ground consent-withdrawn" in withdrawn.output
        assert child.nhs not in withdrawn.output
    assert may_share(s, load_catalog(s.catalog_dir), FT, str(child.ft_member)) == (False, WITHDRAWN)
    assert Register(s).get_request(rid).status == "closed"
