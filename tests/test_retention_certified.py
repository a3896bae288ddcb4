"""Every household a sweep disposes of is in exactly one locked certificate, sweep after sweep.

Two sweeps on one day (review decisions in between) each certify what they disposed of; a store
that reuses household keys after a reload has its new households assessed and certified, not
mistaken for the ones disposed of earlier under the same keys.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from sqlalchemy import select
from temporalio.client import Client
from temporalio.worker import Worker

from activities.retention import RetentionActivities
from rightsflow.catalog import load_catalog
from rightsflow.config import Settings
from rightsflow.db import engine_for_url
from rightsflow.register import AuditEntry, Register
from rightsflow.retention import RetentionDisposal
from rightsflow.review import decide, list_reviews
from rightsflow.s3 import object_lock_of, s3_client
from rightsflow.seed import seed_stores
from rightsflow.stores import SCHEMAS
from tests.support import AS_OF, codec_client, store_urls
from tests.test_retention_review import _family
from workflows.retention_sweep import RetentionSweep, RetentionSweepInput, ServiceSweep

CSC = "lewisham_childrens_social_care"
HUB = "westminster_family_hub"
MTF = "manchester_thriving_families"


@asynccontextmanager
async def _sweeper(client: Client, s: Settings) -> AsyncIterator[Any]:
    acts = RetentionActivities(s, load_catalog(s.catalog_dir), Register(s))
    client = codec_client(client, s)

    async def sweep(as_of: date, services: list[str]) -> Any:
        return await client.execute_workflow(
            RetentionSweep.run,
            RetentionSweepInput(as_of=as_of.isoformat(), services=services, batch_size=25),
            id=f"retention-certified-{uuid.uuid4().hex[:8]}",
            task_queue=s.task_queue,
        )

    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            client,
            task_queue=s.task_queue,
            workflows=[RetentionSweep, ServiceSweep],
            activities=[
                acts.retention_services,
                acts.count_people,
                acts.sweep_batches,
                acts.finish_service,
                acts.review_reminders,
            ],
            activity_executor=pool,
        ):
            yield sweep


def _disposals(s: Settings) -> list[Any]:
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    with Register(s).engine.connect() as c:
        return c.execute(select(t.c.service, t.c.household_ref, t.c.sweep_id, t.c.status)).all()


def _certified(s: Settings) -> Counter[tuple[str, str]]:
    """(service, household ref) -> how many locked certificate manifests name it."""
    client = s3_client(s)
    seen: Counter[tuple[str, str]] = Counter()
    listing = client.list_objects_v2(Bucket=s.s3_bucket, Prefix="retention/certificates/")
    for obj in listing.get("Contents", []):
        if not obj["Key"].endswith(".manifest.json"):
            continue
        lock = object_lock_of(client, s.s3_bucket, obj["Key"])
        assert lock["mode"] == "COMPLIANCE" and lock["retain_until"].year >= 2050
        manifest = json.loads(client.get_object(Bucket=s.s3_bucket, Key=obj["Key"])["Body"].read())
        seen.update((manifest["service"], h["ref"]) for h in manifest["households"])
    return seen


def _swept(s: Settings) -> list[dict[str, Any]]:
    with Register(s).engine.connect() as c:
        entries = c.execute(
            select(AuditEntry.service, AuditEntry.detail).where(AuditEntry.action == "retention.swept")
        ).all()
        return [{**json.loads(detail), "service": service} for service, detail in entries]


def _text_on_the_page(pdf: bytes) -> str:
    """Every page's text inside the page's edges, whitespace removed (line breaks fall anywhere)."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    out = []
    for page in doc:
        width, height = page.get_size()
        out.append("".join(page.get_textpage().get_text_bounded(0, 0, width, height).split()))
    return "".join(out)


def _each_disposal_certified_once(s: Settings) -> None:
    rows = _disposals(s)
    assert rows and all(r.status == "done" for r in rows)
    certified = _certified(s)
    assert certified == Counter((r.service, r.household_ref) for r in rows)
    # And each sweep's audit entry counts what its certificate holds.
    by_sweep = Counter((r.service, r.sweep_id) for r in rows)
    audited = {(d["service"], d["sweep_id"]): d["disposed_households"] for d in _swept(s)}
    assert {k: v for k, v in audited.items() if v} == dict(by_sweep)


async def test_two_sweeps_on_one_day_with_review_decisions_between_certify_every_disposal(
    rs, time_skipping_env
):
    engine = engine_for_url(store_urls(rs, [CSC])[CSC])
    SCHEMAS[CSC].create_all(engine)
    for pid in (100, 200, 300):
        _family(engine, pid, "CIN")  # child in need: one review stage
    cat, register = load_catalog(rs.catalog_dir), Register(rs)
    day = date(2026, 11, 3)
    async with _sweeper(time_skipping_env.client, rs) as sweep:
        opened = await sweep(AS_OF, [CSC])
        assert opened.services[0].counts.awaiting_review == 3
        first_item, *others = list_reviews(register.engine, CSC)
        decide(rs, cat, register, first_item.ref, by="Reviewer One", approve=True)
        first = await sweep(day, [CSC])
        for item in others:
            decide(rs, cat, register, item.ref, by="Reviewer One", approve=True)
        second = await sweep(day, [CSC])
    assert (first.services[0].counts.disposed, second.services[0].counts.disposed) == (1, 2)
    assert first.sweep_id != second.sweep_id
    assert first.services[0].certificate_key != second.services[0].certificate_key
    _each_disposal_certified_once(rs)


async def test_a_store_reusing_household_keys_after_a_reload_has_every_disposal_certified(
    rs, time_skipping_env
):
    services = [HUB, MTF]
    urls = store_urls(rs, services)
    seed_stores(urls, families=40, seed=11, as_of=AS_OF, progress=False)
    async with _sweeper(time_skipping_env.client, rs) as sweep:
        first = await sweep(AS_OF, services)
        # The stores are reloaded: new families under the same store keys (SQLite rowids again).
        seed_stores(urls, families=40, seed=12, as_of=AS_OF, progress=False, replace=True)
        second = await sweep(AS_OF, services)
    done = {r.service: r.counts for r in first.services}
    again = {r.service: r.counts for r in second.services}
    assert done[HUB].disposed > 0 and done[MTF].anonymised > 0
    for service in services:
        # Every new household was assessed as itself: none taken for an earlier anonymisation,
        # and as many disposed of as the first time round (the same kind of data, new people).
        assert again[service].already_anonymised == 0, service
        assert again[service].disposed + again[service].anonymised > 0, service
    _each_disposal_certified_once(rs)
    assert len(_disposals(rs)) == sum(
        c.disposed + c.anonymised + c.archived for c in [*done.values(), *again.values()]
    )


def test_the_certificate_pdf_prints_every_rule_source_in_full(rs):
    """The PDF a records manager files holds each rule's source whole, not cut at the page edge.

    pypdf reads the text layer, which keeps text drawn past the page's edge; PDFium reads back
    only what lies within the page, which is what a printed or viewed certificate shows."""
    import io

    from pypdf import PdfReader

    from activities.retention import FinishServiceInput, SweepCounts, finish_service

    cat = load_catalog(rs.catalog_dir)
    acts = RetentionActivities(rs, cat, Register(rs))
    acts._s3 = None  # the moto S3 client, with the archive bucket
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    for svc in cat:
        sweep_id = f"sweep-{AS_OF}-pdf"
        rows = [
            {
                "service": svc.service,
                "household_ref": f"{n:064x}",
                "sweep_id": sweep_id,
                "rule_id": rule.rule_id,
                "action": rule.disposal_action,
                "status": "done",
                "due_on": AS_OF,
                "disposed_on": AS_OF,
                "people": 2,
                "rows": 9,
            }
            for n, rule in enumerate(svc.retention)
        ]
        with Register(rs).engine.begin() as c:
            c.execute(t.insert(), rows)
        fin = finish_service(
            acts,
            FinishServiceInput(
                sweep_id=sweep_id,
                service=svc.service,
                as_of=AS_OF.isoformat(),
                approved_by="Records Manager",
                counts=SweepCounts(),
            ),
        )
        assert fin.certificate_key
        pdf_key = fin.certificate_key.replace(".html", ".pdf")
        body = s3_client(rs).get_object(Bucket=rs.s3_bucket, Key=pdf_key)["Body"].read()
        full = "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(body)).pages)
        text = _text_on_the_page(body)
        for rule in svc.retention:
            assert "".join(rule.source.split()) in full, (svc.service, rule.rule_id)
            assert "".join(rule.source.split()) in text, (svc.service, rule.rule_id)
            assert "".join(rule.record_class.split()) in text, (svc.service, rule.rule_id)
