"""The stack's own Python children: the remote codec endpoint, the worker, and the demo data seed."""

from __future__ import annotations

import importlib.util
import inspect
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from rightsflow.config import REPO_ROOT, Settings
from rightsflow.embedded.processes import (
    LOOPBACK,
    ManagedProcess,
    _echo,
    _http_ok,
    _run_async,
    _spawn,
    _wait_until,
)


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
