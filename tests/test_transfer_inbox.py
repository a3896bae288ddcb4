"""Receiving authorities on separate deployments: Camden's inbox scan starts its intake from the
delivery notice alone (no signal-with-start from Westminster), exactly once; the acknowledgement
goes back through S3 and Westminster's workflow completes from it without any signal."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from activities.transfer import exchange_ack_key, intake_workflow_id
from activities.transfer_inbox import InboxScanInput, InboxScanResult, TransferInboxActivities
from rightsflow.catalog import load_catalog
from rightsflow.register import Register
from rightsflow.s3 import s3_client
from tests.support import Authorities, assert_absent, codec_client, raw_history, running_worker
from tests.test_transfer import _approve, _family, _identifying, _start, _wait
from workflows.portability_transfer import PortabilityTransfer
from workflows.transfer_inbox_scan import TransferInboxScan
from workflows.transfer_intake import TransferIntake


async def _scan(client: Client, auth: Authorities) -> InboxScanResult:
    return await client.execute_workflow(
        TransferInboxScan.run,
        InboxScanInput(authority="camden", bucket=auth.sender.s3_bucket),
        id=f"transfer-inbox-scan-{uuid.uuid4().hex[:8]}",
        task_queue=auth.receiver.task_queue,
    )


async def _inbox_only_transfer(client: Client, auth: Authorities, index: int) -> tuple[str, WorkflowHandle]:
    """A transfer delivered to the inbox alone: no intake task queue, so no signal-with-start."""
    family_ref, _ = _family(auth.sender_url, index)
    tid, handle = await _start(client, auth, family_ref, to_task_queue="", ack_poll_hours=1)
    await _approve(handle)
    st = await _wait(handle, "awaiting_acknowledgement")
    assert st.deliveries == 1
    return tid, handle


def _events(history: Any, kind: str) -> list[Any]:
    return [e for e in history.events if e.WhichOneof("attributes") == kind]


async def test_inbox_scan_starts_the_intake_once(
    two: Authorities,
    time_skipping_env: Any,
    tmp_path: Path,
) -> None:
    env = time_skipping_env
    sender_client = codec_client(env.client, two.sender)
    receiver_client = codec_client(env.client, two.receiver)
    async with running_worker(sender_client, two.sender), running_worker(receiver_client, two.receiver):
        tid, handle = await _inbox_only_transfer(sender_client, two, 4)
        intake = receiver_client.get_workflow_handle_for(TransferIntake.run, intake_workflow_id(tid))
        first = await _scan(receiver_client, two)
        second = await _scan(receiver_client, two)
        assert first.notices == 1 and first.started == [tid] and first.invalid == 0
        assert second.notices == 1 and second.started == [] and second.already_taken == 1
        accepted = await intake.result()
        assert accepted.outcome == "accepted" and accepted.attempts == 1

        # a scan that has lost its register (or crashed before recording) still starts nothing:
        # the finished intake's id is never reused
        fresh = Register(two.receiver, url=f"sqlite:///{tmp_path / 'fresh-register.db'}")
        fresh.create_schema()
        scanner = TransferInboxActivities(
            two.receiver, load_catalog(two.receiver.catalog_dir), fresh, client=receiver_client
        )
        third = await scanner.scan_transfer_inbox(
            InboxScanInput(authority="camden", bucket=two.sender.s3_bucket)
        )
        assert third.started == [] and third.closed == 1

        history = await env.client.get_workflow_handle(intake_workflow_id(tid)).fetch_history()
        assert len(_events(history, "workflow_execution_started_event_attributes")) == 1
        signals = _events(history, "workflow_execution_signaled_event_attributes")
        assert [s.workflow_execution_signaled_event_attributes.signal_name for s in signals] == ["deliver"]
        # separate deployments: the intake never tries to signal the sender
        assert not _events(history, "signal_external_workflow_execution_initiated_event_attributes")
        taken = [
            e for e in Register(two.receiver).audit_trail(tid) if e.action == "transfer_intake.notice_taken"
        ]
        assert len(taken) == 1
        await handle.terminate("test done")


async def test_sender_completes_from_the_s3_acknowledgement(
    two: Authorities,
    time_skipping_env: Any,
) -> None:
    env = time_skipping_env
    sender_client = codec_client(env.client, two.sender)
    receiver_client = codec_client(env.client, two.receiver)
    s3 = s3_client(two.sender)
    family_ref, people = _family(two.sender_url, 5)
    async with running_worker(sender_client, two.sender), running_worker(receiver_client, two.receiver):
        tid, handle = await _inbox_only_transfer(sender_client, two, 5)
        key = exchange_ack_key("camden", tid)
        # a document that acknowledges some other package is not an acknowledgement of ours
        forged = {
            "transfer_id": tid,
            "to_authority": "camden",
            "package_sha256": "0" * 64,
            "accepted_on": "2026-01-01",
        }
        s3.put_object(Bucket=two.sender.s3_bucket, Key=key, Body=json.dumps(forged).encode())
        await env.sleep(timedelta(hours=2))  # two polls
        st = await handle.query(PortabilityTransfer.status)
        assert st.stage == "awaiting_acknowledgement" and st.acknowledged_on is None
        assert "transfer.acknowledgement_invalid" in [e.action for e in Register(two.sender).audit_trail(tid)]

        scanned = await _scan(receiver_client, two)
        assert scanned.started == [tid]
        accepted = await receiver_client.get_workflow_handle_for(
            TransferIntake.run, intake_workflow_id(tid)
        ).result()
        assert accepted.ack and accepted.ack.ack_key != key  # Camden's own locked copy, in its bucket
        await env.sleep(timedelta(hours=1, minutes=5))  # the next poll finds Camden's acknowledgement
        st = await _wait(handle, "awaiting_removal")
    assert st.ack_key == key and st.acknowledged_on == accepted.ack.accepted_on and not st.escalated
    assert st.events == []  # found before any reminder was due
    doc = json.loads(s3.get_object(Bucket=two.sender.s3_bucket, Key=key)["Body"].read())
    packaged = next(e for e in Register(two.sender).audit_trail(tid) if e.action == "transfer.packaged")
    assert doc["package_sha256"] == packaged.detail["sha256"] and doc["transfer_id"] == tid
    assert doc["to_authority"] == "camden" and doc["people_new"] + doc["people_matched"] == len(people)
    lock = s3.head_object(Bucket=two.sender.s3_bucket, Key=key)
    assert lock.get("ObjectLockMode") == "COMPLIANCE"
    trail = [e.action for e in Register(two.sender).audit_trail(tid)]
    assert "transfer.acknowledgement_read" in trail and "transfer.handed_off" in trail

    # no signal reached the sender: it completed from S3
    sender_history = await env.client.get_workflow_handle(f"transfer-{tid}").fetch_history()
    assert not _events(sender_history, "workflow_execution_signaled_event_attributes")
    # no personal data in any history (read without the codec)
    raw = await raw_history(env.client, f"transfer-{tid}", intake_workflow_id(tid))
    for p in people:
        assert_absent(raw, _identifying(p), base64_too=True)
    await handle.terminate("test done")


async def test_a_rejection_travels_back_through_s3_and_the_sender_resends(
    two: Authorities,
    time_skipping_env: Any,
) -> None:
    """Camden, on another deployment, rejects a damaged delivery: its locked rejection.json beside
    the delivery is found by Westminster's poll, which resends from the locked master copy."""
    from activities.transfer import exchange_rejection_key
    from rightsflow.s3 import opaque_key

    env = time_skipping_env
    sender_client = codec_client(env.client, two.sender)
    receiver_client = codec_client(env.client, two.receiver)
    s3 = s3_client(two.sender)
    async with running_worker(sender_client, two.sender), running_worker(receiver_client, two.receiver):
        tid, handle = await _inbox_only_transfer(sender_client, two, 6)
        inbox = opaque_key("inbox", "camden", tid, "attempt-1", "package.zip")
        body = s3.get_object(Bucket=two.sender.s3_bucket, Key=inbox)["Body"].read()
        s3.put_object(Bucket=two.sender.s3_bucket, Key=inbox, Body=body[:-10] + b"0123456789")  # damaged
        assert (await _scan(receiver_client, two)).started == [tid]
        key = exchange_rejection_key("camden", tid, 1)
        for _ in range(100):  # the intake validates and rejects
            st = await receiver_client.get_workflow_handle(intake_workflow_id(tid)).query(
                TransferIntake.status
            )
            if st.rejections:
                break
            await env.sleep(timedelta(seconds=1))
        doc = json.loads(s3.get_object(Bucket=two.sender.s3_bucket, Key=key)["Body"].read())
        assert doc["attempt"] == 1 and doc["transfer_id"] == tid and doc["reasons"]
        assert s3.head_object(Bucket=two.sender.s3_bucket, Key=key).get("ObjectLockMode") == "COMPLIANCE"
        await env.sleep(timedelta(hours=1, minutes=5))  # the sender's next poll
        st = await _wait(handle, "awaiting_acknowledgement")
        for _ in range(50):
            st = await handle.query(PortabilityTransfer.status)
            if st.deliveries == 2:
                break
            await env.sleep(timedelta(seconds=1))
    assert st.deliveries == 2 and st.rejections == [doc["reasons"]]
    trail = [e.action for e in Register(two.sender).audit_trail(tid)]
    assert "transfer.rejection_read" in trail and "transfer.rejected_by_receiver" in trail
    await handle.terminate("test done")
