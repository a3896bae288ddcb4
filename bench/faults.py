"""Fault bench: requests and sweeps carried to their end through faults, and CLI exits counted.

For the subject access request, erasure, retention sweep and transfer workflows (each run on a
fresh copy of seeded demo stores and an empty register, on a Temporal dev server with its histories
on a database file, a moto S3 server, and the real worker as its own process; a transfer has the
receiving council's worker in a process of its own too):

* ``kill``: the worker is killed with SIGKILL at ``--points`` seeded random points (``--seed``)
  after filing, and a new worker is started;
* ``kill-receiver`` (transfers): the receiving council's worker killed likewise while the exchange
  is under way (a transfer's ``kill`` point is likewise after approval, during the exchange);
* ``two-workers``: two workers on the queue, one killed;
* ``server``: the Temporal dev server killed with SIGKILL and restarted;
* ``s3``: the S3 server stopped for ``--outage`` seconds;
* ``store``: Lewisham Family Thrive's store on PostgreSQL (a database of its own on
  ``--postgres``), reached through a TCP relay that is closed for ``--outage`` seconds.

Each request must complete exactly once: one pack sent, each service erased once, each household
disposed of once and as many as the dry run predicted, each transferred family member imported
into the receiving council's store once. "seconds to recover" runs from the fault
being over (the new worker polling its queue; the server, S3 or store back) to the last request
completing. The table printed: scenario, runs, requests, completed, completed exactly once, lost,
done twice, seconds to recover (median, max).

``--cli-runs N`` runs a Temporal-talking command (``rightsflow status ID --json``) N times, each a
fresh process, and counts the runs that ended with exit code 134 (an abort). Run::

    python bench/faults.py --points 20 --outage 60 --cli-runs 500
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fault_support import (  # noqa: E402 - after the path is set
    FT,
    KINDS,
    DevServer,
    FaultRig,
    Run,
    TcpProxy,
    free_port,
    run_scenario,
    summarise,
)


def _table(rows: list[dict], cli: tuple[int, int, dict[int, int]] | None) -> str:
    def sec(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    out = [
        "| scenario | runs | requests | completed | completed exactly once | lost | done twice "
        "| fault after the work | seconds to recover (median / max) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['scenario']} | {r['runs']} | {r['requests']} | {r['completed']} | {r['once']} | "
            f"{r['lost']} | {r['twice']} | {r['missed'] or '-'} | "
            f"{sec(r['recover_median'])} / {sec(r['recover_max'])} |"
        )
    if cli is not None:
        runs, aborts, codes = cli
        out.append("")
        out.append(
            f"CLI: {runs} runs of Temporal-talking commands, {aborts} ended with exit 134; "
            f"exit codes {dict(sorted(codes.items()))}"
        )
    return "\n".join(out)


def _pg_store(admin_url: str) -> tuple[str, str]:
    """A database of its own for the store, seeded like the demo store (returns url, name)."""
    from datetime import date

    from sqlalchemy import create_engine, text

    from rightsflow.seed import seed_stores

    name = f"rightsflow_faults_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    seed_stores({FT: url}, families=20, seed=11, as_of=date(2026, 11, 1), progress=False)
    return url, name


def _drop(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    from rightsflow.db import dispose_all

    dispose_all()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def cli_runs(rig: FaultRig, n: int) -> tuple[int, int, dict[int, int]]:
    """``rightsflow status ID --json`` n times against a filed request, each a fresh process."""
    exits = REPO / "bench" / "cli_exits.py"
    if exits.exists():  # the CLI-exit bench does this already: run it rather than a second copy
        import re

        p = subprocess.run(
            [sys.executable, str(exits), "--runs", str(n)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        print(p.stdout, flush=True)
        found = re.search(r"(\d+) aborted \(exit 134\) in (\d+) runs", p.stdout)
        if not found:
            raise SystemExit(f"bench/cli_exits.py failed: {p.stderr[-2000:]}")
        codes: dict[int, int] = {}
        for m in re.finditer(r": exit (\d+)\s+(\d+)", p.stdout):
            codes[int(m[1])] = codes.get(int(m[1]), 0) + int(m[2])
        return int(found[2]), int(found[1]), codes
    from tests.fault_support import Job, Worker, _client

    s, env = rig.home("cli")
    worker = Worker(env, s.home / "worker.log")
    codes: dict[int, int] = {}
    try:
        worker.ready()

        async def file() -> str:
            job = Job("sar", s, await _client(s))
            await job.start()  # a request waiting for identity evidence
            return job.request_id

        request_id = asyncio.run(file())
        for _ in range(n):
            p = subprocess.run(
                [str(Path(sys.executable).parent / "rightsflow"), "status", request_id, "--json"],
                cwd=REPO,
                env=env,
                capture_output=True,
                check=False,
            )
            code = p.returncode if p.returncode >= 0 else 128 - p.returncode
            codes[code] = codes.get(code, 0) + 1
    finally:
        worker.stop()
    return n, codes.get(134, 0), codes


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=20, help="kill points per workflow (default 20)")
    ap.add_argument("--seed", type=int, default=14, help="seed of the kill points")
    ap.add_argument("--outage", type=float, default=60.0, help="seconds S3 and the store are down")
    ap.add_argument("--kind", action="append", choices=KINDS, help="workflows (default: all)")
    ap.add_argument(
        "--scenario",
        action="append",
        choices=["kill", "kill-receiver", "two-workers", "server", "s3", "store"],
        help="default: all",
    )
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds a run may take to complete")
    ap.add_argument("--cli-runs", type=int, default=500, help="CLI runs counted for exit 134 (0: none)")
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    kinds = args.kind or list(KINDS)
    scenarios = args.scenario or ["kill", "kill-receiver", "two-workers", "server", "s3", "store"]
    rng = random.Random(args.seed)

    from moto.server import ThreadedMotoServer

    root = Path(tempfile.mkdtemp(prefix="rightsflow-faults-"))
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    server = DevServer(root)
    server.start()
    runs: list[Run] = []
    pg: tuple[str, str] | None = None
    started = time.monotonic()
    try:
        rig = FaultRig(root / "runs", f"http://127.0.0.1:{port}", server.address)

        def report(run: Run) -> None:
            runs.append(run)
            print(
                f"{run.scenario}: completed {run.completed}/{run.requests}, once {run.once}, "
                f"recover {run.recover}{run.note}",
                flush=True,
            )

        for kind in kinds:
            if "kill" in scenarios:
                for _ in range(args.points):
                    report(await run_scenario(rig, "kill", kind, rng, timeout=args.timeout))
            if "kill-receiver" in scenarios and kind == "transfer":
                for _ in range(args.points):
                    report(await run_scenario(rig, "kill-receiver", kind, rng, timeout=args.timeout))
            if "two-workers" in scenarios and kind != "transfer":
                report(await run_scenario(rig, "two-workers", kind, rng, timeout=args.timeout))
        if "server" in scenarios:
            report(await run_scenario(rig, "server", "sar", rng, server=server, timeout=args.timeout))
        if "s3" in scenarios:
            report(await run_scenario(rig, "s3", "sar", rng, s3=s3, outage=args.outage, timeout=args.timeout))
        if "store" in scenarios:
            from sqlalchemy.engine import make_url

            from rightsflow.catalog import load_catalog

            pg = _pg_store(args.postgres)
            target = make_url(pg[0])
            proxy = TcpProxy((target.host or "127.0.0.1", target.port or 5432))
            proxy.up()
            via = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            url_env = load_catalog(rig.base.catalog_dir)[FT].store.url_env
            try:
                report(
                    await run_scenario(
                        rig,
                        "store",
                        "sar",
                        rng,
                        proxy=proxy,
                        outage=args.outage,
                        timeout=args.timeout,
                        extra_env={url_env: via},
                    )
                )
            finally:
                proxy.down()
        cli = await asyncio.to_thread(cli_runs, rig, args.cli_runs) if args.cli_runs else None
    finally:
        server.stop()
        s3.stop()
        if pg is not None:
            _drop(args.postgres, pg[1])
    print(
        f"\n{time.strftime('%Y-%m-%d')}, {time.monotonic() - started:.0f} s, seed {args.seed}, "
        f"{args.points} kill points, outages {args.outage:.0f} s\n"
    )
    print(_table(summarise(runs), cli))


if __name__ == "__main__":
    asyncio.run(main())
