"""A transfer between two councils under faults: Westminster's family hub hands a family to Camden,
each council's worker in a process of its own on the same Temporal server, and either worker is
killed with SIGKILL at a seeded random point.

Exactly once means: the family's members are each in Camden's store once (none lost, none imported
twice), Camden recorded one import, Westminster one delivery and one hand-off, and the package was
removed at the end. The package's Object Lock and the removal period are seconds long here, so the
whole transfer, removal included, completes in real time on the dev server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support import CAMDEN, WFH, camden_receiver, worker_process_env


@dataclasses.dataclass
class Camden:
    """The receiving council beside a fault run's home: its settings, store and worker environment."""

    settings: Any
    store_url: str
    env: dict[str, str]


def camden_beside(s: Any, temporal: str, s3_endpoint: str) -> Camden:
    """Camden with its own home, catalogue, register, bucket and intake queue. It shares the sending
    home's keys: both councils' payloads cross one Temporal server, whose codec is keyed per
    deployment (two deployments would each run their own server and exchange through S3)."""
    from rightsflow.s3 import ensure_archive_bucket, s3_client

    home = Path(s.home) / "camden"
    home.mkdir()
    shutil.copytree(Path(s.home) / "keys", home / "keys")
    receiver, url = camden_receiver(s, home, s.task_queue)
    receiver = dataclasses.replace(
        receiver, codec_key_file=home / "keys" / "codec.key", hash_key_file=home / "keys" / "hash.key"
    )
    ensure_archive_bucket(s3_client(receiver), receiver.s3_bucket)
    env = worker_process_env(
        home, temporal, receiver, s3_endpoint, RIGHTSFLOW_CATALOG=str(receiver.catalog_dir)
    )
    return Camden(receiver, url, env)


def _family(url: str) -> tuple[str, int]:
    """The first household of the sending store, and how many members it has."""
    from sqlalchemy import func, select

    from rightsflow.db import engine_for_url
    from rightsflow.stores import SCHEMAS

    hh, member = SCHEMAS[WFH].tables["household"], SCHEMAS[WFH].tables["household_member"]
    with engine_for_url(url).connect() as conn:
        ref = conn.execute(select(hh.c.household_ref).order_by(hh.c.household_ref)).scalars().first()
        n = conn.execute(select(func.count()).where(member.c.household_ref == ref)).scalar_one()
    return ref, n


def _members(url: str) -> int:
    from sqlalchemy import func, select

    from rightsflow.db import engine_for_url
    from rightsflow.stores import SCHEMAS

    with engine_for_url(url).connect() as conn:
        return conn.execute(
            select(func.count()).select_from(SCHEMAS[WFH].tables["household_member"])
        ).scalar_one()


class TransferJob:
    """One family handed off, carried through as the sending DPO would (approve), to its end."""

    def __init__(self, s: Any, client: Any, camden: Camden) -> None:
        self.s, self.client, self.camden = s, client, camden
        self.handle: Any = None
        self.request_id = ""
        self.result: Any = None
        self.expected = 0
        self.approved = False
        self.stage_at_fault = ""

    async def start(self) -> None:
        from rightsflow.catalog import load_catalog
        from rightsflow.cli.transfer import start_transfer

        catalog = load_catalog(self.s.catalog_dir)
        family_ref, self.expected = _family(catalog[WFH].store.resolved_url(self.s.home))
        self.request_id, self.handle = await start_transfer(
            self.client,
            self.s,
            catalog,
            service=WFH,
            to_authority="camden",
            family_ref=family_ref,
            to_task_queue=self.camden.settings.task_queue,
            lock_days=2 / 86400,  # S3 enforces the lock on the wall clock: seconds, not days
            remove_after_days=3 / 86400,
            ack_poll_hours=0,
        )

    async def at_fault_point(self, rng: Any, scenario: str, timeout: float = 60) -> None:
        """Wait until the victim's council holds the work, then a seeded random moment more: the
        sender's worker after approval (packaging, delivering), the receiver's once the intake has
        started (validating, importing, acknowledging). Records the stage the fault met."""
        import time

        from activities.transfer import intake_workflow_id
        from workflows.portability_transfer import PortabilityTransfer

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if scenario == "kill-receiver":
                try:
                    await self.client.get_workflow_handle(intake_workflow_id(self.request_id)).describe()
                    break
                except Exception:  # noqa: BLE001 - not started yet
                    pass
            elif self.approved:
                stage = (await self.handle.query(PortabilityTransfer.status)).stage
                if stage != "awaiting_approval":
                    break
            await asyncio.sleep(0.05)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        self.stage_at_fault = (await self.handle.query(PortabilityTransfer.status)).stage

    async def finish(self, timeout: float) -> None:
        from tests.support import wait_stage
        from workflows.portability_transfer import ApproveTransfer, PortabilityTransfer

        h = self.handle
        await wait_stage(h, PortabilityTransfer.status, "awaiting_approval", timeout=timeout)
        # A basis on every approval: a seeded family may be restricted or have withdrawn consent.
        await asyncio.wait_for(
            h.execute_update(
                PortabilityTransfer.approve,
                ApproveTransfer(override_basis="family moved; Camden continues support"),
            ),
            timeout,
        )
        self.approved = True
        self.result = await asyncio.wait_for(h.result(), timeout)

    def check(self, run: Any) -> None:
        from rightsflow.register import Register

        if self.result is None:
            run.lost += 1
            return
        run.completed += 1
        sent = Counter(e.action for e in Register(self.s).audit_trail(self.request_id))
        received = Counter(e.action for e in Register(self.camden.settings).audit_trail(self.request_id))
        in_camden = _members(self.camden.store_url)
        twice = max(0, sent["transfer.delivered"] - 1) + max(0, received["transfer_intake.imported"] - 1)
        twice += max(0, in_camden - self.expected)
        run.twice += twice
        # A fault that came after the receiver acknowledged proves nothing about the exchange: it is
        # counted apart (``missed``), and the suite requires none.
        mid_exchange = self.stage_at_fault in ("packaging", "awaiting_acknowledgement")
        if not mid_exchange:
            run.missed += 1
            run.note += (
                f" transfer: the fault came at {self.stage_at_fault or 'no point'}, after the exchange;"
            )
        ok = (
            self.result.outcome == "handed_off"
            and self.result.deliveries == 1
            and in_camden == self.expected
            and sent["transfer.delivered"]
            == sent["transfer.handed_off"]
            == sent["transfer.package_removed"]
            == 1
            and received["transfer_intake.imported"] == 1
        )
        if ok:
            run.once += 1
        else:
            run.note += (
                f" transfer (fault at {self.stage_at_fault or 'no point'}): {in_camden} of"
                f" {self.expected} members in {CAMDEN}, sent {dict(sent)},"
                f" received {dict(received)};"
            )
