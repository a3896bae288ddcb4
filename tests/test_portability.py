"""Article 20 portability to the person, on the time-skipping server with moto: a child of a
Westminster family hub household gets their own records as an expiring link; a public-task service
is refused."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import urllib.request
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rightsflow.catalog import load_catalog
from rightsflow.cli.portability import start_portability
from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import Register
from rightsflow.s3 import s3_client
from tests.support import (
    CSC,
    WFH,
    Authorities,
    assert_absent,
    codec_client,
    raw_history,
    running_worker,
    wait_stage,
)
from tests.test_transfer import BAGIT, _family
from workflows.portability_person import ApprovePortability, PortabilityToPerson


async def _wait(handle: Any, *stages: str, timeout: float = 60) -> Any:
    return await wait_stage(handle, PortabilityToPerson.status, *stages, timeout=timeout)


def _ids(nhs: str) -> SubjectIdentifiers:
    return SubjectIdentifiers.parse(nhs_number=nhs, today=date.today())


def _forms(person: dict[str, Any]) -> list[bytes]:
    """Every way a person's identifiers could appear in the package."""
    out = [person["member_ref"], person["given_name"]]
    if person["nhs_no"]:
        out += [person["nhs_no"], person["nhs_no"].replace(" ", "")]
    out += [v for v in (person.get("email"), person.get("mobile")) if v]
    return [v.encode() for v in out]


async def test_portability_sends_own_records_as_a_link(
    two: Authorities,
    time_skipping_env: Any,
    tmp_path: Path,
) -> None:
    env = time_skipping_env
    client = codec_client(env.client, two.sender)
    # a household with two children: one asks for their data, the other is a third party
    for index in range(12):
        _, people = _family(two.sender_url, index)
        children = [p for p in people if p["role"] == "child" and p["nhs_no"]]
        names = [p["given_name"] for p in people]
        if len(children) >= 2 and len(set(names)) == len(names):
            break
    subject, sibling = children[0], children[1]
    async with running_worker(client, two.sender):
        rid, handle = await start_portability(
            client,
            two.sender,
            load_catalog(two.sender.catalog_dir),
            service=WFH,
            ids=_ids(subject["nhs_no"]),
            received=date(2026, 11, 2),
            lock_days=2 / 86400,  # the test's real clock does not skip: a short lock
            link_expiry_hours=1,
        )
        st = await _wait(handle, "awaiting_approval")
        assert st.eligible and st.deadline == "2026-12-02" and st.records > 0
        assert st.withheld > 0  # the family's free text names other members
        await handle.execute_update(PortabilityToPerson.approve, ApprovePortability())
        st = await _wait(handle, "sent")
        assert st.link and st.link_expires_at and st.sent_at and st.package_key
        assert "portability/" in st.package_key and subject["member_ref"] not in st.package_key

        # the link downloads the package: a valid BagIt bag with JSON and CSV per record type
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(st.link, timeout=10).read())
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            zf.extractall(tmp_path / "bag")
            everything = b"".join(zf.read(n) for n in zf.namelist())
        root = tmp_path / "bag" / rid
        proc = subprocess.run(
            [sys.executable, str(BAGIT), "--validate", str(root)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        for name in ("household_member", "hub_session"):
            assert (root / "data" / "records" / f"{name}.json").exists()
            assert (root / "data" / "records" / f"{name}.csv").exists()
        assert (root / "data" / "manifest.json").exists()
        # the requester's own data is there; none of the sibling's identifiers is
        assert subject["nhs_no"].encode() in everything and subject["given_name"].encode() in everything
        for form in _forms(sibling):
            assert form not in everything, form
        assert b"[withheld: third party]" in everything

        trail = Register(two.sender).audit_trail(rid)
        sent = next(e for e in trail if e.action == "portability.sent")
        assert sent.detail["package_key"] == st.package_key and sent.detail["sha256"] == st.sha256
        assert sent.detail["sent_at"] and sent.detail["link_expires_at"] == st.link_expires_at
        assert "portability.approved" in [e.action for e in trail]
        assert Register(two.sender).get_request(rid).status == "closed"

        await asyncio.sleep(2)  # the (test-length) Object Lock runs out in real time
        result = await handle.result()  # skips the removal period: the package goes
    assert result.outcome == "sent" and result.package_key == st.package_key
    s3 = s3_client(two.sender)
    assert not s3.list_object_versions(Bucket=two.sender.s3_bucket, Prefix="portability/").get("Versions")
    assert not s3.list_objects_v2(Bucket=two.sender.s3_bucket, Prefix=f"work/{rid}/").get("Contents")

    raw = await raw_history(env.client, f"portability-{rid}")
    for person in (subject, sibling):
        assert_absent(raw, (person["given_name"], person["family_name"], person["nhs_no"]), base64_too=True)
        assert person["nhs_no"].replace(" ", "").encode() not in raw


async def test_public_task_service_is_refused(
    two: Authorities,
    time_skipping_env: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer

    from rightsflow.cli.portability import portability
    from rightsflow.cli.transfer import transfer

    # the commands refuse before anything is recorded or started (no Temporal needed)
    app = typer.Typer()
    app.command("portability")(portability)
    app.command("transfer")(transfer)
    monkeypatch.setenv("RIGHTSFLOW_TASK_QUEUE", two.sender.task_queue)
    runner = CliRunner()
    for args in (
        ["portability", "--nhs-number", "943 476 5919", "--from", CSC],
        ["transfer", "--nhs-number", "943 476 5919", "--from", CSC, "--reason", "portability"],
    ):
        out = runner.invoke(app, args)
        assert out.exit_code == 2, out.output
        assert "Article 20 portability does not apply" in out.output
        assert "public task" in out.output and "943" not in out.output
    with pytest.raises(ValueError, match="consent or a contract"):
        await start_portability(
            None, two.sender, load_catalog(two.sender.catalog_dir), service=CSC, ids=_ids("9434765919")
        )

    # the workflow refuses too, should it be started another way, and closes the request
    env = time_skipping_env
    client = codec_client(env.client, two.sender)
    async with running_worker(client, two.sender):
        rid, handle = await start_portability(
            client,
            two.sender,
            load_catalog(two.sender.catalog_dir),
            service=CSC,
            ids=_ids("9434765919"),
            check_basis=False,
        )
        result = await handle.result()
        st = await handle.query(PortabilityToPerson.status)
    assert result.outcome == "not_applicable" and result.package_key is None
    assert st.stage == "not_applicable" and st.refusal and "public task" in st.refusal
    assert Register(two.sender).get_request(rid).status == "closed"
    refused = [e for e in Register(two.sender).audit_trail(rid) if e.action == "portability.refused"]
    assert refused and "Article 20" in (refused[0].legal_basis or "")
