"""Inter-authority transfer on the time-skipping server: Westminster's family hub hands a family to
Camden (a second authority: its own task queue, settings, register, bucket and family-hub store)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from activities.transfer import ImportInput, TransferIntakeActivities, intake_workflow_id
from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.register import Register
from rightsflow.s3 import s3_client
from rightsflow.stores import SCHEMAS
from tests.support import (
    CAMDEN,
    WFH,
    Authorities,
    assert_absent,
    codec_client,
    raw_history,
    running_worker,
    spaced,
    wait_stage,
)
from workflows.portability_transfer import ApproveTransfer, PortabilityTransfer
from workflows.transfer_intake import TransferIntake

BAGIT = Path(sys.executable).parent / "bagit.py"
HH = SCHEMAS[WFH].tables["household"]
MEMBER = SCHEMAS[WFH].tables["household_member"]
SESSION = SCHEMAS[WFH].tables["hub_session"]
SHARE = SCHEMAS[WFH].tables["partner_share"]


def _family(url: str, index: int = 0) -> tuple[str, list[dict[str, Any]]]:
    with engine_for_url(url).connect() as conn:
        refs = [r[0] for r in conn.execute(select(HH.c.household_ref).order_by(HH.c.household_ref))]
        ref = refs[index]
        people = [dict(r._mapping) for r in conn.execute(select(MEMBER).where(MEMBER.c.household_ref == ref))]
    return ref, people


def _plant_existing_person(receiver_url: str, person: dict[str, Any]) -> None:
    """Camden already knows one member (same NHS number), in a household of its own."""
    with engine_for_url(receiver_url).begin() as conn:
        conn.execute(HH.insert().values(household_ref="CAM0000001", opened_on=date(2025, 1, 6)))
        conn.execute(
            MEMBER.insert().values(
                member_ref="CAM0000001-01",
                household_ref="CAM0000001",
                given_name=person["given_name"],
                family_name=person["family_name"],
                dob=person["dob"],
                nhs_no=person["nhs_no"].replace(" ", ""),
                role=person["role"],
            )
        )


async def _start(
    client: Client, two: Authorities, family_ref: str, **options: Any
) -> tuple[str, WorkflowHandle]:
    from rightsflow.cli.transfer import start_transfer

    options.setdefault("lock_days", 3 / 86400)  # the test's real clock does not skip: a short lock
    options.setdefault("to_task_queue", two.intake_queue)
    return await start_transfer(
        client,
        two.sender,
        load_catalog(two.sender.catalog_dir),
        service=WFH,
        to_authority="camden",
        family_ref=family_ref,
        **options,
    )


async def _wait(handle: WorkflowHandle, *stages: str, timeout: float = 60) -> Any:
    return await wait_stage(handle, PortabilityTransfer.status, *stages, timeout=timeout)


async def _approve(handle: WorkflowHandle) -> None:
    st = await _wait(handle, "awaiting_approval")
    if st.restricted or st.consents_withdrawn:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(PortabilityTransfer.approve, ApproveTransfer())
        assert "override-basis" in str(refused.value.cause)
    await handle.execute_update(
        PortabilityTransfer.approve,
        ApproveTransfer(override_basis="family moved; receiving LA continues support"),
    )


def _nhs_count(url: str, nhs: str) -> int:
    with engine_for_url(url).connect() as conn:
        return conn.execute(select(func.count()).where(MEMBER.c.nhs_no.in_([nhs, spaced(nhs)]))).scalar_one()


def _identifying(person: dict[str, Any]) -> list[str]:
    """A household member's names and NHS number (as stored and without spaces)."""
    nhs = person["nhs_no"]
    values = (person["given_name"], person["family_name"], nhs, (nhs or "").replace(" ", ""))
    return [v for v in values if v]


async def test_two_authorities_end_to_end(two: Authorities, time_skipping_env: Any) -> None:
    env = time_skipping_env
    sender_client = codec_client(env.client, two.sender)
    receiver_client = codec_client(env.client, two.receiver)
    family_ref, people = _family(two.sender_url, 0)
    with_nhs = [p for p in people if p["nhs_no"]]
    _plant_existing_person(two.receiver_url, with_nhs[0])
    async with running_worker(sender_client, two.sender):
        tid, handle = await _start(sender_client, two, family_ref)
        await _approve(handle)
        # the receiver is down: the delivery waits on its task queue
        st = await _wait(handle, "awaiting_acknowledgement")
        assert st.deliveries == 1 and st.acknowledged_on is None
        desc = await env.client.get_workflow_handle(intake_workflow_id(tid)).describe()
        assert desc.status and desc.status.name == "RUNNING"
        async with running_worker(receiver_client, two.receiver):  # the receiver comes up
            st = await _wait(handle, "awaiting_removal")
        assert st.ack_key and st.acknowledged_on and st.members == len(people)
        assert st.records >= len(people) and "hub_session" in st.collections

        # the package in the sender's bucket is a valid BagIt bag (the bagit CLI says so)
        s3 = s3_client(two.sender)
        body = s3.get_object(Bucket=two.sender.s3_bucket, Key=st.package_key)["Body"].read()
        _check_bag(body, tid, two.sender.home / "extract", people)
        # the delivery notice is locked too (every object a transfer writes is)
        from rightsflow.s3 import opaque_key

        notice = opaque_key("inbox", "camden", tid, "attempt-1", "notice.json")
        assert s3.head_object(Bucket=two.sender.s3_bucket, Key=notice).get("ObjectLockRetainUntilDate")

        # every member once in Camden: the one Camden knew is matched, not duplicated
        for p in with_nhs:
            assert _nhs_count(two.receiver_url, p["nhs_no"].replace(" ", "")) == 1
        with engine_for_url(two.receiver_url).connect() as conn:
            n_people = conn.execute(select(func.count()).select_from(MEMBER)).scalar_one()
            n_sessions = conn.execute(select(func.count()).select_from(SESSION)).scalar_one()
        assert n_people == len(people) + 0  # the planted person + the others
        # every session, and each item with no field of its own (the family's new address, as
        # Camden keeps the household it knew) filed as a note and listed as not placed
        imported = next(
            e.detail
            for e in Register(two.receiver).audit_trail(tid)
            if e.action == "transfer_intake.imported"
        )
        as_notes = sum(n["items"] for n in imported["not_placed"] if n["filed_as"] == "Case note")
        assert n_sessions == st.collections["hub_session"] + as_notes
        assert any("already known" in n["label"] for n in imported["not_placed"])

        # importing again (a re-run) inserts nothing
        rcat = load_catalog(two.receiver.catalog_dir)
        intake = TransferIntakeActivities(two.receiver, rcat, Register(two.receiver))
        staged = [
            e.detail["staged_key"]
            for e in Register(two.receiver).audit_trail(tid)
            if "staged_key" in e.detail
        ]
        again = intake.import_bag(ImportInput(transfer_id=tid, target_service=CAMDEN, staged_key=staged[0]))
        assert again.people_new == 0 and sum(again.inserted.values()) == 0
        with engine_for_url(two.receiver_url).connect() as conn:
            assert conn.execute(select(func.count()).select_from(MEMBER)).scalar_one() == n_people

        # the sender: last contact is the transfer date; the receiving authority is in the sharing log
        today = (await env.get_current_time()).date()
        with engine_for_url(two.sender_url).connect() as conn:
            last = conn.execute(
                select(func.max(SESSION.c.session_on)).where(SESSION.c.household_ref == family_ref)
            ).scalar_one()
            shares = conn.execute(
                select(func.count()).where(
                    SHARE.c.partner == "camden", SHARE.c.member_ref.like(f"{family_ref}%")
                )
            ).scalar_one()
        assert abs((last - today).days) <= 1 and shares == len(people)

        await asyncio.sleep(3)  # the package's (test-length) Object Lock runs out in real time
        result = await handle.result()  # skips the removal period; the package goes
    assert result.outcome == "handed_off" and result.deliveries == 1
    assert result.ack and result.ack.people_matched == 1 and result.ack.people_new == len(people) - 1
    versions = s3.list_object_versions(Bucket=two.sender.s3_bucket, Prefix="transfers/").get("Versions", [])
    assert not versions
    trail = [e.action for e in Register(two.sender).audit_trail(tid)]
    for action in (
        "transfer.approved",
        "transfer.packaged",
        "transfer.delivered",
        "transfer.handed_off",
        "transfer.last_contact_set",
        "transfer.package_removed",
    ):
        assert action in trail
    assert Register(two.sender).get_request(tid).status == "closed"

    # no personal data in either history (read without the codec)
    raw = await raw_history(env.client, f"transfer-{tid}", intake_workflow_id(tid))
    for p in people:
        assert_absent(raw, _identifying(p), base64_too=True)


def _check_bag(body: bytes, tid: str, dest: Path, people: list[dict[str, Any]]) -> None:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        zf.extractall(dest)
    root = dest / tid
    proc = subprocess.run(
        [sys.executable, str(BAGIT), "--validate", str(root)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    info = (root / "bag-info.txt").read_text()
    assert "Source-Organization: Westminster City Council" in info
    assert "Rightsflow-Receiving-Organization: camden" in info and f"External-Identifier: {tid}" in info
    assert (root / "manifest-sha256.txt").exists()
    manifest = json.loads((root / "data" / "manifest.json").read_text())
    names = {c["name"] for c in manifest["collections"]}
    assert {"household", "household_member", "hub_session"} <= names
    member = next(c for c in manifest["collections"] if c["name"] == "household_member")
    nhs_field = next(f for f in member["fields"] if f["name"] == "nhs_no")
    assert nhs_field["identity"] == "nhs_number" and nhs_field["data_categories"]
    rows = json.loads((root / "data" / "records" / "household_member.json").read_text())
    assert len(rows) == len(people)
    assert (root / "data" / "records" / "household_member.csv").read_text().count("\n") == len(people) + 1


async def test_tampered_bag_is_rejected_and_resent(two: Authorities, time_skipping_env: Any) -> None:
    env = time_skipping_env
    sender_client = codec_client(env.client, two.sender)
    receiver_client = codec_client(env.client, two.receiver)
    family_ref, people = _family(two.sender_url, 1)
    async with running_worker(sender_client, two.sender):
        tid, handle = await _start(sender_client, two, family_ref)
        await _approve(handle)
        await _wait(handle, "awaiting_acknowledgement")
        # someone alters the copy in the inbox before Camden fetches it
        s3 = s3_client(two.sender)
        key = f"inbox/camden/{tid}/attempt-1/package.zip"
        original = s3.get_object(Bucket=two.sender.s3_bucket, Key=key)["Body"].read()
        buf = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(buf, "w") as out:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename.endswith("records/hub_session.json"):
                    data = data.replace(b'"session_on"', b'"session_on" ', 1)
                out.writestr(item, data)
        tampered = buf.getvalue()
        s3.put_object(
            Bucket=two.sender.s3_bucket,
            Key=key,
            Body=tampered,
            ContentMD5=base64.b64encode(hashlib.md5(tampered, usedforsecurity=False).digest()).decode(),
        )
        async with running_worker(receiver_client, two.receiver):
            st = await _wait(handle, "awaiting_removal")
            intake = await receiver_client.get_workflow_handle(intake_workflow_id(tid)).query(
                TransferIntake.status
            )
        assert st.deliveries == 2 and len(st.rejections) == 1
        assert any("checksum mismatch: data/records/hub_session.json" in r for r in st.rejections[0])
        assert intake.stage == "accepted" and intake.deliveries == 2 and len(intake.rejections) == 1
        for p in people:
            if p["nhs_no"]:
                assert _nhs_count(two.receiver_url, p["nhs_no"].replace(" ", "")) == 1
        rejected = [
            e for e in Register(two.receiver).audit_trail(tid) if e.action == "transfer_intake.rejected"
        ]
        assert len(rejected) == 1 and rejected[0].detail["attempt"] == 1
        await handle.terminate("test done")


async def test_no_acknowledgement_is_escalated(two: Authorities, time_skipping_env: Any) -> None:
    env = time_skipping_env
    sender_client = codec_client(env.client, two.sender)
    family_ref, _ = _family(two.sender_url, 2)
    async with running_worker(sender_client, two.sender):
        # no intake task queue: delivery through the inbox alone (a receiver on another deployment)
        tid, handle = await _start(sender_client, two, family_ref, to_task_queue="")
        await _approve(handle)
        st = await _wait(handle, "awaiting_acknowledgement")
        assert st.acknowledge_by
        # the package sits in Camden's inbox; nobody there acts on it
        s3 = s3_client(two.sender)
        listed = s3.list_objects_v2(Bucket=two.sender.s3_bucket, Prefix=f"inbox/camden/{tid}/attempt-1/")
        assert {o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", [])} == {
            "package.zip",
            "notice.json",
        }
        await env.sleep(timedelta(days=30))
        st = await handle.query(PortabilityTransfer.status)
        assert st.escalated and st.stage == "awaiting_acknowledgement"
        assert st.events == ["reminder_5", "reminder_1", "escalation"]
        trail = Register(two.sender).audit_trail(tid)
        actions = [e.action for e in trail]
        assert actions.count("transfer.reminder") == 2 and "transfer.escalated" in actions
        escalation = next(e for e in trail if e.action == "transfer.escalated")
        assert escalation.detail["acknowledge_by"] == st.acknowledge_by
        assert Register(two.sender).get_request(tid).status != "closed"  # the sender is still responsible
        await handle.terminate("test done")


async def test_commands_start_approve_and_show_both_sides(
    two: Authorities, time_skipping_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    from typer.testing import CliRunner

    from rightsflow.cli.transfer import transfer, transfer_approve, transfer_status

    app = typer.Typer()
    app.command("transfer")(transfer)
    app.command("transfer-approve")(transfer_approve)
    app.command("transfer-status")(transfer_status)
    env = time_skipping_env
    for var, value in (
        ("TEMPORAL_ADDRESS", env.client.service_client.config.target_host),
        ("RIGHTSFLOW_TASK_QUEUE", two.sender.task_queue),
        ("RIGHTSFLOW_S3_ENDPOINT", two.sender.s3_endpoint or ""),
        ("RIGHTSFLOW_S3_BUCKET", two.sender.s3_bucket),
        ("RIGHTSFLOW_INTAKE_QUEUE_CAMDEN", two.intake_queue),
        ("RIGHTSFLOW_TRANSFER_LOCK_DAYS", str(3 / 86400)),
    ):
        monkeypatch.setenv(var, value)
    runner = CliRunner()
    family_ref, people = _family(two.sender_url, 3)
    sender_client = codec_client(env.client, two.sender)
    receiver_client = codec_client(env.client, two.receiver)
    async with running_worker(sender_client, two.sender), running_worker(receiver_client, two.receiver):
        bad = await asyncio.to_thread(runner.invoke, app, ["transfer", "--from", WFH, "--to", "camden"])
        assert bad.exit_code == 2 and "--family" in bad.output
        out = await asyncio.to_thread(
            runner.invoke, app, ["transfer", "--family", family_ref, "--from", WFH, "--to", "camden"]
        )
        assert out.exit_code == 0, out.output
        tid = out.output.strip()
        handle = sender_client.get_workflow_handle(f"transfer-{tid}")
        st = await _wait(handle, "awaiting_approval")
        args = ["transfer-approve", tid, "--override-basis", "family moved; support continues"]
        approved = await asyncio.to_thread(runner.invoke, app, args)
        assert approved.exit_code == 0 and "approved" in approved.output
        again = await asyncio.to_thread(runner.invoke, app, args)
        assert again.exit_code == 2 and "already been approved" in again.output
        await _wait(handle, "awaiting_removal")
        shown = await asyncio.to_thread(runner.invoke, app, ["transfer-status", tid, "--json"])
        assert shown.exit_code == 0, shown.output
        view = json.loads(shown.output)
        assert view["sender"]["stage"] == "awaiting_removal" and view["receiver"]["stage"] == "accepted"
        assert st.members == len(people)
        text = (await asyncio.to_thread(runner.invoke, app, ["transfer-status", tid])).output
        for p in people:
            assert p["family_name"] not in text and p["given_name"] not in text
        await handle.terminate("test done")
