"""Record the workflow histories that tests/test_replay.py replays.

Run by hand, from the repository root, with the virtualenv active::

    python tests/histories/record.py            # every history
    python tests/histories/record.py erasure    # only the named ones (see RECORDED in test_replay)

It starts a Temporal dev server (the ``temporal`` binary next to the interpreter) and a moto S3
server, seeds small synthetic demo stores under a temporary RIGHTSFLOW_HOME, runs each workflow
type once to completion with the in-process worker (``build_worker``) and the fixed test-only
codec key of tests/test_replay.py, and writes ``tests/histories/<name>.json``
(``WorkflowHistory.to_json()``, compact, plus its ``workflowId``). Everything in them is synthetic;
every payload is encrypted (bar search attributes and patch markers, which hold no data).

Record again (and commit the new files) only when a workflow change is deliberately
incompatible with runs in flight; otherwise a failing replay test is the bug.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from rightsflow.catalog import load_catalog  # noqa: E402
from rightsflow.config import Settings, load_settings  # noqa: E402
from rightsflow.identity import SubjectIdentifiers  # noqa: E402
from rightsflow.keys import ensure_hash_key_file  # noqa: E402
from rightsflow.register import Register  # noqa: E402
from rightsflow.seed import seed_stores, shared_child_example  # noqa: E402
from rightsflow.stores import SCHEMAS  # noqa: E402
from tests import support, test_erasure, test_sar, test_subject_search, test_transfer  # noqa: E402
from tests.test_replay import (  # noqa: E402
    HISTORIES,
    RECORDED,
    REPLAY_KEY,
    REPLAY_KEY_ID,
    SEED,
    SEED_AS_OF,
    SEED_FAMILIES,
)

BIN = Path(sys.executable).parent
Recorder = Callable[[Client, Settings], Awaitable[dict[str, WorkflowHandle]]]


def _settings(home: Path, s3_endpoint: str) -> Settings:
    os.environ.update(
        {
            "RIGHTSFLOW_HOME": str(home),
            "RIGHTSFLOW_CODEC_KEY_ID": REPLAY_KEY_ID,
            "RIGHTSFLOW_CODEC_KEY": base64.b64encode(REPLAY_KEY).decode(),
            "RIGHTSFLOW_S3_ENDPOINT": s3_endpoint,
            "RIGHTSFLOW_S3_BUCKET": f"replay-{uuid.uuid4().hex[:8]}",
            "RIGHTSFLOW_S3_ACCESS_KEY": "testing",
            "RIGHTSFLOW_S3_SECRET_KEY": "testing",
            "RIGHTSFLOW_TASK_QUEUE": f"replay-{uuid.uuid4().hex[:8]}",
        }
    )
    for var in ("RIGHTSFLOW_CODEC_PREVIOUS_KEYS", "RIGHTSFLOW_REGISTER_URL", "RIGHTSFLOW_CATALOG"):
        os.environ.pop(var, None)
    s = load_settings()
    ensure_hash_key_file(s)
    urls = support.store_urls(s, SCHEMAS)
    seed_stores(urls, families=SEED_FAMILIES, seed=SEED, as_of=SEED_AS_OF, progress=False)
    Register(s).create_schema()
    return s


async def subject_search(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    child = shared_child_example(support.store_urls(s))
    ids = SubjectIdentifiers.parse(nhs_number=child.nhs_number)
    _, handle, _, _ = await test_subject_search._search(client, s, ids)
    return {"subject_search": handle}


async def subject_access(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from workflows.subject_access import ApproveInput, ExtendInput, SubjectAccessRequest, VerifyInput

    child = shared_child_example(support.store_urls(s))
    today = date.today()
    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        handle, _, _ = await test_sar._file(
            client, s, SubjectIdentifiers.parse(nhs_number=child.nhs_number), today, **test_sar.QUICK_RETRY
        )
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        await handle.execute_update(
            SubjectAccessRequest.extend, ExtendInput(reason="records across several services")
        )
        await test_sar._wait_stage(handle, "awaiting_review")
        await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        assert (await handle.result()).outcome == "delivered"
    return {"subject_access": handle}


async def erasure(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from workflows.erasure import DecideInput, Erasure, ErasureInput

    child = test_erasure._prepare(s)
    _, ref, req = support.file_request(s, "erasure", child.nhs, SEED_AS_OF)
    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        handle = await client.start_workflow(
            Erasure.run,
            ErasureInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=SEED_AS_OF.isoformat(),
                ground="consent-withdrawn",
                services=[support.FT, support.CSC],
            ),
            id=f"erasure-{req.request_id}",
            task_queue=s.task_queue,
        )
        await support.wait_stage(handle, Erasure.status, "awaiting_decision")
        await handle.execute_update(
            Erasure.decide, DecideInput(confirm_proposals=True, decided_by="dpo-replay")
        )
        await handle.result()
    return {"erasure": handle}


async def restriction(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from workflows.restriction import LiftInput, Restriction, RestrictionInput, ShortenInput

    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        child = test_erasure._prepare(s)
        _, ref, req = support.file_request(s, "restriction", child.nhs, SEED_AS_OF)
        handle = await client.start_workflow(
            Restriction.run,
            RestrictionInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=SEED_AS_OF.isoformat(),
                reason="accuracy",
                services=[support.FT, support.CSC],
            ),
            id=f"restriction-{req.request_id}",
            task_queue=s.task_queue,
        )
        await support.wait_stage(handle, Restriction.status, "restricted")
        await handle.execute_update(Restriction.lift, LiftInput(reason="accuracy verified"))
        await support.wait_stage(handle, Restriction.status, "lift_notified")
        await handle.execute_update(Restriction.shorten, ShortenInput(days=0))
        assert await handle.result() == "lifted"
    return {"restriction": handle}


async def rectification(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from workflows.rectification import Rectification, RectificationInput, RectifyDecision

    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        child = test_erasure._prepare(s)
        _, ref, req = support.file_request(s, "rectification", child.nhs, SEED_AS_OF)
        handle = await client.start_workflow(
            Rectification.run,
            RectificationInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=SEED_AS_OF.isoformat(),
                field="date_of_birth",
                value="2016-02-29",
                services=[support.FT, support.CSC],
            ),
            id=f"rectification-{req.request_id}",
            task_queue=s.task_queue,
        )
        await support.wait_stage(handle, Rectification.status, "awaiting_decision")
        await handle.execute_update(
            Rectification.decide, RectifyDecision(accept=True, decided_by="dpo-replay")
        )
        assert (await handle.result()).stage == "completed"
    return {"rectification": handle}


async def objection(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from workflows.objection import Objection, ObjectionDecideInput, ObjectionDecision, ObjectionInput
    from workflows.restriction import ShortenInput

    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        child = test_erasure._prepare(s)
        _, ref, req = support.file_request(s, "objection", child.nhs, SEED_AS_OF)
        handle = await client.start_workflow(
            Objection.run,
            ObjectionInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=SEED_AS_OF.isoformat(),
                services=[support.FT, support.CSC],
            ),
            id=f"objection-{req.request_id}",
            task_queue=s.task_queue,
        )
        await support.wait_stage(handle, Objection.status, "awaiting_decision")
        await handle.execute_update(
            Objection.decide,
            ObjectionDecideInput(
                decisions=[
                    ObjectionDecision(service=support.CSC, decision="override", reason="statutory duties")
                ],
                decided_by="dpo-replay",
            ),
        )
        await support.wait_stage(handle, Objection.status, "lift_notified")
        await handle.execute_update(Objection.shorten, ShortenInput(days=0))
        await handle.result()
    return {"objection": handle}


async def consent_withdrawal(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from workflows.objection import ConsentWithdrawal, ConsentWithdrawalInput

    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        child = test_erasure._prepare(s)
        _, ref, req = support.file_request(s, "consent_withdrawal", child.nhs, SEED_AS_OF)
        handle = await client.start_workflow(
            ConsentWithdrawal.run,
            ConsentWithdrawalInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=SEED_AS_OF.isoformat(),
                services=[support.FT],
            ),
            id=f"consent-withdrawal-{req.request_id}",
            task_queue=s.task_queue,
        )
        await handle.result()
    return {"consent_withdrawal": handle}


def _camden_beside(s: Settings, folder: str) -> support.Authorities:
    """Westminster (the recorder's settings) as sender and a fresh Camden as receiver."""
    receiver, receiver_url = support.camden_receiver(s, s.home.parent / folder, uuid.uuid4().hex[:8])
    sender_url = load_catalog(s.catalog_dir)[support.WFH].store.resolved_url(s.home)
    return support.Authorities(s, receiver, sender_url, receiver_url, receiver.task_queue)


async def transfer(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from rightsflow.transfer_exchange import intake_workflow_id

    two = _camden_beside(s, "camden")
    receiver, sender_url = two.receiver, two.sender_url
    family_ref, _ = test_transfer._family(sender_url, 0)
    sender_client = support.codec_client(client, s)
    receiver_client = support.codec_client(client, receiver)
    async with support.running_worker(sender_client, s), support.running_worker(receiver_client, receiver):
        tid, handle = await test_transfer._start(
            sender_client, two, family_ref, lock_days=2 / 86400, remove_after_days=3 / 86400
        )
        await test_transfer._approve(handle)
        assert (await asyncio.wait_for(handle.result(), 60)).outcome == "handed_off"
        intake = receiver_client.get_workflow_handle(intake_workflow_id(tid))
        await intake.result()
    return {"portability_transfer": handle, "transfer_intake": intake}


async def portability_person(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from rightsflow.cli.portability import start_portability
    from workflows.portability_person import ApprovePortability, PortabilityToPerson

    url = load_catalog(s.catalog_dir)[support.WFH].store.resolved_url(s.home)
    # a child of a household the transfer recorder does not move (it takes the first)
    child = next(
        p
        for index in range(1, SEED_FAMILIES)
        for p in test_transfer._family(url, index)[1]
        if p["role"] == "child" and p["nhs_no"]
    )
    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        _, handle = await start_portability(
            client,
            s,
            load_catalog(s.catalog_dir),
            service=support.WFH,
            ids=SubjectIdentifiers.parse(nhs_number=child["nhs_no"]),
            received=SEED_AS_OF,
            lock_days=2 / 86400,  # the dev server's clock is real: a short lock and removal period
            link_expiry_hours=1,
            remove_after_days=3 / 86400,
        )
        await support.wait_stage(handle, PortabilityToPerson.status, "awaiting_approval")
        await handle.execute_update(PortabilityToPerson.approve, ApprovePortability(decided_by="dpo-replay"))
        assert (await asyncio.wait_for(handle.result(), 60)).outcome == "sent"
    return {"portability_person": handle}


async def transfer_inbox_scan(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    """A transfer delivered to the inbox alone (no signal-with-start), taken by Camden's scan."""
    from activities.transfer_inbox import InboxScanInput
    from rightsflow.transfer_exchange import intake_workflow_id
    from workflows.transfer_inbox_scan import TransferInboxScan

    two = _camden_beside(s, "camden-inbox")
    receiver = two.receiver
    family_ref, _ = test_transfer._family(two.sender_url, 2)
    sender_client = support.codec_client(client, s)
    receiver_client = support.codec_client(client, receiver)
    async with support.running_worker(sender_client, s), support.running_worker(receiver_client, receiver):
        tid, transfer = await test_transfer._start(
            sender_client, two, family_ref, to_task_queue="", ack_poll_hours=1
        )
        await test_transfer._approve(transfer)
        await test_transfer._wait(transfer, "awaiting_acknowledgement")
        handle = await receiver_client.start_workflow(
            TransferInboxScan.run,
            InboxScanInput(authority="camden", bucket=s.s3_bucket),
            id=f"transfer-inbox-scan-replay-{uuid.uuid4().hex[:8]}",
            task_queue=receiver.task_queue,
        )
        assert (await handle.result()).started == [tid]
        await receiver_client.get_workflow_handle(intake_workflow_id(tid)).result()
        await transfer.terminate("recorded")  # its hourly acknowledgement poll is not recorded
    return {"transfer_inbox_scan": handle}


async def retention(client: Client, s: Settings) -> dict[str, WorkflowHandle]:
    from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

    services = ["westminster_family_hub", "manchester_thriving_families"]
    client = support.codec_client(client, s)
    async with support.running_worker(client, s):
        handle = await client.start_workflow(
            RetentionSweep.run,
            RetentionSweepInput(as_of=SEED_AS_OF.isoformat(), services=services, batch_size=5),
            id=f"retention-replay-{uuid.uuid4().hex[:8]}",
            task_queue=s.task_queue,
        )
        result = await handle.result()
    assert sum(r.counts.disposed + r.counts.anonymised for r in result.services) > 0
    child = client.get_workflow_handle(f"{handle.id}--{services[0]}")
    return {"retention_sweep": handle, "service_sweep": child}


# Order matters: the retention sweep runs last (it disposes of what the others look for); the rights
# requests run before the erasure (which erases the child they are about).
RECORDERS: list[tuple[Recorder, tuple[str, ...]]] = [
    (subject_search, ("subject_search",)),
    (subject_access, ("subject_access",)),
    (restriction, ("restriction",)),
    (rectification, ("rectification",)),
    (objection, ("objection",)),
    (consent_withdrawal, ("consent_withdrawal",)),
    (erasure, ("erasure",)),
    (transfer, ("portability_transfer", "transfer_intake")),
    (portability_person, ("portability_person",)),
    (transfer_inbox_scan, ("transfer_inbox_scan",)),
    (retention, ("retention_sweep", "service_sweep")),
]


async def main(only: set[str]) -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = support.free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), ui=False, dev_server_log_level="error"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="rightsflow-replay-") as tmp:
            s = _settings(Path(tmp) / "home", f"http://127.0.0.1:{port}")
            for recorder, names in RECORDERS:
                if only and not only & set(names):
                    continue  # a recorder whose histories are not asked for
                handles = await recorder(env.client, s)
                for name, handle in handles.items():
                    if only and name not in only:
                        continue
                    history = await handle.fetch_history()
                    path = HISTORIES / f"{name}.json"
                    # WorkflowHistory.to_json() without its indentation (a third smaller), with
                    # the workflow id, which replay needs (workflows derive child ids from it)
                    doc = {"workflowId": history.workflow_id, **history.to_json_dict()}
                    text = json.dumps(doc, separators=(",", ":"))
                    path.write_text(text + "\n", encoding="utf-8")
                    print(f"{path.relative_to(REPO)}: {len(history.events)} events")
    finally:
        await env.shutdown()
        moto.stop()


if __name__ == "__main__":
    names = set(sys.argv[1:])
    unknown = names - set(RECORDED)
    if unknown:
        sys.exit(f"unknown history: {', '.join(sorted(unknown))} (known: {', '.join(sorted(RECORDED))})")
    asyncio.run(main(names))
