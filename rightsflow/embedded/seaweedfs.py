"""The SeaweedFS S3 server (``weed mini``) of the embedded stack, and its generated S3 identity."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from rightsflow.config import Settings
from rightsflow.embedded.processes import (
    LOOPBACK,
    READY_TIMEOUT,
    ManagedProcess,
    StackError,
    _spawn,
    _wait_until,
    find_binary,
    free_port,
    port_in_use,
)
from rightsflow.keys import write_secret_file
from rightsflow.s3 import embedded_credentials_file


def _free_port_with_grpc(host: str, exclude: set[int], offset: int = 10000) -> int:
    """A free port p whose p + offset is free too (SeaweedFS derives some gRPC ports that way)."""
    for _ in range(200):
        port = free_port(host, exclude=tuple(exclude))
        if port + offset <= 65535 and port + offset not in exclude and not port_in_use(port + offset, host):
            return port
    raise StackError("could not find a free port pair for SeaweedFS")


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
