"""End to end through Temporal between two different case systems: Westminster's family hub hands
a family to Camden Family Support (its own schema, catalogue, register, bucket and intake queue)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.register import Register
from rightsflow.stores import SCHEMAS
from tests.support import WFH, Authorities, codec_client, running_worker
from tests.test_transfer import _approve, _family, _wait

CF = "camden_family_support"
SESSION = SCHEMAS[WFH].tables["hub_session"]


def _camden_family_support(two: Authorities, home: Path) -> tuple[Any, str]:
    """Camden's own deployment, running Camden Family Support (not Westminster's system)."""
    folder = home / "catalog-cfs"
    (folder / "controllers").mkdir(parents=True)
    shutil.copy(Path("catalog") / f"{CF}.yaml", folder / f"{CF}.yaml")
    shutil.copy(Path("catalog") / "controllers" / "camden.yaml", folder / "controllers" / "camden.yaml")
    receiver = dataclasses.replace(two.receiver, catalog_dir=folder)
    url = load_catalog(folder)[CF].store.resolved_url(receiver.home)
    SCHEMAS[CF].create_all(engine_for_url(url))
    Register(receiver).create_schema()
    return receiver, url


async def test_westminster_to_camden_family_support_end_to_end(
    two: Authorities, time_skipping_env: Any, tmp_path: Path
) -> None:
    from rightsflow.cli.transfer import start_transfer

    env = time_skipping_env
    receiver, url = _camden_family_support(two, tmp_path)
    sender_client = codec_client(env.client, two.sender)
    receiver_client = codec_client(env.client, receiver)
    family_ref, people = _family(two.sender_url, 1)
    async with running_worker(sender_client, two.sender), running_worker(receiver_client, receiver):
        tid, handle = await start_transfer(
            sender_client,
            two.sender,
            load_catalog(two.sender.catalog_dir),
            service=WFH,
            to_authority="camden",
            family_ref=family_ref,
            lock_days=3 / 86400,
            to_task_queue=receiver.task_queue,
        )
        await _approve(handle)
        st = await _wait(handle, "awaiting_removal", "closed")
    assert st.acknowledged_on and st.people_new == len(people) and st.people_matched == 0
    assert st.imported["Person"] == len(people) and st.imported["Case note"] >= 1
    assert all(n["filed_as"] in ("Additional information", "Case note") for n in st.not_placed)

    person = SCHEMAS[CF].tables["cfs_person"]
    note = SCHEMAS[CF].tables["cfs_note"]
    contact = SCHEMAS[CF].tables["cfs_contact"]
    with engine_for_url(url).connect() as conn:
        for p in people:
            if p["nhs_no"]:
                rows = conn.execute(
                    select(person.c.birth_date).where(person.c.nhs_number == p["nhs_no"].replace(" ", ""))
                ).all()
                assert [r[0] for r in rows] == [p["dob"]]
        notes = {r[0] for r in conn.execute(select(note.c.note_body))}
        dates = {r[0] for r in conn.execute(select(contact.c.contact_date))}
    with engine_for_url(two.sender_url).connect() as conn:
        sent = conn.execute(
            select(SESSION.c.notes, SESSION.c.session_on, SESSION.c.activity).where(
                SESSION.c.household_ref == family_ref
            )
        ).all()
    # the contact the sender itself adds on handing off (the transfer day) is not part of the bag
    sessions = [s for s in sent if not s[2].startswith("Records transferred")]
    assert {s[0] for s in sessions if s[0]} <= notes
    assert {s[1] for s in sessions} <= dates
    trail = [e.action for e in Register(receiver).audit_trail(tid)]
    assert "transfer_intake.imported" in trail and "transfer_intake.acknowledged" in trail
    await handle.terminate("test done")
