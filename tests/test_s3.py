"""The S3 archive against moto and against a real SeaweedFS (``weed mini``)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from rightsflow.config import Settings, load_settings
from rightsflow.s3 import (
    ArchiveBucketError,
    ensure_archive_bucket,
    object_lock_of,
    opaque_key,
    presigned_get,
    put_locked_object,
    s3_client,
)
from rightsflow.stack import free_port, start_seaweedfs

MARKER = b"943 476 5919"


@dataclasses.dataclass
class S3Backend:
    name: str
    settings: Settings
    client: Any
    data_dir: Path | None = None


def _settings(home: Path, endpoint: str, access_key: str, secret_key: str) -> Settings:
    return dataclasses.replace(
        load_settings(),
        home=home,
        s3_endpoint=endpoint,
        s3_region="eu-west-2",
        s3_access_key=access_key,
        s3_secret_key=secret_key,
    )


@pytest.fixture(
    scope="module",
    params=["moto", pytest.param("seaweedfs", marks=pytest.mark.seaweedfs)],
)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Backend]:
    home = tmp_path_factory.mktemp(f"s3-{request.param}")
    port = free_port()
    if request.param == "moto":
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        settings = _settings(home, f"http://127.0.0.1:{port}", "testing", "testing")
        try:
            yield S3Backend("moto", settings, s3_client(settings))
        finally:
            server.stop()
    else:
        access_key, secret_key = "rftestaccess", "rf-test-secret-" + uuid.uuid4().hex
        proc = start_seaweedfs(home, port, access_key=access_key, secret_key=secret_key, ready_timeout=60)
        settings = _settings(home, f"http://127.0.0.1:{port}", access_key, secret_key)
        try:
            yield S3Backend("seaweedfs", settings, s3_client(settings), data_dir=home / "s3")
        finally:
            proc.stop()


def _bucket() -> str:
    return f"archive-{uuid.uuid4().hex[:12]}"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_archive_bucket_is_created_idempotently_with_object_lock(backend: S3Backend) -> None:
    bucket = _bucket()
    first = ensure_archive_bucket(backend.client, bucket)
    second = ensure_archive_bucket(backend.client, bucket)
    assert first == {"created": True, "object_lock": True, "default_sse": True}
    assert second == {"created": False, "object_lock": True, "default_sse": True}
    conf = backend.client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled"
    assert backend.client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = backend.client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_existing_bucket_without_object_lock_is_refused(backend: S3Backend) -> None:
    bucket = _bucket()
    backend.client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": backend.settings.s3_region}
    )
    with pytest.raises(ArchiveBucketError, match="Object Lock"):
        ensure_archive_bucket(backend.client, bucket)


def test_locked_object_cannot_be_deleted_while_retained(backend: S3Backend) -> None:
    client = backend.client
    bucket = _bucket()
    ensure_archive_bucket(client, bucket)
    key = opaque_key("packages", "req-01J9Z7", "sar.zip")
    body = b"package " + MARKER
    until = datetime.now(UTC) + timedelta(hours=1)
    written = put_locked_object(client, bucket, key, body, "application/zip", until)
    assert written["version_id"]
    assert written["sha256"] == __import__("hashlib").sha256(body).hexdigest()

    lock = object_lock_of(client, bucket, key)
    assert lock["mode"] == "COMPLIANCE"
    assert abs((lock["retain_until"] - until).total_seconds()) < 2
    assert lock["version_id"] == written["version_id"]

    # Deleting the locked version is refused ...
    with pytest.raises(ClientError) as denied:
        client.delete_object(Bucket=bucket, Key=key, VersionId=written["version_id"])
    assert _code(denied) == "AccessDenied"
    # ... also with the governance bypass, since the mode is COMPLIANCE.
    with pytest.raises(ClientError) as denied:
        client.delete_object(
            Bucket=bucket, Key=key, VersionId=written["version_id"], BypassGovernanceRetention=True
        )
    assert _code(denied) == "AccessDenied"
    # A plain delete only adds a delete marker; the locked version is still there.
    assert client.delete_object(Bucket=bucket, Key=key).get("DeleteMarker") is True
    got = client.get_object(Bucket=bucket, Key=key, VersionId=written["version_id"])
    assert got["Body"].read() == body
    # The bucket cannot be deleted while it holds objects.
    with pytest.raises(ClientError) as not_empty:
        client.delete_bucket(Bucket=bucket)
    assert _code(not_empty) == "BucketNotEmpty"


def test_shortening_compliance_retention(backend: S3Backend) -> None:
    """Record what each server does when asked to shorten COMPLIANCE retention.

    SeaweedFS refuses (as AWS does); moto accepts it, so moto is no evidence of this guarantee.
    """
    client = backend.client
    bucket = _bucket()
    ensure_archive_bucket(client, bucket)
    written = put_locked_object(
        client, bucket, "k/1", b"x", "text/plain", datetime.now(UTC) + timedelta(hours=1)
    )
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(seconds=5)}
    if backend.name == "seaweedfs":
        with pytest.raises(ClientError) as denied:
            client.put_object_retention(
                Bucket=bucket, Key="k/1", VersionId=written["version_id"], Retention=shorter
            )
        assert _code(denied) == "AccessDenied"
    else:
        client.put_object_retention(
            Bucket=bucket, Key="k/1", VersionId=written["version_id"], Retention=shorter
        )


def test_governance_mode_needs_the_bypass_and_expiry_frees_the_object(backend: S3Backend) -> None:
    client = backend.client
    bucket = _bucket()
    ensure_archive_bucket(client, bucket)
    gov = put_locked_object(
        client, bucket, "g/1", b"g", "text/plain", datetime.now(UTC) + timedelta(hours=1), mode="GOVERNANCE"
    )
    with pytest.raises(ClientError) as denied:
        client.delete_object(Bucket=bucket, Key="g/1", VersionId=gov["version_id"])
    assert _code(denied) == "AccessDenied"
    client.delete_object(
        Bucket=bucket, Key="g/1", VersionId=gov["version_id"], BypassGovernanceRetention=True
    )

    short = put_locked_object(
        client, bucket, "e/1", b"e", "text/plain", datetime.now(UTC) + timedelta(seconds=2)
    )
    time.sleep(2.5)
    client.delete_object(Bucket=bucket, Key="e/1", VersionId=short["version_id"])
    with pytest.raises(ClientError):
        client.head_object(Bucket=bucket, Key="e/1", VersionId=short["version_id"])


def test_sse_and_checksum(backend: S3Backend) -> None:
    client = backend.client
    bucket = _bucket()
    ensure_archive_bucket(client, bucket)
    body = os.urandom(64 * 1024) + b"SSE-PROBE " + MARKER + os.urandom(64 * 1024)
    written = put_locked_object(
        client, bucket, "sse/1", body, "application/octet-stream", datetime.now(UTC) + timedelta(hours=1)
    )
    head = client.head_object(Bucket=bucket, Key="sse/1", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    if backend.name == "seaweedfs":
        # SeaweedFS stores and returns the SHA-256 checksum (moto does not return it).
        import base64

        assert base64.b64decode(head["ChecksumSHA256"]).hex() == written["sha256"]
        # ... and SSE-S3 really encrypts the volume files: the marker is nowhere on disk.
        assert backend.data_dir is not None
        found = subprocess.run(
            ["grep", "-rlF", "SSE-PROBE", str(backend.data_dir)], capture_output=True, text=True
        )
        assert found.stdout.strip() == ""


def test_presigned_get_over_http(backend: S3Backend) -> None:
    client = backend.client
    bucket = _bucket()
    ensure_archive_bucket(client, bucket)
    put_locked_object(
        client, bucket, "p/1", b"evidence", "text/plain", datetime.now(UTC) + timedelta(hours=1)
    )
    url = presigned_get(client, bucket, "p/1", 300)
    assert url.startswith(backend.settings.s3_endpoint)
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"evidence"
    # A tampered signature is refused by SeaweedFS (moto does not check presigned signatures).
    if backend.name == "seaweedfs":
        bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 403
    with pytest.raises(ValueError):
        presigned_get(client, bucket, "p/1", 8 * 24 * 3600)


def test_retain_until_must_be_aware_and_future(backend: S3Backend) -> None:
    with pytest.raises(ValueError):
        put_locked_object(backend.client, "b", "k", b"x", "text/plain", datetime.now() + timedelta(hours=1))
    with pytest.raises(ValueError):
        put_locked_object(
            backend.client, "b", "k", b"x", "text/plain", datetime.now(UTC) - timedelta(hours=1)
        )


# --------------------------------------------------------------------------------------------------
# opaque keys (no server needed)


def test_opaque_key_joins_opaque_ids() -> None:
    assert opaque_key("packages", "req-01J9Z7", "sar.zip") == "packages/req-01J9Z7/sar.zip"
    assert opaque_key("archive/2026/", "svc_1", "a.b-c") == "archive/2026/svc_1/a.b-c"


@pytest.mark.parametrize(
    "parts",
    [
        ("packages", "jane.smith@example.org"),
        ("packages", "Jane Smith"),
        ("packages", "943\t476"),
        ("packages", "../etc"),
        ("packages", "a//b"),
        ("/packages", "x"),
        ("packages", ""),
        ("packages", "naïve"),
        ("packages", "a?b"),
    ],
)
def test_opaque_key_refuses_anything_personal_or_odd(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as info:
        opaque_key(*parts)
    for part in parts[1:]:
        if len(part) > 3:
            assert part not in str(info.value)


# Objects written without Object Lock on purpose (README, "What rightsflow keeps in S3"): each
# entry is the (class.)function holding a direct put_object, wherever its module is. Everything
# else must go through put_locked_object.
DELIBERATELY_UNLOCKED = {
    # the locking writers themselves (the second streams a sweep's manifest from a spooled file)
    "put_locked_object",
    "_put_locked_file",
    # claim-check working copies (sealed with AES-GCM), purged when the request or transfer ends
    "ClaimStore.put",
    # the transfer's delivery notice in the receiver's inbox (the transfer decides its lock)
    "TransferActivities.deliver",
}


def _unlocked_writes() -> set[str]:
    """Every function in rightsflow/ and activities/ that calls or passes on S3's put_object,
    upload_file(obj), copy_object or create_multipart_upload."""
    import ast

    root = Path(__file__).resolve().parent.parent
    writers = {"put_object", "upload_file", "upload_fileobj", "copy_object", "create_multipart_upload"}
    found: set[str] = set()
    for folder in ("rightsflow", "activities"):
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))

            def visit(node: ast.AST, owner: str, function: str, where: Path = path) -> None:
                for child in ast.iter_child_nodes(node):
                    cls, name = owner, function
                    if isinstance(child, ast.ClassDef) and not function:
                        cls = child.name
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and not function:
                        name = f"{owner}.{child.name}" if owner else child.name
                    if isinstance(child, ast.Attribute) and child.attr in writers:
                        found.add(function or f"<module {where.relative_to(root)}>")
                    visit(child, cls, name)

            visit(tree, "", "")
    return found


def test_every_object_written_to_s3_is_locked_or_listed_as_deliberately_not() -> None:
    unexpected = _unlocked_writes() - DELIBERATELY_UNLOCKED
    assert unexpected == set(), (
        "these write to S3 without Object Lock: use put_locked_object, or list them (and why) in "
        f"DELIBERATELY_UNLOCKED and the README: {sorted(unexpected)}"
    )
