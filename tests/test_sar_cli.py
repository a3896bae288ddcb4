"""The subject access commands, as a DPO runs them, against a real Temporal test server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import date, timedelta

import pytest
import typer
from typer.testing import CliRunner, Result

from rightsflow.cli import sar as sar_cli
from rightsflow.register import Register
from rightsflow.seed import shared_child_example
from tests.support import codec_client, running_worker, store_urls

COMMANDS = (
    "sar",
    "verify",
    "extend",
    "clarify",
    "approve",
    "reject",
    "redactions",
    "release",
    "withhold",
    "status",
    "requests",
    "demo",
)


def _app() -> typer.Typer:
    app = typer.Typer()
    for name in COMMANDS:
        app.command(name)(getattr(sar_cli, name))
    return app


APP = _app()


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(APP, list(args))


async def _cli(*args: str) -> Result:
    return await asyncio.to_thread(_invoke, *args)


def test_bad_filing_is_refused_clearly_and_nothing_is_recorded(settings):
    today = date.today()
    cases = [
        (["--nhs-number", "943 476 5918", "--received", today.isoformat()], "not a valid NHS number"),
        (["--nhs-number", "943 476 5919", "--received", (today + timedelta(days=1)).isoformat()], "future"),
        (["--received", today.isoformat()], "give an NHS number"),
        (["--name", "Amelia Okafor", "--received", today.isoformat()], "date of birth"),
        (["--nhs-number", "943 476 5919", "--received", "2026-02-30"], "YYYY-MM-DD"),
        (
            ["--nhs-number", "943 476 5919", "--received", today.isoformat(), "--requester", "aunt"],
            "requester",
        ),
    ]
    for args, message in cases:
        out = _invoke("sar", *args)
        assert out.exit_code == 2, out.output
        assert message in out.output
        assert "5918" not in out.output
    assert not (settings.home / "register.db").exists()


@pytest.fixture
def cli_env(sar_settings, time_skipping_env, monkeypatch):
    address = time_skipping_env.client.service_client.config.target_host
    monkeypatch.setenv("TEMPORAL_ADDRESS", address)
    monkeypatch.setenv("RIGHTSFLOW_TASK_QUEUE", sar_settings.task_queue)
    return dataclasses.replace(sar_settings, temporal_address=address), time_skipping_env


async def test_a_dpo_takes_a_request_from_filing_to_a_pack_with_the_commands(cli_env):
    settings, env = cli_env
    child = shared_child_example(store_urls(settings))
    today = date.today()
    client = codec_client(env.client, settings)
    async with running_worker(client, settings):
        filed = await _cli("sar", "--nhs-number", child.nhs_number, "--received", today.isoformat())
        assert filed.exit_code == 0, filed.output
        request_id = filed.output.strip()
        assert request_id.startswith("rq_") and child.nhs_number not in request_id

        early = await _cli("approve", request_id)
        assert early.exit_code == 2 and "clock has not started" in early.output

        verified = await _cli("verify", request_id, "--identity-received", today.isoformat())
        assert verified.exit_code == 0, verified.output
        assert "deadline" in verified.output

        listed = json.loads((await _cli("requests", "--json")).output)
        mine = [r for r in listed if r["request_id"] == request_id]
        assert mine and mine[0]["deadline"] and mine[0]["clock_start"] == today.isoformat()
        deadlines = [r["deadline"] for r in listed if r["deadline"]]
        assert deadlines == sorted(deadlines)

        for _ in range(300):
            st = json.loads((await _cli("status", request_id, "--json")).output)
            if st["stage"] == "awaiting_review":
                break
            await asyncio.sleep(0.2)
        assert st["stage"] == "awaiting_review", st
        assert {s["service"] for s in st["services"] if s["state"] == "gathered"} >= set(child.services)
        assert st["days_left"] is not None and st["clock_start"] == today.isoformat()

        shown = json.loads((await _cli("redactions", request_id, "--json")).output)
        assert shown and all(r["legal_basis"] for r in shown)
        released = await _cli("release", request_id, "--redaction", shown[0]["redaction_id"])
        assert released.exit_code == 0 and "released 1" in released.output, released.output
        unknown = await _cli("release", request_id, "--redaction", "rnotthere")
        assert unknown.exit_code == 2 and "no such redaction" in unknown.output
        missing = await _cli("withhold", request_id, "--text", "breakfast club", "--basis", "serious-harm")
        assert missing.exit_code == 2 and "occurs in none of the records" in missing.output
        assert "breakfast" not in missing.output
        present = shown[-1]["text"]
        added = await _cli("withhold", request_id, "--text", present, "--basis", "serious-harm")
        assert added.exit_code == 0, added.output

        ok = await _cli("approve", request_id)
        assert ok.exit_code == 0, ok.output
        again = await _cli("approve", request_id)
        assert again.exit_code == 2 and "already been approved" in again.output
        await client.get_workflow_handle(f"sar-{request_id}").result()

    st = json.loads((await _cli("status", request_id, "--json")).output)
    assert st["status"] == "closed" and st["stage"] == "delivered" and st["pack_key"].startswith("packs/")
    assert request_id not in [r["request_id"] for r in json.loads((await _cli("requests", "--json")).output)]
    trail = {e.action: e for e in Register(settings).audit_trail(request_id)}
    assert "subject_access.pack_sent" in trail
    assert "breakfast club" not in json.dumps([e.detail for e in trail.values()])


async def test_the_demo_files_and_delivers_a_pack(cli_env):
    settings, env = cli_env
    client = codec_client(env.client, settings)
    lines: list[str] = []
    async with running_worker(client, settings):
        out = await asyncio.to_thread(sar_cli.run_sar_demo, settings, echo=lines.append)
    assert out["pack_key"].startswith("packs/") and out["link"].startswith("http")
    assert any("pack: s3://" in line for line in lines)
