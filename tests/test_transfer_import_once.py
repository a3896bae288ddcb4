"""A family imported once into a receiving store whose keys the database assigns (Camden running
the children's social care system Lewisham runs, integer identity keys), even when the worker died
after the store's transaction committed and before the register recorded the import."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from activities.transfer_intake import TransferIntakeActivities
from rightsflow.audit_log import AuditEntry
from rightsflow.catalog import load_catalog
from rightsflow.cli.transfer import start_transfer
from rightsflow.contracts.transfer import ImportInput
from rightsflow.db import engine_for_url
from rightsflow.import_ledger import LEDGER
from rightsflow.register import Register
from rightsflow.stores import SCHEMAS
from tests.support import WFH, Authorities, codec_client, running_worker
from tests.test_transfer import _approve, _family, _wait

LCS = "lewisham_childrens_social_care"
CSC = "camden_childrens_social_care"


def _camden_social_care(two: Authorities, home: Path) -> tuple[Any, str]:
    """Camden's deployment running the children's social care system (its own catalogue file)."""
    folder = home / "catalog-csc"
    (folder / "controllers").mkdir(parents=True)
    text = (Path("catalog") / f"{LCS}.yaml").read_text(encoding="utf-8")
    text = (
        text.replace(LCS, CSC)
        .replace(LCS.upper(), CSC.upper())
        .replace("authority: London Borough of Lewisham", "authority: London Borough of Camden")
        .replace("authority_code: lewisham", "authority_code: camden")
    )
    (folder / f"{CSC}.yaml").write_text(text, encoding="utf-8")
    camden = (Path("catalog") / "controllers" / "camden.yaml").read_text(encoding="utf-8")
    camden = camden.replace("camden_family_support", CSC)  # its service lead answers for this one
    (folder / "controllers" / "camden.yaml").write_text(camden, encoding="utf-8")
    receiver = dataclasses.replace(two.receiver, catalog_dir=folder)
    url = load_catalog(folder)[CSC].store.resolved_url(receiver.home)
    SCHEMAS[LCS].create_all(engine_for_url(url))
    Register(receiver).create_schema()
    return receiver, url


def _counts(url: str) -> dict[str, int]:
    with engine_for_url(url).connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for name, t in SCHEMAS[LCS].tables.items()
        }


async def test_a_rerun_after_a_lost_audit_entry_imports_nothing_twice(
    two: Authorities, time_skipping_env: Any, tmp_path: Path
) -> None:
    env = time_skipping_env
    receiver, url = _camden_social_care(two, tmp_path)
    family_ref, people = _family(two.sender_url, 1)
    async with (
        running_worker(codec_client(env.client, two.sender), two.sender),
        running_worker(codec_client(env.client, receiver), receiver),
    ):
        tid, handle = await start_transfer(
            codec_client(env.client, two.sender),
            two.sender,
            load_catalog(two.sender.catalog_dir),
            service=WFH,
            to_authority="camden",
            family_ref=family_ref,
            lock_days=3 / 86400,
            to_task_queue=receiver.task_queue,
        )
        await _approve(handle)
        await _wait(handle, "awaiting_removal", "closed")
        await handle.terminate("test done")
    after_first = _counts(url)
    assert after_first["lcs_person"] == len(people)
    register = Register(receiver)
    staged = next(e.detail["staged_key"] for e in register.audit_trail(tid) if "staged_key" in e.detail)
    first = next(e.detail for e in register.audit_trail(tid) if e.action == "transfer_intake.imported")

    # The state a worker killed between the store's commit and the audit entry leaves behind.
    with register.engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.idempotency_key == f"intake:{tid}:imported"))

    intake = TransferIntakeActivities(receiver, load_catalog(receiver.catalog_dir), register)
    again = intake.import_bag(ImportInput(transfer_id=tid, target_service=CSC, staged_key=staged))
    assert _counts(url) == after_first  # no second family
    assert again.people_new == first["people_new"] == len(people) and again.inserted == first["inserted"]
    redone = [e for e in register.audit_trail(tid) if e.action == "transfer_intake.imported"]
    assert len(redone) == 1 and redone[0].detail["inserted"] == first["inserted"]
    with engine_for_url(url).connect() as conn:
        ledger = conn.exec_driver_sql(f"SELECT transfer_id FROM {LEDGER}").scalars().all()
    assert ledger == [tid]
