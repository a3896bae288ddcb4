"""The embedded stack: the Temporal dev server keeps its data across restarts; up/down; pidfile."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from rightsflow.codec import connect_client
from rightsflow.config import REPO_ROOT, Settings, load_settings
from rightsflow.stack import (
    ExtraContext,
    ExtraProcess,
    StackAlreadyRunning,
    free_port,
    pidfile_path,
    start_stack,
    start_temporal_dev_server,
    stop_stack,
)

pytestmark = pytest.mark.devserver


def _settings(home: Path, t_port: int, s3_port: int) -> Settings:
    return dataclasses.replace(
        load_settings(),
        home=home,
        temporal_address=f"127.0.0.1:{t_port}",
        temporal_namespace="default",
        temporal_tls_cert=None,
        temporal_tls_key=None,
        temporal_tls_ca=None,
        s3_endpoint=f"http://127.0.0.1:{s3_port}",
        s3_access_key=None,
        s3_secret_key=None,
        codec_key_id=None,
        codec_key=None,
        codec_key_file=home / "keys" / "codec.key",
        hash_key=None,
        hash_key_file=home / "keys" / "hash.key",
        register_url=f"sqlite:///{home / 'register.db'}",
    )


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


async def test_dev_server_keeps_data_across_restarts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    settings = _settings(home, port, free_port())
    workflow_id = f"kept-{uuid.uuid4()}"

    server = start_temporal_dev_server(home, port, None, namespace="rf-kept")
    try:
        assert (home / "temporal" / "temporal.db").exists()
        client = await connect_client(settings)
        # No worker: the workflow stays running, recorded in the SQLite file.
        await client.start_workflow("NoSuchWorkflow", "payload", id=workflow_id, task_queue="nobody")
    finally:
        assert server.stop() is not None
    assert not server.alive()

    port2 = free_port()
    server = start_temporal_dev_server(home, port2, None)  # without --namespace rf-kept this time
    try:
        client = await connect_client(dataclasses.replace(settings, temporal_address=f"127.0.0.1:{port2}"))
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="rf-kept")
        )
        assert described.namespace_info.name == "rf-kept"
        desc = await client.get_workflow_handle(workflow_id).describe()
        assert desc.raw_description.workflow_execution_info.status == (
            WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        )
    finally:
        server.stop()


def test_up_pidfile_second_up_refused_and_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = _settings(home, free_port(), free_port())
    stack = start_stack(
        settings,
        foreground=False,
        with_worker=False,
        seed=False,
        codec_port=free_port(),
        ui_port=free_port(),
        extras=(),
    )
    try:
        record = json.loads(pidfile_path(settings).read_text())
        names = [child["name"] for child in record["children"]]
        assert names == ["codec", "temporal", "seaweedfs"]
        assert record["addresses"]["s3_bucket"] == settings.s3_bucket
        for sub in ("logs", "run", "temporal", "s3", "keys"):
            assert (home / sub).is_dir()
        assert (home / "keys" / "s3.json").stat().st_mode & 0o777 == 0o600

        with pytest.raises(StackAlreadyRunning, match="already running"):
            start_stack(settings, foreground=False, with_worker=False, seed=False)

        # Ports held by a stack under another home are reported as such.
        other = dataclasses.replace(
            _settings(tmp_path / "other", 0, 0), temporal_address=settings.temporal_address
        )
        other = dataclasses.replace(other, s3_endpoint=settings.s3_endpoint)
        with pytest.raises(StackAlreadyRunning, match="already in use"):
            start_stack(other, foreground=False, with_worker=False, seed=False, codec_port=free_port())

        stopped = stop_stack(settings)
        assert set(stopped) == {"codec", "temporal", "seaweedfs"}
        assert not pidfile_path(settings).exists()
        assert all(_pid_gone(child["pid"]) for child in record["children"])
    finally:
        stack.stop()
    assert stop_stack(settings) == []


def test_foreground_up_stops_children_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    t_port, s3_port, codec_port, ui_port = free_port(), free_port(), free_port(), free_port()
    settings = _settings(home, t_port, s3_port)
    env = dict(os.environ)
    env.update(
        {
            "RIGHTSFLOW_HOME": str(home),
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "RIGHTSFLOW_S3_ENDPOINT": settings.s3_endpoint or "",
            "RIGHTSFLOW_CODEC_KEY_FILE": str(settings.codec_key_file),
            "RIGHTSFLOW_HASH_KEY_FILE": str(settings.hash_key_file),
        }
    )
    for name in ("RIGHTSFLOW_S3_ACCESS_KEY", "RIGHTSFLOW_S3_SECRET_KEY", "AWS_ACCESS_KEY_ID"):
        env.pop(name, None)
    code = (
        "from rightsflow.config import load_settings\n"
        "from rightsflow.stack import start_stack\n"
        f"s = start_stack(load_settings(), with_worker=False, seed=False, codec_port={codec_port}, "
        f"ui_port={ui_port}, extras=())\n"
        "raise SystemExit(1 if s.failed else 0)\n"
    )
    up = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pidfile = pidfile_path(settings)
        deadline = time.monotonic() + 60
        while not pidfile.exists() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pidfile.exists(), up.stdout.read() if up.poll() is not None else "no pidfile"
        record = json.loads(pidfile.read_text())
        assert record["supervisor"]["pid"] == up.pid

        # `rightsflow down` from another process: SIGTERM to the supervisor, which stops its children.
        assert "supervisor" in stop_stack(settings)
        output, _ = up.communicate(timeout=60)
        assert up.returncode == 0, output
        assert "stopped." in output
        assert f"127.0.0.1:{t_port}" in output and f"http://127.0.0.1:{s3_port}" in output
        assert all(_pid_gone(child["pid"]) for child in record["children"])
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def _http_server(ctx: ExtraContext) -> list[str]:
    return [sys.executable, "-m", "http.server", str(ctx.port), "--bind", "127.0.0.1"]


def test_extra_processes_start_in_order_print_their_address_and_stop_with_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A console, mail catcher or intake worker is added to `up` by one ExtraProcess entry."""
    home = tmp_path / "home"
    settings = _settings(home, free_port(), free_port())
    catcher_port, console_port = free_port(), free_port()
    seen = tmp_path / "seen.txt"
    catcher = ExtraProcess(
        name="catcher",
        label="Mail catcher",
        port=catcher_port,
        argv=_http_server,
        address=lambda ctx: f"smtp://127.0.0.1:{ctx.port}",
        exports=lambda ctx: {"RF_TEST_CATCHER_PORT": str(ctx.port)},
        before_worker=True,
    )
    console = ExtraProcess(
        name="console",
        label="Console",
        port=1,  # overridden by the environment variable below
        port_env="RF_TEST_CONSOLE_PORT",
        # It sees what the earlier entry exported and the addresses of what already runs.
        argv=lambda ctx: [
            sys.executable,
            "-c",
            "import os, pathlib, sys, runpy; "
            f"pathlib.Path({str(seen)!r}).write_text(os.environ['RF_TEST_CATCHER_PORT'] + ' ' + "
            f"{ctx.addresses['temporal']!r}); "
            f"sys.argv = ['http.server', '{ctx.port}', '--bind', '127.0.0.1']; "
            "runpy.run_module('http.server', run_name='__main__')",
        ],
    )
    os.environ["RF_TEST_CONSOLE_PORT"] = str(console_port)
    try:
        stack = start_stack(
            settings,
            foreground=False,
            with_worker=False,
            seed=False,
            codec_port=free_port(),
            ui_port=free_port(),
            extras=(catcher, console),
        )
    finally:
        del os.environ["RF_TEST_CONSOLE_PORT"]
    try:
        record = json.loads(pidfile_path(settings).read_text())
        names = [child["name"] for child in record["children"]]
        assert names == ["codec", "temporal", "seaweedfs", "catcher", "console"]
        assert record["addresses"]["console"] == f"http://127.0.0.1:{console_port}"
        assert seen.read_text() == f"{catcher_port} {settings.temporal_address}"
        out = capsys.readouterr().out
        assert f"Mail catcher       smtp://127.0.0.1:{catcher_port}" in out
        assert f"Console            http://127.0.0.1:{console_port}" in out
        # `rightsflow down` stops the extras with the rest.
        assert {"catcher", "console"} <= set(stop_stack(settings))
        assert all(_pid_gone(child["pid"]) for child in record["children"])
    finally:
        stack.stop()


def test_an_extra_process_on_a_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    import socket

    home = tmp_path / "home"
    settings = _settings(home, free_port(), free_port())
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        extra = ExtraProcess(name="console", label="Console", port=busy, argv=_http_server)
        with pytest.raises(StackAlreadyRunning, match=f"Console port {busy}"):
            start_stack(settings, foreground=False, with_worker=False, seed=False, extras=(extra,))
    assert not pidfile_path(settings).exists()


def test_up_makes_the_home_private_and_its_codec_endpoint_requires_the_token(tmp_path: Path) -> None:
    """stores/*.db hold plain personal data: nothing under the home is readable by other accounts."""
    import stat
    import urllib.error
    import urllib.request

    home = tmp_path / "home"
    # What an earlier release left behind: a world-readable home, store and log.
    (home / "stores").mkdir(parents=True)
    (home / "logs").mkdir()
    home.chmod(0o755)
    (home / "stores" / "family_hub.db").write_text("plain personal data")
    (home / "stores" / "family_hub.db").chmod(0o644)
    (home / "logs" / "worker.log").write_text("old log")
    (home / "logs" / "worker.log").chmod(0o644)
    settings = _settings(home, free_port(), free_port())
    codec_port = free_port()
    stack = start_stack(
        settings,
        foreground=False,
        with_worker=False,
        seed=False,
        codec_port=codec_port,
        ui_port=free_port(),
        extras=(),
    )
    try:
        open_to_others = [
            f"{path.relative_to(home)} {stat.S_IMODE(path.lstat().st_mode):o}"
            for path in [home, *home.rglob("*")]
            if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077
        ]
        assert open_to_others == []
        assert stat.S_IMODE((home / "stores").stat().st_mode) == 0o700
        assert (home / "register.db").exists()  # upgraded (here: created) by up itself
        for name in ("codec.key", "hash.key", "s3.json", "codec-endpoint.token"):
            assert stat.S_IMODE((home / "keys" / name).stat().st_mode) == 0o600

        url = f"http://127.0.0.1:{codec_port}/decode"
        body = b'{"payloads": []}'
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, body, method="POST"), timeout=5)
        assert refused.value.code == 401
        token = (home / "keys" / "codec-endpoint.token").read_text().strip()
        request = urllib.request.Request(url, body, {"Authorization": f"Bearer {token}"}, method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200
    finally:
        stack.stop()
