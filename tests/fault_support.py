"""Helpers for the malformed-input and fault-injection suites and bench/faults.py.

``CliDriver`` runs ``rightsflow`` commands each in a process of its own, forked from one process
that has imported the CLI once: every case gets its own stdout, stderr, exit code and Temporal
connection, as a subprocess would, without paying two seconds of imports a hundred times on a
shared two-core machine. Run it as ``python -m tests.fault_support driver``; it reads one JSON case
per line on stdin and answers one JSON result per line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tests.support import worker_process_env

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


class CliDriver:
    """The forking command runner, from the test's side."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fault_support", "driver"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"argv": list(argv), "env": env or {}, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the command driver died")
        out = json.loads(line)
        return CliResult(out["code"], out["stdout"], out["stderr"])

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _run_forked(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        pid = os.fork()
        if pid == 0:  # the child: one command, then exit without the parent's cleanup
            code = 1
            try:
                os.environ.update(env)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(os.open(out_path, os.O_WRONLY | os.O_CREAT, 0o600), 1)
                os.dup2(os.open(err_path, os.O_WRONLY | os.O_CREAT, 0o600), 2)
                from rightsflow.cli import app

                try:
                    app(args=argv, prog_name="rightsflow")
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - what an uncaught error does: traceback, exit 1
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"code": -1, "stdout": out_path.read_text("utf-8", "replace"), "stderr": "timed out"}
            time.sleep(0.02)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            code = 128 - code  # killed by a signal: the shell's convention (134 = SIGABRT)
        return {
            "code": code,
            "stdout": out_path.read_text("utf-8", "replace"),
            "stderr": err_path.read_text("utf-8", "replace"),
        }


def _driver() -> None:
    import rightsflow.cli  # noqa: F401 - imported once, before any fork

    base = dict(os.environ)
    for line in sys.stdin:
        case = json.loads(line)
        os.environ.clear()
        os.environ.update(base)
        result = _run_forked(case["argv"], case["env"], case["timeout"])
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


# -- what was written ------------------------------------------------------------------------------


def sqlite_row_counts(*files: Path) -> dict[str, int]:
    """Every table's row count in the SQLite files (read-only: the code under test keeps writing)."""
    out: dict[str, int] = {}
    for f in files:
        if not f.exists():
            continue
        conn = sqlite3.connect(f"file:{f}?mode=ro", uri=True, timeout=30)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for n in names:
                out[f"{f.name}:{n}"] = conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]
        finally:
            conn.close()
    return out


def settle(files: list[Path], quiet_for: float = 1.5, timeout: float = 30) -> dict[str, int]:
    """The row counts once they have stopped changing (a worker may still be finishing a step)."""
    last = sqlite_row_counts(*files)
    since = time.monotonic()
    end = since + timeout
    while time.monotonic() < end:
        time.sleep(0.25)
        now = sqlite_row_counts(*files)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_for:
            break
    return last


# -- faults: servers and workers that can be killed ---------------------------------------------------

BIN = Path(sys.executable).parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """The Temporal CLI dev server on a database file, so that it can be killed and restarted with
    every workflow's history kept (the test fixture's server keeps them in memory)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "temporal.log").open("ab")
        self.proc = subprocess.Popen(
            [
                str(BIN / "temporal"),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(free_port()),
                "--metrics-port",
                str(free_port()),
                "--db-filename",
                str(self.folder / "temporal.db"),
                "--log-level",
                "error",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_listening()

    def _wait_listening(self, timeout: float = 60) -> None:
        import socket

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc and self.proc.poll() is None, (self.folder / "temporal.log").read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    time.sleep(1.0)  # the frontend listens a little before the namespace is served
                    return
            time.sleep(0.1)
        raise AssertionError("the Temporal dev server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    stop = kill


class Worker:
    """``python -m rightsflow.worker`` in its own process, output to a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._fh = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rightsflow.worker"],
            env=env,
            cwd=REPO,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )
        self._size = log.stat().st_size

    def ready(self, timeout: float = 60) -> float:
        """Waits for the worker to poll its queue; returns the monotonic time it did."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.log.open("rb") as f:
                f.seek(self._size)
                if b"task queue" in f.read():
                    return time.monotonic()
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.05)
        raise AssertionError(f"worker not ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()


class TcpProxy:
    """A TCP relay on 127.0.0.1 in front of a server (a PostgreSQL store): ``down()`` closes the
    listener and every relayed connection, as a network outage would; ``up()`` listens again on
    the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        import threading

        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._socks: set[Any] = set()
        self._listener: Any = None

    def up(self) -> None:
        import socket
        import threading

        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls: Any) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with self._lock:
                    self._socks.discard(s)
                with contextlib.suppress(OSError):
                    s.close()

    def down(self) -> None:
        import socket

        if self._listener is not None:
            # shutdown first: on Linux, close() alone leaves a thread blocked in accept() holding
            # the listening socket open, and the port cannot be bound again when the store "returns"
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = list(self._socks), set()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


# -- fault scenarios: a request (or a sweep) carried to its end through a fault -------------------------

AS_OF = "2026-11-01"  # the day the demo stores are seeded for
FT = "lewisham_family_thrive"
LEWISHAM = [FT, "lewisham_childrens_social_care", "lewisham_early_help"]
SWEPT = ["westminster_family_hub"]
KINDS = ("sar", "erasure", "sweep", "transfer")


@dataclass
class Run:
    """One run of a scenario: whether its requests completed, exactly once, and how fast after the
    fault was over (a new worker polling, the server or store back)."""

    scenario: str
    requests: int
    completed: int = 0
    once: int = 0
    lost: int = 0
    twice: int = 0
    recover: float | None = None
    missed: int = 0  # faults that came after the work they were meant to interrupt
    note: str = ""


class FaultRig:
    """Homes for fault runs: a template home (keys, seeded stores, empty register) copied for each
    run, so runs are independent; one S3 server and one Temporal server for all of them."""

    def __init__(self, root: Path, s3_endpoint: str, temporal: str, families: int = 20) -> None:
        from rightsflow.config import load_settings
        from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file
        from rightsflow.register import Register
        from rightsflow.seed import PERSON_TABLES, seed_stores

        self.root, self.s3_endpoint, self.temporal = root, s3_endpoint, temporal
        self.template = root / "template"
        saved = dict(os.environ)
        os.environ["RIGHTSFLOW_HOME"] = str(self.template)
        for var in (
            "RIGHTSFLOW_CODEC_KEY",
            "RIGHTSFLOW_CODEC_KEY_ID",
            "RIGHTSFLOW_HASH_KEY",
            "RIGHTSFLOW_CATALOG",
            "RIGHTSFLOW_REGISTER_URL",
        ):
            os.environ.pop(var, None)
        try:
            s = load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        ensure_codec_key_file(s)
        ensure_hash_key_file(s)
        self.base = s
        from rightsflow.catalog import load_catalog

        urls = {svc.service: svc.store.resolved_url(s.home) for svc in load_catalog(s.catalog_dir)}
        self.urls = {k: u for k, u in urls.items() if k in PERSON_TABLES}
        seed_stores(self.urls, families=families, seed=11, as_of=date.fromisoformat(AS_OF), progress=False)
        Register(s).create_schema()
        self.n = 0

    def home(self, name: str, extra_env: dict[str, str] | None = None) -> tuple[Any, dict[str, str]]:
        """A fresh copy of the template (settings, worker environment)."""
        import dataclasses
        import shutil
        import uuid

        from rightsflow.db import dispose_all

        self.n += 1
        dispose_all()
        home = self.root / f"{self.n:03d}-{name}"
        shutil.copytree(self.template, home)
        suffix = uuid.uuid4().hex[:8]
        s = dataclasses.replace(
            self.base,
            home=home,
            register_url=f"sqlite:///{home / 'register.db'}",
            codec_key_file=home / "keys" / "codec.key",
            hash_key_file=home / "keys" / "hash.key",
            s3_endpoint=self.s3_endpoint,
            s3_bucket=f"faults-{suffix}",
            s3_access_key="testing",
            s3_secret_key="testing",
            task_queue=f"faults-{suffix}",
            temporal_address=self.temporal,
        )
        from rightsflow.s3 import ensure_archive_bucket, s3_client

        ensure_archive_bucket(s3_client(s), s.s3_bucket)  # as `rightsflow up` does before any worker
        env = worker_process_env(home, self.temporal, s, self.s3_endpoint, **(extra_env or {}))
        return s, env


async def _client(s: Any) -> Any:
    from temporalio.client import Client

    from rightsflow.codec import data_converter

    return await Client.connect(s.temporal_address, namespace="default", data_converter=data_converter(s))


async def _until(check: Any, timeout: float, every: float = 0.25) -> Any:
    """Poll ``check()`` (awaitable) until it returns something true; errors (a worker or server away)
    count as not yet."""
    import asyncio

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            got = await asyncio.wait_for(check(), timeout=10)
            if got:
                return got
        except Exception:  # noqa: BLE001 - a fault in progress: try again
            pass
        await asyncio.sleep(every)
    raise TimeoutError


class Job:
    """One request (or sweep) carried through by the DPO's steps; ``check`` says whether it was done
    exactly once from what the register and the stores hold."""

    def __init__(self, kind: str, s: Any, client: Any) -> None:
        self.kind, self.s, self.client = kind, s, client
        self.handle: Any = None
        self.request_id = ""
        self.result: Any = None
        self.expected: int = 0

    async def start(self) -> None:
        from rightsflow.identity import SubjectIdentifiers
        from rightsflow.register import Register
        from rightsflow.seed import shared_child_example

        if self.kind == "sweep":
            from workflows.retention_sweep import RetentionSweep, RetentionSweepInput

            self.expected = _predicted_disposals(self.s)
            self.handle = await self.client.start_workflow(
                RetentionSweep.run,
                RetentionSweepInput(
                    as_of=AS_OF,
                    services=SWEPT,
                    batch_size=4,
                    batch_pause_seconds=0.05,
                    heartbeat_timeout_seconds=2,
                ),
                id=f"faults-sweep-{self.s.task_queue}",
                task_queue=self.s.task_queue,
            )
            return
        from rightsflow.catalog import load_catalog
        from rightsflow.seed import PERSON_TABLES

        urls = {svc.service: svc.store.resolved_url(self.s.home) for svc in load_catalog(self.s.catalog_dir)}
        child = shared_child_example({k: u for k, u in urls.items() if k in PERSON_TABLES})
        register = Register(self.s)
        ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=child.nhs_number))
        kind = "subject_access" if self.kind == "sar" else "erasure"
        # The shared child is known to Lewisham's services: the request is made to Lewisham.
        self.request_id = register.create_request(
            kind, ref, received_on=date.today(), controller="lewisham"
        ).request_id
        if self.kind == "sar":
            from workflows.subject_access import SarInput, SubjectAccessRequest

            self.handle = await self.client.start_workflow(
                SubjectAccessRequest.run,
                SarInput(
                    request_id=self.request_id,
                    subject_ref=ref,
                    received_on=date.today().isoformat(),
                    services=LEWISHAM,
                    store_retry_first_seconds=1,
                    store_retry_max_seconds=3,
                ),
                id=f"sar-{self.request_id}",
                task_queue=self.s.task_queue,
            )
        else:
            from workflows.erasure import Erasure, ErasureInput

            self.handle = await self.client.start_workflow(
                Erasure.run,
                ErasureInput(
                    request_id=self.request_id,
                    subject_ref=ref,
                    received_on=date.today().isoformat(),
                    ground="consent-withdrawn",
                    services=[FT],
                ),
                id=f"erasure-{self.request_id}",
                task_queue=self.s.task_queue,
            )

    async def finish(self, timeout: float) -> None:
        """The DPO's steps (verify and approve; confirm the proposals), then the outcome."""
        import asyncio

        h = self.handle
        if self.kind == "sar":
            from workflows.subject_access import ApproveInput, SubjectAccessRequest, VerifyInput

            async def stage() -> Any:
                return (await h.query(SubjectAccessRequest.status)).stage

            await asyncio.wait_for(
                h.execute_update(
                    SubjectAccessRequest.verify, VerifyInput(identity_received=date.today().isoformat())
                ),
                timeout,
            )
            await _until(lambda: _is(stage, "awaiting_review"), timeout)
            await asyncio.wait_for(h.execute_update(SubjectAccessRequest.approve, ApproveInput()), timeout)
        elif self.kind == "erasure":
            from workflows.erasure import DecideInput, Erasure

            async def stage() -> Any:
                return (await h.query(Erasure.status)).stage

            await _until(lambda: _is(stage, "awaiting_decision"), timeout)
            await asyncio.wait_for(
                h.execute_update(Erasure.decide, DecideInput(confirm_proposals=True, decided_by="faults")),
                timeout,
            )
        self.result = await asyncio.wait_for(h.result(), timeout)

    def check(self, run: Run) -> None:
        """Completed, exactly once: one pack sent; each service erased once; each household disposed
        once and as many as the dry run predicted."""
        from collections import Counter

        from rightsflow.register import Register

        if self.result is None:
            run.lost += 1
            return
        run.completed += 1
        if self.kind == "sweep":
            from sqlalchemy import select

            from rightsflow.retention import RetentionDisposal

            t = RetentionDisposal.__table__  # type: ignore[attr-defined]
            with Register(self.s).engine.connect() as c:
                refs = Counter(tuple(r) for r in c.execute(select(t.c.service, t.c.household_ref)).all())
            twice = sum(n - 1 for n in refs.values())
            got = sum(r.counts.disposed + r.counts.anonymised for r in self.result.services)
            run.twice += twice
            if twice == 0 and len(refs) == self.expected == got:
                run.once += 1
            else:
                run.note += f" sweep: {len(refs)} in the register, {got} reported, {self.expected} predicted;"
            return
        trail = Counter((e.action, e.service) for e in Register(self.s).audit_trail(self.request_id))
        if self.kind == "sar":
            done = [n for (a, _), n in trail.items() if a == "subject_access.pack_sent"]
            ok = self.result.outcome == "delivered" and done == [1]
            ok = ok and all(n == 1 for (a, _), n in trail.items() if a == "subject_access.gathered")
        else:
            done = [n for (a, _), n in trail.items() if a == "erasure.erased"]
            ok = all(n == 1 for n in done) and len(done) == len(self.result.erased)
        run.twice += sum(n - 1 for n in done if n > 1)
        if ok:
            run.once += 1
        else:
            run.note += f" {self.kind}: {dict(trail)};"


async def _is(stage: Any, want: str) -> bool:
    return (await stage()) == want


def _predicted_disposals(s: Any) -> int:
    """What a dry run of the swept stores would dispose of (households)."""
    from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts, run_batches
    from rightsflow.catalog import load_catalog
    from rightsflow.register import Register

    acts = RetentionActivities(s, load_catalog(s.catalog_dir), Register(s))
    total = 0
    for service in SWEPT:
        inp = SweepBatchesInput(
            sweep_id="dry-run-check",
            service=service,
            as_of=AS_OF,
            dry_run=True,
            batch_size=50,
            max_seconds=600,
        )
        res = run_batches(acts, inp, None, SweepCounts())
        total += res.counts.disposed + res.counts.anonymised
    return total


HORIZON = {"sar": (0.3, 6.0), "erasure": (0.3, 4.0), "sweep": (0.3, 4.0)}  # seconds after filing


async def run_scenario(
    rig: FaultRig,
    scenario: str,
    kind: str,
    rng: Any,
    *,
    requests: int = 1,
    outage: float = 10.0,
    timeout: float = 120.0,
    server: DevServer | None = None,
    s3: Any = None,
    proxy: TcpProxy | None = None,
    extra_env: dict[str, str] | None = None,
) -> Run:
    """One run: start the worker(s), file the requests, inject the fault at a seeded random point,
    carry the requests to their end and check each was done exactly once.

    scenario: ``kill`` (kill -9 the worker, start a new one), ``kill-receiver`` (a transfer's
    receiving council's worker, likewise), ``two-workers`` (two on the queue, kill
    one), ``server`` (kill -9 the Temporal dev server, restart it), ``s3`` (stop the S3 server for
    ``outage`` seconds), ``store`` (a PostgreSQL store unreachable for ``outage`` seconds)."""
    import asyncio

    s, env = rig.home(f"{scenario}-{kind}", extra_env)
    logs = s.home / "logs"
    logs.mkdir(exist_ok=True)
    run = Run(f"{scenario}:{kind}", requests)
    workers = [Worker(env, logs / "worker-1.log")]
    if scenario == "two-workers":
        workers.append(Worker(env, logs / "worker-2.log"))
    camden = None
    if kind == "transfer":  # the receiving council's worker, in a process of its own
        from tests.fault_transfer import camden_beside

        camden = camden_beside(s, rig.temporal, rig.s3_endpoint)
        workers.append(Worker(camden.env, logs / "camden-worker-1.log"))
    try:
        for w in workers:
            await asyncio.to_thread(w.ready)
        client = await _client(s)
        if camden is not None:
            from tests.fault_transfer import TransferJob

            jobs: list[Any] = [TransferJob(s, client, camden) for _ in range(requests)]
        else:
            jobs = [Job(kind, s, client) for _ in range(1 if kind == "sweep" else requests)]
        run.requests = len(jobs)
        for j in jobs:
            await j.start()
        tasks = [asyncio.create_task(j.finish(timeout)) for j in jobs]
        if camden is not None:
            await jobs[0].at_fault_point(rng, scenario)
        else:
            await asyncio.sleep(rng.uniform(*HORIZON[kind]))
        back = 0.0
        if scenario == "kill":
            workers[0].kill()
            workers.append(Worker(env, logs / "worker-2.log"))
            back = await asyncio.to_thread(workers[-1].ready)
        elif scenario == "kill-receiver":
            assert camden is not None
            workers[1].kill()
            workers.append(Worker(camden.env, logs / "camden-worker-2.log"))
            back = await asyncio.to_thread(workers[-1].ready)
        elif scenario == "two-workers":
            workers[0].kill()
            back = time.monotonic()
        elif scenario == "server":
            assert server is not None
            server.kill()
            await asyncio.sleep(2)
            await asyncio.to_thread(server.start)
            back = time.monotonic()
        elif scenario == "s3":
            s3.stop()
            await asyncio.sleep(outage)
            s3.start()
            back = time.monotonic()
        elif scenario == "store":
            assert proxy is not None
            proxy.down()
            await asyncio.sleep(outage)
            proxy.up()
            back = time.monotonic()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        ended = time.monotonic()
        for j, o in zip(jobs, outcomes, strict=True):
            if isinstance(o, BaseException):
                run.note += f" {kind}: {type(o).__name__} {str(o)[:200]};"
            j.check(run)
        if all(j.result is not None for j in jobs):
            run.recover = max(0.0, ended - back)
    finally:
        for w in workers:
            w.stop()
    return run


def summarise(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per scenario: runs, completed, completed exactly once, lost, disposed twice, recovery."""
    import statistics

    rows = []
    for name in dict.fromkeys(r.scenario for r in runs):
        mine = [r for r in runs if r.scenario == name]
        rec = [r.recover for r in mine if r.recover is not None]
        rows.append(
            {
                "scenario": name,
                "runs": len(mine),
                "requests": sum(r.requests for r in mine),
                "completed": sum(r.completed for r in mine),
                "once": sum(r.once for r in mine),
                "lost": sum(r.lost for r in mine),
                "twice": sum(r.twice for r in mine),
                "missed": sum(r.missed for r in mine),
                "recover_median": statistics.median(rec) if rec else None,
                "recover_max": max(rec) if rec else None,
            }
        )
    return rows


if __name__ == "__main__" and sys.argv[1:] == ["driver"]:
    _driver()
