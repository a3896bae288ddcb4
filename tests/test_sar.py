"""SubjectAccessRequest end to end on real Temporal servers, seeded stores and an S3 server (moto)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
import socket
import urllib.request
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from rightsflow.catalog import load_catalog
from rightsflow.clock import LONDON
from rightsflow.codec import data_converter
from rightsflow.config import Settings
from rightsflow.db import engine_for_url
from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import Register
from rightsflow.seed import PERSON_TABLES, seed_stores, shared_child_example
from rightsflow.stores import SCHEMAS
from rightsflow.worker import build_worker
from workflows.subject_access import (
    ApproveInput,
    SarInput,
    SubjectAccessRequest,
    VerifyInput,
)

AS_OF = date(2026, 11, 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def sar_settings(settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    bucket = f"archive-{uuid.uuid4().hex[:8]}"
    for var, value in (
        ("RIGHTSFLOW_S3_ENDPOINT", s3_endpoint),
        ("RIGHTSFLOW_S3_BUCKET", bucket),
        ("RIGHTSFLOW_S3_ACCESS_KEY", "testing"),
        ("RIGHTSFLOW_S3_SECRET_KEY", "testing"),
    ):
        monkeypatch.setenv(var, value)
    s = dataclasses.replace(
        settings,
        s3_endpoint=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key="testing",
        s3_secret_key="testing",
        task_queue=f"sar-{uuid.uuid4().hex[:8]}",
    )
    cat = load_catalog(s.catalog_dir)
    urls = {svc.service: svc.store.resolved_url(s.home) for svc in cat}
    seed_stores(urls, families=40, seed=11, as_of=AS_OF, progress=False)
    Register(s).create_schema()
    return s


def _urls(settings: Settings) -> dict[str, str]:
    return {svc.service: svc.store.resolved_url(settings.home) for svc in load_catalog(settings.catalog_dir)}


def _codec_client(client: Client, settings: Settings) -> Client:
    return Client(**{**client.config(), "data_converter": data_converter(settings)})


@asynccontextmanager
async def _worker(client: Client, settings: Settings) -> AsyncIterator[None]:
    with ThreadPoolExecutor(16) as pool:
        async with build_worker(client, settings, pool):
            yield


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
    for _ in range(int(timeout * 10)):
        st = await handle.query(SubjectAccessRequest.status)
        if st.stage == stage:
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(f"stage {stage} not reached; last {st.stage}: {st.services}")


async def _today(env) -> date:  # type: ignore[no-untyped-def]
    return (await env.get_current_time()).astimezone(LONDON).date()


def _sibling(urls: dict[str, str], service: str, child_nhs: str) -> dict[str, str | None]:
    """Another child of the shared child's family, read straight from one store."""
    table_name, key, nhs_col, dob_col, given_col, family_col = PERSON_TABLES[service]
    t = SCHEMAS[service].tables[table_name]
    spaced = f"{child_nhs[:3]} {child_nhs[3:6]} {child_nhs[6:]}"
    with engine_for_url(urls[service]).connect() as conn:
        me = conn.execute(select(t).where(t.c[nhs_col].in_([child_nhs, spaced]))).mappings().one()
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
    urls = _urls(settings)
    child = shared_child_example(urls)
    client = _codec_client(time_skipping_env.client, settings)
    today = await _today(time_skipping_env)
    async with _worker(client, settings):
        handle, request_id, register = await _file(
            client, settings, SubjectIdentifiers.parse(nhs_number=child.nhs_number), today
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
    assert {s["service"] for s in export["services"]} >= set(child.services)
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
