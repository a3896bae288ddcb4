"""The Temporal CLI dev server (``temporal server start-dev``) as a child of the embedded stack."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from rightsflow.embedded.processes import (
    LOOPBACK,
    READY_TIMEOUT,
    ManagedProcess,
    _run_async,
    _spawn,
    _wait_until,
    find_binary,
)


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
