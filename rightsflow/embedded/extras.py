"""Extra processes the embedded stack starts: the one place to add a laptop-side service to ``up``.

``rightsflow up`` starts its core (codec endpoint, Temporal dev server, SeaweedFS, the worker) and
then every registered :class:`ExtraProcess`: a casework console, a local mail catcher, a demo
receiving authority's intake worker. Adding one is one entry, in the module that owns the service::

    # rightsflow/console/embedded.py
    from rightsflow.embedded.extras import ExtraProcess, http_ready

    CONSOLE = ExtraProcess(
        name="console",                      # pidfile, logs/console.log, `rightsflow down` output
        label="Console",                     # printed: "Console  http://127.0.0.1:8080"
        port=8080,                           # default port on 127.0.0.1 ...
        port_env="RIGHTSFLOW_CONSOLE_PORT",  # ... which this variable overrides
        argv=lambda ctx: [sys.executable, "-m", "rightsflow.console", "--port", str(ctx.port)],
        ready=http_ready("/health"),         # default: the port accepts a TCP connection
    )

and one line naming it in :data:`EXTRA_PROCESSES` below (``"rightsflow.console.embedded:CONSOLE"``).
Entries are imported lazily by name when the stack starts, so this module imports nothing of
theirs, and a service whose module is absent is skipped with a warning instead of breaking ``up``.

Order: entries with ``before_worker=True`` start before the worker (a mail catcher the worker
sends to), the rest after it, each in list order. ``exports`` adds environment variables to every
process started after the entry, the worker included (e.g. ``RIGHTSFLOW_SMTP_PORT``). An extra that
dies is reported and the rest of the stack keeps running, unless it is ``essential``.
"""

from __future__ import annotations

import importlib
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsflow.config import REPO_ROOT, Settings
from rightsflow.embedded.processes import LOOPBACK, ManagedProcess, _echo, _http_ok, _spawn, _wait_until

#: ``"module:attribute"`` of each extra process ``rightsflow up`` starts (an :class:`ExtraProcess`,
#: or a callable of no arguments returning one or None). Add yours on its own line.
EXTRA_PROCESSES: list[str] = [
    "rightsflow.console.embedded:CONSOLE",
    "rightsflow.mail_embedded:MAILCATCHER",
    "rightsflow.intake_embedded:demo_intake",
]


@dataclass(frozen=True, kw_only=True)
class ExtraContext:
    """What an extra process's callables are given when the stack starts it."""

    settings: Settings  # the stack's settings (local Temporal, S3 endpoint and credentials filled in)
    home: Path
    port: int | None  # the port chosen for this process (its default, or its port_env override)
    env: Mapping[str, str]  # the stack's environment so far (RIGHTSFLOW_*, TEMPORAL_*, exports)
    addresses: Mapping[str, str]  # addresses of what already runs: temporal, web_ui, s3_endpoint, ...


@dataclass(frozen=True, kw_only=True)
class ExtraProcess:
    """One process ``rightsflow up`` starts, supervises, prints and ``rightsflow down`` stops."""

    name: str
    label: str
    argv: Callable[[ExtraContext], Sequence[str]]
    port: int | None = None
    port_env: str | None = None
    env: Callable[[ExtraContext], Mapping[str, str]] | None = None
    exports: Callable[[ExtraContext], Mapping[str, str]] | None = None
    ready: Callable[[ExtraContext], bool] | None = None
    address: Callable[[ExtraContext], str] | None = None
    before_worker: bool = False
    essential: bool = False
    stop_signal: int = signal.SIGTERM
    ready_timeout: float = 60.0
    enabled: Callable[[ExtraContext], bool] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def chosen_port(self, environ: Mapping[str, str]) -> int | None:
        """The port this process listens on: ``port_env`` if set in the environment, else ``port``."""
        if self.port_env and environ.get(self.port_env):
            try:
                return int(environ[self.port_env])
            except ValueError:
                raise ValueError(f"{self.port_env} must be a port number") from None
        return self.port

    def address_of(self, ctx: ExtraContext) -> str | None:
        """The address line printed after its label (default ``http://127.0.0.1:<port>``)."""
        if self.address is not None:
            return self.address(ctx)
        return f"http://{LOOPBACK}:{ctx.port}" if ctx.port else None

    def is_ready(self, ctx: ExtraContext) -> bool:
        if self.ready is not None:
            return self.ready(ctx)
        return tcp_ready(ctx) if ctx.port else True


def tcp_ready(ctx: ExtraContext) -> bool:
    """Ready when 127.0.0.1:<port> accepts a TCP connection."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, int(ctx.port or 0))) == 0


def http_ready(path: str = "/") -> Callable[[ExtraContext], bool]:
    """Ready when ``GET http://127.0.0.1:<port><path>`` answers 200."""
    return lambda ctx: _http_ok(f"http://{LOOPBACK}:{ctx.port}{path}")


_registered: list[ExtraProcess] = []


def register_process(process: ExtraProcess) -> None:
    """Add an extra process at run time (tests, plugins); replaces one of the same name."""
    _registered[:] = [p for p in _registered if p.name != process.name]
    _registered.append(process)


def unregister_process(name: str) -> None:
    _registered[:] = [p for p in _registered if p.name != name]


def registered_processes() -> list[ExtraProcess]:
    """Every extra process, :data:`EXTRA_PROCESSES` first, then those added by register_process."""
    found: dict[str, ExtraProcess] = {}
    for ref in EXTRA_PROCESSES:
        module_name, _, attr = ref.partition(":")
        try:
            value = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            _echo(f"warning: extra process {ref} is not available ({type(exc).__name__}); not started")
            continue
        process = value() if callable(value) and not isinstance(value, ExtraProcess) else value
        if isinstance(process, ExtraProcess):
            found[process.name] = process
    for process in _registered:
        found[process.name] = process
    return list(found.values())


def start_extra_process(process: ExtraProcess, ctx: ExtraContext) -> ManagedProcess:
    """Spawn one extra process with the stack's environment (plus its own) and wait until it is ready."""
    env = dict(ctx.env)
    if process.env is not None:
        env.update(process.env(ctx))
    proc = _spawn(
        process.name,
        list(process.argv(ctx)),
        ctx.home / "logs" / f"{process.name}.log",
        env=env,
        cwd=REPO_ROOT,
        stop_signal=process.stop_signal,
        address=process.address_of(ctx),
    )
    proc.info.update({"label": process.label, "essential": process.essential, **process.info})
    try:
        _wait_until(proc, lambda: process.is_ready(ctx), process.ready_timeout, f"{process.label} ready")
    except BaseException:
        proc.stop()
        raise
    return proc
