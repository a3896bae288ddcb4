"""How many `rightsflow` commands that talk to Temporal abort (exit 134) after doing their work.

Starts a Temporal dev server, an S3 server (moto), seeded demo stores and the worker, then runs
the real executable N times (default 500), cycling ``sar``, ``verify``, ``status --json`` and
``approve`` (an approve before review is refused with exit 2: that still talks to Temporal), and
prints how many runs aborted, beside the other exit codes.

    python bench/cli_exits.py [-n 500]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
RIGHTSFLOW = str(BIN / "rightsflow")


WHY: collections.Counter[str] = collections.Counter()  # the first line of each failing run's error


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        RIGHTSFLOW, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    code = proc.returncode or 0
    if code not in (0, 2):
        line = (err.decode(errors="replace").strip().splitlines() or ["(nothing on stderr)"])[-1]
        WHY[f"{args[0]}: exit {code}: {re.sub(r'rq_[0-9a-f]+', 'ID', line)[:160]}"] += 1
    return code, out.decode()


async def main(runs: int) -> int:
    from moto.server import ThreadedMotoServer
    from temporalio.testing import WorkflowEnvironment

    from rightsflow.config import load_settings
    from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file
    from rightsflow.register import Register
    from tests.support import codec_client, free_port, running_worker, seed_demo, store_urls

    home = Path(tempfile.mkdtemp(prefix="rightsflow-bench-"))
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    os.environ.update(
        {
            "RIGHTSFLOW_HOME": str(home),
            "RIGHTSFLOW_S3_ENDPOINT": f"http://127.0.0.1:{port}",
            "RIGHTSFLOW_S3_BUCKET": "bench-archive",
            "RIGHTSFLOW_S3_ACCESS_KEY": "testing",
            "RIGHTSFLOW_S3_SECRET_KEY": "testing",
            "RIGHTSFLOW_TASK_QUEUE": "bench-cli-exits",
        }
    )
    env_server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), ui=False, dev_server_log_level="error"
    )
    try:
        address = env_server.client.service_client.config.target_host
        os.environ["TEMPORAL_ADDRESS"] = address
        settings = dataclasses.replace(load_settings(), temporal_address=address)
        ensure_codec_key_file(settings)
        ensure_hash_key_file(settings)
        seed_demo(store_urls(settings))
        Register(settings).create_schema()
        env = dict(os.environ)
        today = date.today().isoformat()
        codes: collections.Counter[str] = collections.Counter()
        started = time.monotonic()
        request_id = ""
        async with running_worker(codec_client(env_server.client, settings), settings):
            for i in range(runs):
                step = i % 4
                if step == 0 or not request_id:
                    code, out = await _cli(
                        env,
                        "sar",
                        "--nhs-number",
                        "943 476 5919",
                        "--received",
                        today,
                        "--controller",
                        "westminster",
                    )
                    request_id = out.strip() if code == 0 else request_id
                    name = "sar"
                elif step == 1:
                    code, _ = await _cli(env, "verify", request_id, "--identity-received", today)
                    name = "verify"
                elif step == 2:
                    code, _ = await _cli(env, "status", request_id, "--json")
                    name = "status --json"
                else:
                    code, _ = await _cli(env, "approve", request_id)
                    name = "approve"
                codes[f"{name}: exit {code}"] += 1
                if (i + 1) % 50 == 0:
                    print(f"  {i + 1} runs, {sum(v for k, v in codes.items() if k.endswith(' 134'))} aborted")
        elapsed = time.monotonic() - started
    finally:
        await env_server.shutdown()
        moto.stop()
    aborted = sum(v for k, v in codes.items() if k.endswith(" 134"))
    print(f"{aborted} aborted (exit 134) in {runs} runs ({elapsed:.0f} s)")
    for key, n in sorted(codes.items()):
        print(f"  {key:24} {n}")
    if WHY:
        print("why the other failing runs failed (last line of stderr):")
        for key, n in WHY.most_common():
            print(f"  {n:4}  {key}")
    return 1 if aborted else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=500)
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
