"""End to end through Temporal, a family moves from each of the five demo services (three
authorities, four case systems) to Camden Family Support, whose schema is none of theirs: every
transfer is acknowledged and every person is found at Camden by NHS number, with the date of birth
the sender had. Then a subject access request filed at Camden for a transferred child gathers the
imported records from Camden's own store into the pack.

One time-skipping server, one S3 server, one sending deployment (all five services seeded) and one
receiving deployment serve the whole module, so the five transfers stay quick."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import urllib.request
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from activities.transfer import family_records, household_members
from rightsflow.canonical import export_record
from rightsflow.catalog import load_catalog
from rightsflow.clock import LONDON
from rightsflow.config import Settings, load_settings
from rightsflow.db import engine_for_url
from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import Register
from rightsflow.seed import PERSON_TABLES
from rightsflow.storemap import StoreMap
from rightsflow.stores import SCHEMAS
from tests.support import (
    S3_KEYS_ENV,
    codec_client,
    export_env,
    on_moto,
    running_worker,
    seed_demo,
    store_urls,
    wait_stage,
)
from tests.test_transfer import _approve, _wait
from workflows.subject_access import ApproveInput, SarInput, SubjectAccessRequest, VerifyInput

CF = "camden_family_support"
SENDERS = (
    "lewisham_family_thrive",
    "lewisham_childrens_social_care",
    "lewisham_early_help",
    "westminster_family_hub",
    "manchester_thriving_families",
)
CF_PERSON = SCHEMAS[CF].tables["cfs_person"]
CF_NOTE = SCHEMAS[CF].tables["cfs_note"]
WITHHELD = "[withheld: third party]"


@dataclasses.dataclass
class Moved:
    """One family's transfer: who moved (NHS number -> date of birth), its case-note texts."""

    transfer_id: str
    status: Any
    people: dict[str, date]
    notes: set[str]


@dataclasses.dataclass
class World:
    sender: Settings
    receiver: Settings
    sender_urls: dict[str, str]
    receiver_url: str
    moved: dict[str, Moved] = dataclasses.field(default_factory=dict)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Any:
    from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file

    root = tmp_path_factory.mktemp("five-to-camden")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RIGHTSFLOW_HOME", str(root / "sender"))
        for var in (
            "RIGHTSFLOW_CODEC_KEY",
            "RIGHTSFLOW_CODEC_KEY_ID",
            "RIGHTSFLOW_HASH_KEY",
            "RIGHTSFLOW_CATALOG",
        ):
            mp.delenv(var, raising=False)
        base = load_settings()
        ensure_codec_key_file(base)
        ensure_hash_key_file(base)
        sender = on_moto(base, s3_endpoint, bucket="senders-five", task_queue="senders-five")
        export_env(mp, sender, S3_KEYS_ENV)
        urls = store_urls(sender, SENDERS)
        seed_demo(urls, families=12)
        Register(sender).create_schema()

        # Camden's own deployment, running Camden Family Support (its catalogue knows only Camden)
        home = root / "camden"
        folder = home / "catalog"
        (folder / "controllers").mkdir(parents=True)
        shutil.copy(Path("catalog") / f"{CF}.yaml", folder / f"{CF}.yaml")
        shutil.copy(Path("catalog") / "controllers" / "camden.yaml", folder / "controllers" / "camden.yaml")
        receiver = dataclasses.replace(
            sender,
            home=home,
            catalog_dir=folder,
            register_url=f"sqlite:///{home / 'register.db'}",
            s3_bucket="camden-five",
            task_queue="rightsflow-intake-camden-five",
        )
        receiver_url = load_catalog(folder)[CF].store.resolved_url(home)
        SCHEMAS[CF].create_all(engine_for_url(receiver_url))
        Register(receiver).create_schema()
        yield World(sender, receiver, urls, receiver_url)


def _a_family(world: World, service: str) -> tuple[str, dict[str, date], set[str]]:
    """A family of the sender's store, as the sender has it: the NHS number of one member (not a
    professional) to transfer by, every member's date of birth by NHS number, the note texts."""
    cat = load_catalog(world.sender.catalog_dir)[service]
    smap = StoreMap(cat)
    subj = cat.subject
    table, _, nhs_col, dob_col, _, _ = PERSON_TABLES[service]
    engine = engine_for_url(world.sender_urls[service])
    person = smap.t(subj.collection)
    with engine.connect() as conn:
        q = select(person.c[subj.key], person.c[nhs_col]).order_by(person.c[subj.key])
        if subj.professional_field:
            q = q.where(person.c[subj.professional_field] != 1)
        rows = [r for r in conn.execute(q) if r[1]]
        _, members = household_members(conn, cat, smap, [rows[4][0]])
    records = family_records(cat, engine, members)
    people = {
        str(r[nhs_col]).replace(" ", ""): date.fromisoformat(str(r[dob_col])[:10])
        for r in records[table]
        if r.get(nhs_col) and r.get(dob_col)
    }
    record = export_record(
        cat,
        records,
        catalog_dir=world.sender.catalog_dir,
        transfer_id="tr_preview",
        transfer_date="2026-11-02",
    )
    notes = {n["text"] for n in record["case_notes"] if n.get("text")}
    return str(rows[4][1]).replace(" ", ""), people, notes


async def _transfer(world: World, env: Any, service: str) -> Moved:
    """Transfer one family of the service to Camden (once per module), as far as acknowledged."""
    if service in world.moved:
        return world.moved[service]
    from rightsflow.cli.transfer import start_transfer

    nhs, people, notes = _a_family(world, service)
    sender_client = codec_client(env.client, world.sender)
    receiver_client = codec_client(env.client, world.receiver)
    async with running_worker(sender_client, world.sender), running_worker(receiver_client, world.receiver):
        tid, handle = await start_transfer(
            sender_client,
            world.sender,
            load_catalog(world.sender.catalog_dir),
            service=service,
            to_authority="camden",
            ids=SubjectIdentifiers.parse(nhs_number=nhs),
            lock_days=3 / 86400,
            to_task_queue=world.receiver.task_queue,
        )
        await _approve(handle)
        st = await _wait(handle, "awaiting_removal", "closed")
        await handle.terminate("test done")
    world.moved[service] = Moved(tid, st, people, notes)
    return world.moved[service]


@pytest.mark.parametrize("service", SENDERS)
async def test_a_family_moves_from_each_demo_service_to_camden_family_support(
    world: World, time_skipping_env: Any, service: str
) -> None:
    moved = await _transfer(world, time_skipping_env, service)
    st = moved.status
    assert st.acknowledged_on and st.imported["Person"] >= len(moved.people) > 0
    assert moved.notes and st.imported["Case note"] >= 1
    with engine_for_url(world.receiver_url).connect() as conn:
        for nhs, dob in moved.people.items():
            found = conn.execute(select(CF_PERSON.c.birth_date).where(CF_PERSON.c.nhs_number == nhs)).all()
            assert [r[0] for r in found] == [dob], service
        kept = {r[0] for r in conn.execute(select(CF_NOTE.c.note_body))}
    assert moved.notes <= kept, service
    trail = [e.action for e in Register(world.receiver).audit_trail(moved.transfer_id)]
    assert "transfer_intake.imported" in trail and "transfer_intake.acknowledged" in trail


async def test_a_sar_at_camden_gathers_the_records_imported_from_another_authority(
    world: World, time_skipping_env: Any
) -> None:
    env = time_skipping_env
    moved = await _transfer(world, env, "lewisham_family_thrive")
    child, dob = max(moved.people.items(), key=lambda p: p[1])  # the youngest member
    receiver = world.receiver
    client = codec_client(env.client, receiver)
    today = (await env.get_current_time()).astimezone(LONDON).date()
    register = Register(receiver)
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=child))
    req = register.create_request("subject_access", ref, received_on=today, controller="camden")
    async with running_worker(client, receiver):
        handle = await client.start_workflow(
            SubjectAccessRequest.run,
            SarInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=today.isoformat(),
                services=load_catalog(receiver.catalog_dir).services_of("camden"),
            ),
            id=f"sar-{req.request_id}",
            task_queue=receiver.task_queue,
        )
        await handle.execute_update(
            SubjectAccessRequest.verify, VerifyInput(identity_received=today.isoformat())
        )
        st = await wait_stage(handle, SubjectAccessRequest.status, "awaiting_review", timeout=120)
        assert {s.service for s in st.services if s.state == "gathered"} == {CF}
        await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
        result = await handle.result()
    assert result.outcome == "delivered"
    body = urllib.request.urlopen(result.pack.link).read()  # noqa: S310 - presigned URL to the local S3
    export = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("records.json"))
    [camden] = export["services"]
    cat = load_catalog(receiver.catalog_dir)[CF]
    assert camden["service"] == cat.name  # the pack's JSON speaks in the catalogue's labels
    records = {c["collection"]: c["records"] for c in camden["collections"]}
    person, note = cat.collection_label("cfs_person"), cat.collection_label("cfs_note")
    born, nhs = cat.field_label("cfs_person", "birth_date"), cat.field_label("cfs_person", "nhs_number")
    note_text = cat.field_label("cfs_note", "note_body")
    # the child's date of birth as Lewisham had it, now read from Camden's store
    assert [p[born] for p in records[person] if p[nhs] == child] == [dob.isoformat()]
    # the imported case notes, as Lewisham wrote them, with only other people's names withheld
    pack_notes = [n[note_text] for n in records.get(note, []) if n.get(note_text)]
    assert pack_notes, "no imported case note in the pack"
    for text in pack_notes:
        pattern = re.escape(text).replace(re.escape(WITHHELD), ".+?")
        assert any(re.fullmatch(pattern, note) for note in moved.notes), text
