"""``rightsflow up`` / ``rightsflow down``: start the embedded stack in order, supervise it, record
its pids in ``<home>/run/stack.json`` and stop it from any shell."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rightsflow.config import Settings
from rightsflow.embedded.children import _run_seed, start_codec_endpoint_process, start_worker_process
from rightsflow.embedded.extras import ExtraContext, ExtraProcess, registered_processes, start_extra_process
from rightsflow.embedded.processes import (
    LOOPBACK,
    STOP_TIMEOUT,
    ManagedProcess,
    StackAlreadyRunning,
    StackError,
    _echo,
    _pid_alive,
    _proc_start_time,
    port_in_use,
)
from rightsflow.embedded.seaweedfs import ensure_s3_credentials, start_seaweedfs
from rightsflow.embedded.temporal import start_temporal_dev_server, temporal_ready
from rightsflow.keys import ensure_codec_key_file, ensure_codec_token, ensure_hash_key_file
from rightsflow.permissions import make_private, private_umask
from rightsflow.register import Register
from rightsflow.s3 import ensure_archive_bucket

DEFAULT_CODEC_PORT = 8081
# The stack's own children, in start order; an extra process may not take one of these names.
_CORE = ("codec", "temporal", "seaweedfs", "worker")


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host:
        return address, default_port
    return host.strip("[]"), int(port)


def _is_local(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "")


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
        warned: set[str] = set()
        try:
            while not stop_requested.wait(poll_interval):
                for name, proc in self.processes.items():
                    if proc.alive():
                        continue
                    # The worker and extras (console, mail catcher, ...) are not essential: the
                    # operator is told once and the rest keeps running.
                    if name == "worker" or (name not in _CORE and not proc.info.get("essential")):
                        if name not in warned:
                            _echo(
                                f"warning: the {name} exited with code {proc.returncode}; see "
                                f"{proc.log_path}. The rest of the stack keeps running."
                            )
                            warned.add(name)
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
    extras: Sequence[ExtraProcess] | None = None,
) -> Stack:
    """Start the embedded stack under settings.home.

    With ``foreground`` (``rightsflow up``) this blocks until Ctrl-C/SIGTERM and returns the stopped
    stack; otherwise it returns the running stack (the caller stops it, or ``rightsflow down`` does).
    ``extras`` are the extra processes to start (default: every registered one, see
    :mod:`rightsflow.embedded.extras`); ``extras=()`` starts the core alone.
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

    extra_list = list(registered_processes() if extras is None else extras)
    clash = [p.name for p in extra_list if p.name in _CORE]
    if clash:
        raise StackError(f"an extra process may not be called {', '.join(clash)} (the stack's own)")
    try:
        extra_ports = {p.name: p.chosen_port(os.environ) for p in extra_list}
    except ValueError as exc:
        raise StackError(str(exc)) from None
    wanted = {
        "Temporal gRPC": t_port,
        "Temporal Web UI": ui_port,
        "S3": s3_port,
        "codec endpoint": codec_port,
    }
    wanted.update({p.label: port for p in extra_list if (port := extra_ports[p.name])})
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

    # The home holds plain personal data (stores/*.db), the register, logs and keys: everything
    # created from here on (children inherit the umask) is 0600/0700, and what an earlier release
    # left open is closed.
    private_umask()
    for sub in ("logs", "run", "temporal", "s3", "keys"):
        (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    tightened = make_private(home)
    if tightened:
        _echo(f"made {tightened} files and folders under {home} private to this account (0600/0700)")
    ensure_codec_key_file(settings)
    ensure_hash_key_file(settings)
    codec_token = ensure_codec_token(settings)
    access_key, secret_key = ensure_s3_credentials(settings)
    # An existing register is upgraded in place before anything uses it (see rightsflow.migrations).
    Register(settings).create_schema()

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
        stack.addresses = {
            "temporal": temporal_address,
            "namespace": settings.temporal_namespace,
            "web_ui": ui_url,
            "s3_endpoint": s3_endpoint,
            "s3_bucket": settings.s3_bucket,
            "codec_endpoint": codec_url,
            "codec_sign_in": f"{codec_url}/login?token={codec_token}",
            "register": settings.register_url,
            "stores": str(settings.stores_dir),
            "logs": str(home / "logs"),
            "keys": str(home / "keys"),
        }

        def start_extras(before_worker: bool) -> None:
            for extra in extra_list:
                if extra.before_worker != before_worker:
                    continue
                ctx = ExtraContext(
                    settings=stack_settings,
                    home=home,
                    port=extra_ports[extra.name],
                    env=dict(env),
                    addresses=dict(stack.addresses),
                )
                if extra.enabled is not None and not extra.enabled(ctx):
                    continue
                proc = start_extra_process(extra, ctx)
                stack.processes[extra.name] = proc
                if proc.address:
                    stack.addresses[extra.name] = proc.address
                if extra.exports is not None:
                    env.update(extra.exports(ctx))

        start_extras(before_worker=True)
        if with_worker:
            worker = start_worker_process(home, env)
            if worker is not None:
                stack.processes["worker"] = worker
        start_extras(before_worker=False)
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
        ("Codec endpoint", f"{a['codec_endpoint']}  (token required)"),
        *(
            (str(proc.info["label"]), a[name])
            for name, proc in stack.processes.items()
            if name not in _CORE and name in a and proc.info.get("label")
        ),
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
    if a.get("codec_sign_in"):
        _echo(
            "To read decrypted payloads in the Web UI, open this once in the same browser, then turn on "
            "'Include cross-origin credentials' in the Web UI's codec server settings:\n"
            f"  {a['codec_sign_in']}"
        )


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
