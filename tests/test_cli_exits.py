"""Commands that talk to Temporal end with their own exit code, never an abort after the work.

temporalio's Rust core runs a thread pool that, left alive into interpreter shutdown, can abort
the process (exit 134) after a command has filed a request or applied a decision; a script that
retries on the exit code would then file it twice. These run the real ``rightsflow`` executable.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.support import codec_client, running_worker

pytestmark = pytest.mark.devserver

RIGHTSFLOW = str(Path(sys.executable).parent / "rightsflow")
# Enough runs to catch a regular abort in CI; bench/cli_exits.py makes the long measurement.
RUNS = 12


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        RIGHTSFLOW, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def _env(settings, address: str) -> dict[str, str]:
    return {**os.environ, "TEMPORAL_ADDRESS": address, "RIGHTSFLOW_TASK_QUEUE": settings.task_queue}


def test_the_core_runtime_is_shut_down_before_the_interpreter_ends(settings, dev_server_env):
    """After a client call, shutting the runtime down leaves none of the core's threads behind."""
    address = dev_server_env.client.service_client.config.target_host
    script = (
        "import asyncio\n"
        "from rightsflow.codec import connect_client\n"
        "from rightsflow.config import load_settings\n"
        "from rightsflow.cli.common import _core_threads, shut_down_temporal_runtime\n"
        "async def go():\n"
        "    client = await connect_client(load_settings())\n"
        "    await client.count_workflows()\n"
        "asyncio.run(go())\n"
        "before = _core_threads()\n"
        "print(before, shut_down_temporal_runtime(), _core_threads())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=_env(settings, address), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    before, clean, after = done.stdout.split()
    assert int(before) > 0 and clean == "True" and after == "0"


async def test_repeated_runs_of_status_and_verify_never_abort(sar_settings, dev_server_env):
    settings = sar_settings
    address = dev_server_env.client.service_client.config.target_host
    env = _env(settings, address)
    today = date.today().isoformat()
    client = codec_client(dev_server_env.client, settings)
    codes: list[int] = []
    async with running_worker(client, settings):
        code, out, err = await _cli(env, "sar", "--nhs-number", "943 476 5919", "--received", today)
        assert code == 0, err
        codes.append(code)
        request_id = out.strip()
        for i in range(RUNS):
            if i % 2:
                code, out, err = await _cli(env, "status", request_id, "--json")
                assert code in (0, 134), err
                if code == 0:
                    assert json.loads(out)["request_id"] == request_id
            else:
                code, out, err = await _cli(env, "verify", request_id, "--identity-received", today)
                assert code in (0, 134), err
            codes.append(code)
    aborted = [c for c in codes if c == 134]
    assert not aborted, f"{len(aborted)} of {len(codes)} runs aborted after their work"
