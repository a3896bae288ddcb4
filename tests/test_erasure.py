"""Erasure end to end on the time-skipping server, seeded stores and moto S3; activities run twice."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime

import pytest
from sqlalchemy import func, insert, select, update
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.erasure import AssessInput, EraseInput, ErasureActivities
from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts, run_batches
from activities.rights import CertificateInput, ConsentInput, NoticesInput, RestrictInput, RightsActivities
from rightsflow.catalog import load_catalog
from rightsflow.config import Settings
from rightsflow.db import engine_for_url
from rightsflow.register import AuditEntry
from rightsflow.seed import shared_child_example
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
    spaced,
    store_urls,
    wait_stage,
)
from workflows.erasure import DecideInput, Erasure, ErasureInput, ServiceDecision


@dataclasses.dataclass
class Child:
    nhs: str
    given: str
    family: str
    ft_member: int
    csc_person: int


def _prepare(
    s: Settings, *, recipients: tuple[str, ...] = ("Police", "Lewisham Children's Social Care")
) -> Child:
    """The shared child with no open holds, a known sharing log in Family Thrive and a consent."""
    urls = store_urls(s, (FT, CSC))
    child = shared_child_example(urls)
    ft, csc = SCHEMAS[FT].tables, SCHEMAS[CSC].tables
    with engine_for_url(urls[FT]).begin() as c:
        member = c.execute(
            select(ft["ft_family_member"].c.member_id).where(
                ft["ft_family_member"].c.nhs_number.in_([child.nhs_number, spaced(child.nhs_number)])
            )
        ).scalar_one()
        c.execute(
            update(ft["ft_concern"])
            .where(ft["ft_concern"].c.member_id == member)
            .values(resolved_at=datetime(2026, 1, 1))
        )
        c.execute(ft["ft_share"].delete().where(ft["ft_share"].c.member_id == member))
        rows = [
            dict(
                member_id=member,
                shared_with=r,
                detail="support plan",
                shared_on=date(2026, 3, 1 + i),
                with_consent=1,
            )
            for i, r in enumerate(recipients)
        ]
        rows.append(
            dict(
                member_id=member,
                shared_with=recipients[0],
                detail="review",
                shared_on=date(2026, 5, 1),
                with_consent=1,
            )
        )
        c.execute(insert(ft["ft_share"]), rows)
        c.execute(
            insert(ft["ft_consent"]).values(
                member_id=member, purpose="share with partners", given_on=date(2025, 6, 1)
            )
        )
    with engine_for_url(urls[CSC]).begin() as c:
        person = c.execute(
            select(csc["lcs_person"].c.person_id).where(
                csc["lcs_person"].c.nhs_number.in_([child.nhs_number, spaced(child.nhs_number)])
            )
        ).scalar_one()
        c.execute(
            update(csc["lcs_alert"])
            .where(csc["lcs_alert"].c.person_id == person)
            .values(ended_on=date(2026, 1, 1))
        )
    return Child(child.nhs_number, child.given_name, child.family_name, member, person)


async def test_erasure_erases_family_thrive_and_refuses_social_care(es, time_skipping_env, caplog):
    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "erasure", child.nhs)
    wid = f"erasure-{req.request_id}"
    caplog.set_level("INFO")
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Erasure.run,
            ErasureInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                ground="consent-withdrawn",
                services=[FT, CSC],
            ),
            id=wid,
            task_queue=s.task_queue,
        )
        st = await wait_stage(handle, Erasure.status, "awaiting_decision")
        views = {v.service: v for v in st.services}
        assert views[FT].proposal == "erase"
        assert views[CSC].proposal == "refuse" and views[CSC].proposed_exemption == "public_task"
        with pytest.raises(WorkflowUpdateFailedError) as bad:
            await handle.execute_update(
                Erasure.decide, DecideInput(decisions=[ServiceDecision(service=CSC, decision="refuse")])
            )
        assert "exemption" in str(bad.value.cause)
        await handle.execute_update(
            Erasure.decide, DecideInput(confirm_proposals=True, decided_by="dpo-test")
        )
        result = await handle.result()
    assert result.erased == [FT] and result.refused == [CSC]
    assert result.notices_sent == 2  # two recipients, three disclosures: one notice each

    urls = store_urls(s)
    ft, csc = SCHEMAS[FT].tables, SCHEMAS[CSC].tables
    with engine_for_url(urls[FT]).connect() as c:
        stub = (
            c.execute(
                select(ft["ft_family_member"]).where(ft["ft_family_member"].c.member_id == child.ft_member)
            )
            .mappings()
            .one()
        )
        assert stub["nhs_number"].startswith("h:") and stub["first_name"] == "" and stub["birth_date"] is None
        assert (
            c.execute(
                select(func.count())
                .select_from(ft["ft_consent"])
                .where(ft["ft_consent"].c.member_id == child.ft_member)
            ).scalar()
            == 0
        )
        shares = (
            c.execute(select(ft["ft_share"]).where(ft["ft_share"].c.member_id == child.ft_member))
            .mappings()
            .all()
        )
        assert len(shares) == 3 and all(r["detail"] == "" and r["shared_with"] for r in shares)
    with engine_for_url(urls[CSC]).connect() as c:
        assert c.execute(
            select(csc["lcs_person"].c.forename).where(csc["lcs_person"].c.person_id == child.csc_person)
        ).scalar_one()

    objects = s3_objects(s)
    letter = objects[result.letter_key].decode()
    assert "Information Commissioner" in letter and "court" in letter and "beyond use" in letter
    assert "Art 17(3)(b)" in letter
    cert = objects[result.certificate_key].decode()
    notices = [k for k in objects if k.endswith("article19.html")]
    assert len(notices) == 2
    for needle in (child.nhs, child.given, child.family):
        assert needle not in cert
        for key in objects:
            assert needle not in key
    assert json.loads(cert)["services"][0]["article19_sent"] in (0, 2)

    # No personal data in the history (read without the codec), the register's audit log or logs.
    blob = await raw_history(time_skipping_env.client, wid)
    for needle in (child.nhs, child.given, child.family, f"{child.nhs[:3]} {child.nhs[3:6]}"):
        assert needle.encode() not in blob
        assert needle not in caplog.text
    with register.engine.connect() as c:
        audit = " ".join(
            r[0] for r in c.execute(select(AuditEntry.detail).where(AuditEntry.request_id == req.request_id))
        )
        actions = [
            r[0] for r in c.execute(select(AuditEntry.action).where(AuditEntry.request_id == req.request_id))
        ]
    assert child.nhs not in audit and child.given not in audit
    assert (
        actions.count("article19.sent") == 2
        and "erasure.erased" in actions
        and "consent.withdrawn" in actions
    )
    assert register.get_request(req.request_id).status == "closed"


def test_a_child_protection_plan_blocks_erasure_and_activities_are_safe_twice(es):
    s = es
    child = _prepare(s)
    cat = load_catalog(s.catalog_dir)
    register, ref, req = file_request(s, "erasure", child.nhs)
    acts = ErasureActivities(s, cat, register)
    rights = RightsActivities(s, cat, register)
    keys = [str(child.ft_member)]
    rid = req.request_id

    # consent withdrawal, twice: the second run changes nothing
    first = rights.withdraw_consent(
        ConsentInput(request_id=rid, service=FT, record_keys=keys, withdrawn_on=AS_OF.isoformat())
    )
    second = rights.withdraw_consent(
        ConsentInput(request_id=rid, service=FT, record_keys=keys, withdrawn_on=AS_OF.isoformat())
    )
    assert first.withdrawn >= 1 and second.withdrawn == 0
    assert (
        acts.assess_service(
            AssessInput(request_id=rid, service=FT, record_keys=keys, ground="other")
        ).proposal.decision
        == "erase"
    )

    urls = store_urls(s)
    ft = SCHEMAS[FT].tables
    with engine_for_url(urls[FT]).begin() as c:
        c.execute(
            insert(ft["ft_concern"]).values(
                member_id=child.ft_member, concern_type="CP_PLAN", raised_at=datetime(2026, 9, 1)
            )
        )
    blocked = acts.assess_service(
        AssessInput(request_id=rid, service=FT, record_keys=keys, ground="consent-withdrawn")
    )
    assert blocked.proposal.decision == "refuse" and blocked.proposal.exemption == "child_protection_plan"
    assert (
        acts.assess_service(
            AssessInput(
                request_id=rid, service=CSC, record_keys=[str(child.csc_person)], ground="consent-withdrawn"
            )
        ).proposal.exemption
        == "public_task"
    )

    # notices, erasure, restriction and certificates: twice each, the same outcome
    n1 = rights.send_notices(
        NoticesInput(request_id=rid, service=FT, record_keys=keys, kind="erasure", on=AS_OF.isoformat())
    )
    n2 = rights.send_notices(
        NoticesInput(request_id=rid, service=FT, record_keys=keys, kind="erasure", on=AS_OF.isoformat())
    )
    assert [n.letter_key for n in n1] == [n.letter_key for n in n2] and len(n1) == 2
    e1 = acts.erase_service(EraseInput(request_id=rid, service=FT, record_keys=keys))
    e2 = acts.erase_service(EraseInput(request_id=rid, service=FT, record_keys=keys))
    assert e1.rows_deleted > 0 and e1.rows_masked > 0
    assert e2.rows_deleted == 0 and e2.rows_masked == 0
    with engine_for_url(urls[FT]).connect() as c:
        nhs = c.execute(
            select(ft["ft_family_member"].c.nhs_number).where(
                ft["ft_family_member"].c.member_id == child.ft_member
            )
        ).scalar_one()
    assert nhs.startswith("h:")  # hashed once, not hashed again
    r1 = rights.set_restriction(
        RestrictInput(
            request_id=rid,
            service=CSC,
            record_keys=[str(child.csc_person)],
            restrict=True,
            on=AS_OF.isoformat(),
        )
    )
    r2 = rights.set_restriction(
        RestrictInput(
            request_id=rid,
            service=CSC,
            record_keys=[str(child.csc_person)],
            restrict=True,
            on=AS_OF.isoformat(),
        )
    )
    assert (r1, r2) == (1, 0)
    c1 = rights.write_rights_certificate(
        CertificateInput(request_id=rid, kind="erasure", name="outcome", body={"services": []})
    )
    c2 = rights.write_rights_certificate(
        CertificateInput(request_id=rid, kind="erasure", name="outcome", body={"services": []})
    )
    assert c1 == c2
    with register.engine.connect() as c:
        sent = c.execute(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.request_id == rid, AuditEntry.action == "article19.sent")
        ).scalar()
    assert sent == 2


def test_a_restricted_subject_is_skipped_by_the_retention_sweep(es):
    s = es
    child = _prepare(s)
    cat = load_catalog(s.catalog_dir)
    register, ref, req = file_request(s, "restriction", child.nhs)
    register.update_request(
        req.request_id, status="closed"
    )  # the open request alone must not be what keeps it
    RightsActivities(s, cat, register).set_restriction(
        RestrictInput(
            request_id=req.request_id,
            service=FT,
            record_keys=[str(child.ft_member)],
            restrict=True,
            on=AS_OF.isoformat(),
        )
    )
    acts = RetentionActivities(s, cat, register)
    far = date(2090, 1, 1).isoformat()  # everything is due by then
    counts = run_batches(
        acts,
        SweepBatchesInput(sweep_id="sweep-r", service=FT, as_of=far, dry_run=False, max_seconds=120),
        None,
        SweepCounts(),
    ).counts
    assert counts.retained_restricted >= 1
    ft = SCHEMAS[FT].tables
    with engine_for_url(store_urls(s)[FT]).connect() as c:
        assert (
            c.execute(
                select(func.count())
                .select_from(ft["ft_family_member"])
                .where(ft["ft_family_member"].c.member_id == child.ft_member)
            ).scalar()
            == 1
        )
    # lifted: the next sweep disposes of the household
    RightsActivities(s, cat, register).set_restriction(
        RestrictInput(
            request_id=req.request_id + "x",
            service=FT,
            record_keys=[str(child.ft_member)],
            restrict=False,
            on=AS_OF.isoformat(),
        )
    )
    run_batches(
        acts,
        SweepBatchesInput(sweep_id="sweep-r2", service=FT, as_of=far, dry_run=False, max_seconds=120),
        None,
        SweepCounts(),
    )
    with engine_for_url(store_urls(s)[FT]).connect() as c:
        assert (
            c.execute(
                select(func.count())
                .select_from(ft["ft_family_member"])
                .where(ft["ft_family_member"].c.member_id == child.ft_member)
            ).scalar()
            == 0
        )


async def test_erasure_removes_the_persons_name_from_family_notes_kept_and_the_letter_says_what_remains(
    es, time_skipping_env
):
    s = es
    child = _prepare(s)
    urls = store_urls(s)
    ft = SCHEMAS[FT].tables
    with engine_for_url(urls[FT]).begin() as c:
        family = c.execute(
            select(ft["ft_family_member"].c.family_id).where(
                ft["ft_family_member"].c.member_id == child.ft_member
            )
        ).scalar_one()
        c.execute(
            insert(ft["ft_session"]),
            [
                dict(
                    family_id=family,
                    held_on=date(2026, 6, 1),
                    worker="Sarah Williams",
                    summary=f"Kwame said {child.given} has moved out.",
                ),
                dict(
                    family_id=family,
                    held_on=date(2026, 6, 8),
                    worker="Sarah Williams",
                    summary=f"{child.given} {child.family} came with Kwame; all well.",
                ),
            ],
        )
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "erasure", child.nhs)
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Erasure.run,
            ErasureInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                ground="consent-withdrawn",
                services=[FT],
            ),
            id=f"erasure-{req.request_id}",
            task_queue=s.task_queue,
        )
        await wait_stage(handle, Erasure.status, "awaiting_decision")
        await handle.execute_update(Erasure.decide, DecideInput(confirm_proposals=True))
        result = await handle.result()
    assert result.erased == [FT]
    with engine_for_url(urls[FT]).connect() as c:
        notes = list(
            c.execute(
                select(ft["ft_session"].c.summary).where(ft["ft_session"].c.family_id == family)
            ).scalars()
        )
    assert "Kwame said [name removed] has moved out." in notes
    assert "[name removed] came with Kwame; all well." in notes
    assert not any(child.given in (n or "") for n in notes)  # the family's other notes too
    trail = {e.action: e for e in register.audit_trail(req.request_id)}
    removed = trail["erasure.mentions_removed"]
    assert child.given not in json.dumps(removed.detail) and "Art 17" in (removed.legal_basis or "")
    letter = s3_objects(s)[result.letter_key].decode()
    assert "your personal data has been erased." not in letter  # it was not all erased
    assert "we have removed your name from them" in letter and "Support session" in letter


def _family_notes(s: Settings, child: Child, *summaries: str) -> int:
    """Add the family's case notes (kept for the others in it); returns the family's id."""
    ft = SCHEMAS[FT].tables
    with engine_for_url(store_urls(s)[FT]).begin() as c:
        family = c.execute(
            select(ft["ft_family_member"].c.family_id).where(
                ft["ft_family_member"].c.member_id == child.ft_member
            )
        ).scalar_one()
        c.execute(
            insert(ft["ft_session"]),
            [
                dict(family_id=family, held_on=date(2026, 6, 1 + i), worker="Sarah Williams", summary=text)
                for i, text in enumerate(summaries)
            ],
        )
    return family


def test_removing_the_erased_persons_name_twice_redacts_once_and_records_once(es):
    s = es
    child = _prepare(s)
    family = _family_notes(s, child, f"Kwame said {child.given} has moved out.")
    cat = load_catalog(s.catalog_dir)
    register, _ref, req = file_request(s, "erasure", child.nhs)
    acts = ErasureActivities(s, cat, register)
    inp = EraseInput(request_id=req.request_id, service=FT, record_keys=[str(child.ft_member)])
    first = acts.erase_service(inp)
    second = acts.erase_service(inp)  # a retry after the store committed
    ft = SCHEMAS[FT].tables
    with engine_for_url(store_urls(s)[FT]).connect() as c:
        notes = list(
            c.execute(
                select(ft["ft_session"].c.summary).where(ft["ft_session"].c.family_id == family)
            ).scalars()
        )
    assert "Kwame said [name removed] has moved out." in notes
    assert first.mentions_removed >= 1 and second.mentions_removed == first.mentions_removed
    assert second.kept_for_others == first.kept_for_others and second.kept_masked == first.kept_masked
    entries = [e for e in register.audit_trail(req.request_id) if e.action == "erasure.mentions_removed"]
    assert len(entries) == 1 and entries[0].detail["mentions"] == first.mentions_removed


def test_an_unexpected_fault_removing_mentions_stops_the_erasure_without_retrying(es, monkeypatch, caplog):
    s = es
    child = _prepare(s)
    family = _family_notes(s, child, f"Kwame said {child.given} has moved out.")
    cat = load_catalog(s.catalog_dir)
    register, _ref, req = file_request(s, "erasure", child.nhs)
    acts = ErasureActivities(s, cat, register)

    def broken(*_args: object) -> None:
        raise TypeError(f"cannot redact {child.given}")

    monkeypatch.setattr("activities.erasure.remove_mentions", broken)
    with pytest.raises(ApplicationError) as err:
        acts.erase_service(
            EraseInput(request_id=req.request_id, service=FT, record_keys=[str(child.ft_member)])
        )
    assert err.value.non_retryable and err.value.type == "MentionRemovalFailed"
    assert child.given not in str(err.value) and child.given not in caplog.text
    ft = SCHEMAS[FT].tables
    with engine_for_url(store_urls(s)[FT]).connect() as c:  # nothing half done: the erasure rolled back
        notes = list(
            c.execute(
                select(ft["ft_session"].c.summary).where(ft["ft_session"].c.family_id == family)
            ).scalars()
        )
        member = c.execute(
            select(ft["ft_family_member"].c.nhs_number).where(
                ft["ft_family_member"].c.member_id == child.ft_member
            )
        ).scalar_one_or_none()
    assert f"Kwame said {child.given} has moved out." in notes and member is not None
    done = {"erasure.erased", "erasure.mentions_removed"}
    assert not [e for e in register.audit_trail(req.request_id) if e.action in done]


async def test_an_erasure_request_is_acknowledged_by_letter_emailed_and_listed(
    es, time_skipping_env, monkeypatch
):
    """The first thing a requester hears: the council has the request, by when it answers, whom to
    ask. Filed through the request service as the CLI and the console file it."""
    import typer
    from pypdf import PdfReader
    from typer.testing import CliRunner

    from rightsflow.cli.letters import letters as letters_command
    from rightsflow.letters import Letters
    from rightsflow.mailcatcher import MailCatcher
    from rightsflow.register import Register
    from rightsflow.request_service import RequestService

    s = es
    child = _prepare(s)
    client = codec_client(time_skipping_env.client, s)
    requester = {"kind": "self", "name": "Jo Bloggs", "email": "jo.bloggs@example.com", "address": []}
    with MailCatcher() as catcher:
        monkeypatch.setenv("RIGHTSFLOW_SMTP_URL", catcher.url)
        async with running_worker(client, s):
            filed = await RequestService(s, client=client).file_erasure(
                actor="cli:dpo",
                subject={"nhs_number": child.nhs},
                received_on=AS_OF,
                ground="no-longer-needed",
                services=[FT, CSC],
                controller="lewisham",
                requester_details=requester,
            )
            handle = client.get_workflow_handle(filed.workflow_id)
            await wait_stage(handle, Erasure.status, "awaiting_decision")
            await handle.terminate("the test has seen the acknowledgement")
        messages = list(catcher.messages)

    letters = Letters(s, load_catalog(s.catalog_dir), Register(s))
    [ack] = [v for v in letters.letters_of(filed.request_id) if v.kind == "acknowledgement"]
    text = " ".join(
        " ".join((p.extract_text() or "").split())
        for p in PdfReader(__import__("io").BytesIO(letters.read(ack.pdf_key))).pages
    )
    for expected in (
        "We have received your request for erasure",
        "1 November 2026",  # received
        "1 December 2026",  # the statutory deadline: one calendar month
        "no longer needed",  # what was asked, in words
        "London Borough of Lewisham",
        "dpo@lewisham.example.org",
    ):
        assert expected in text, expected
    assert [d["status"] for d in ack.deliveries] == ["sent"]
    [mail] = [m for m in messages if "Acknowledgement" in str(m["Subject"])]
    assert mail["To"] == "Jo Bloggs <jo.bloggs@example.com>"
    assert filed.request_id in str(mail["Subject"]) and "Bloggs" not in str(mail["Subject"])

    app = typer.Typer()
    app.command()(letters_command)
    listed = CliRunner().invoke(app, [filed.request_id, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["title"] for r in rows if r["kind"] == "acknowledgement"] == ["Acknowledgement of your request"]
