"""The S3 archive: a bucket with Object Lock, objects written under retention, presigned reads.

Works against AWS S3, SeaweedFS (the embedded stack) and moto (tests). Object keys are opaque:
callers build them from opaque ids with :func:`opaque_key`, never from names, emails or NHS
numbers, because keys show up in access logs, listings and URLs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from rightsflow.config import Settings

log = logging.getLogger(__name__)

LockMode = Literal["COMPLIANCE", "GOVERNANCE"]
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

# Error codes with which S3-compatible servers say "this feature is not here".
_UNSUPPORTED_CODES = frozenset(
    {
        "NotImplemented",
        "NotImplementedError",
        "MethodNotAllowed",
        "UnsupportedOperation",
        "InvalidRequest",
        "XNotImplemented",
        "501",
        "405",
    }
)
_NOT_FOUND_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
_NO_LOCK_CONFIG_CODES = frozenset(
    {"ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound", "InvalidBucketState"}
)
_NO_SSE_CONFIG_CODES = frozenset({"ServerSideEncryptionConfigurationNotFoundError"})

_OPAQUE_PART = re.compile(r"^[A-Za-z0-9._/-]+$")


class ArchiveBucketError(RuntimeError):
    """The archive bucket cannot be used as a retention archive (e.g. it lacks Object Lock)."""


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _unsupported(exc: ClientError) -> bool:
    return _error_code(exc) in _UNSUPPORTED_CODES or _status(exc) in (501, 405)


def _checksum_unsupported(exc: ClientError) -> bool:
    code = _error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    if code in ("NotImplemented", "XNotImplemented") or _status(exc) == 501:
        return True
    return code in ("InvalidRequest", "InvalidArgument") and "checksum" in message


# --------------------------------------------------------------------------------------------------
# client


def embedded_credentials_file(settings: Settings) -> Path:
    """Where the embedded stack keeps the SeaweedFS credentials it generated."""
    return settings.home / "keys" / "s3.json"


def s3_credentials(settings: Settings) -> tuple[str | None, str | None]:
    """Access key and secret: from settings, else the embedded stack's file, else (None, None)
    so boto3's own chain (instance role, AWS_PROFILE, ...) applies."""
    if settings.s3_access_key and settings.s3_secret_key:
        return settings.s3_access_key, settings.s3_secret_key
    path = embedded_credentials_file(settings)
    if path.exists():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return str(doc["access_key"]), str(doc["secret_key"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("embedded S3 credentials file %s is unreadable; ignoring it", path)
    return None, None


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the archive: path-style, SigV4, the settings' region and endpoint,
    standard retries. Checksums are computed only when an operation requires them (we send
    SHA-256 ourselves on archive writes), which keeps S3-compatible servers happy."""
    access_key, secret_key = s3_credentials(settings)
    config = Config(
        region_name=settings.s3_region,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint or None,
        region_name=settings.s3_region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


# --------------------------------------------------------------------------------------------------
# bucket


def _bucket_exists(client: Any, bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if _error_code(exc) in _NOT_FOUND_CODES or _status(exc) == 404:
            return False
        raise


def _object_lock_enabled(client: Any, bucket: str) -> bool:
    try:
        conf = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) in _NO_LOCK_CONFIG_CODES or _status(exc) == 404:
            return False
        raise
    return conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def _ensure_default_sse(client: Any, bucket: str) -> bool:
    """Turn on default SSE-S3 (AES256); False (with a warning) where the server cannot."""
    try:
        current = client.get_bucket_encryption(Bucket=bucket)
        rules = current.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        for rule in rules:
            if rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in (
                "AES256",
                "aws:kms",
            ):
                return True
    except ClientError as exc:
        if not (_error_code(exc) in _NO_SSE_CONFIG_CODES or _unsupported(exc) or _status(exc) in (400, 404)):
            raise
    try:
        client.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        return True
    except ClientError as exc:
        if _unsupported(exc):
            log.warning(
                "S3 server does not support default bucket encryption on %s (%s); objects are still "
                "written with SSE requested per object",
                bucket,
                _error_code(exc) or _status(exc),
            )
            return False
        raise


def ensure_archive_bucket(client: Any, bucket: str) -> dict[str, bool]:
    """Create ``bucket`` with Object Lock if it does not exist, and turn on default SSE (AES256).

    Idempotent. Raises :class:`ArchiveBucketError` if the bucket exists without Object Lock
    (Object Lock cannot be switched on for all servers after creation, and disposal certificates
    rely on it). Returns ``{"created": ..., "object_lock": True, "default_sse": ...}``.
    """
    created = False
    if not _bucket_exists(client, bucket):
        kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
        region = client.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            client.create_bucket(**kwargs)
            created = True
            log.info("created archive bucket %s with Object Lock", bucket)
        except ClientError as exc:
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
    if not _object_lock_enabled(client, bucket):
        raise ArchiveBucketError(
            f"bucket {bucket!r} exists but does not have Object Lock enabled; an archive bucket must "
            "be created with Object Lock (use a new bucket name, or enable Object Lock on it with "
            "put-object-lock-configuration where the server allows that)"
        )
    sse = _ensure_default_sse(client, bucket)
    return {"created": created, "object_lock": True, "default_sse": sse}


# --------------------------------------------------------------------------------------------------
# objects


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("retain_until must be timezone-aware")
    return value.astimezone(UTC)


def put_locked_object(
    client: Any,
    bucket: str,
    key: str,
    body: bytes,
    content_type: str,
    retain_until: datetime,
    mode: LockMode = "COMPLIANCE",
) -> dict[str, str | None]:
    """Write ``body`` under Object Lock retention until ``retain_until`` with SSE (AES256).

    Sends Content-MD5 and a SHA-256 checksum (dropped only if the server rejects the checksum
    header as unsupported). Returns ``{"version_id", "etag", "sha256"}`` (sha256 as hex, computed
    here). A server that does not accept the retention headers makes this fail: archive objects are
    never written unlocked.
    """
    if mode not in ("COMPLIANCE", "GOVERNANCE"):
        raise ValueError("mode must be COMPLIANCE or GOVERNANCE")
    until = _as_utc(retain_until)
    if until <= datetime.now(UTC):
        raise ValueError("retain_until must be in the future")
    digest = hashlib.sha256(body).digest()
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": body,
        "ContentType": content_type,
        "ContentMD5": base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode(),
        "ServerSideEncryption": "AES256",
        "ObjectLockMode": mode,
        "ObjectLockRetainUntilDate": until,
        "ChecksumSHA256": base64.b64encode(digest).decode(),
    }
    try:
        resp = client.put_object(**kwargs)
    except ClientError as exc:
        if not _checksum_unsupported(exc):
            raise
        log.warning(
            "S3 server rejected the SHA-256 checksum header (%s); retrying without it", _error_code(exc)
        )
        kwargs.pop("ChecksumSHA256")
        resp = client.put_object(**kwargs)
    return {
        "version_id": resp.get("VersionId"),
        "etag": (resp.get("ETag") or "").strip('"') or None,
        "sha256": digest.hex(),
    }


def presigned_get(client: Any, bucket: str, key: str, expires_seconds: int = 900) -> str:
    """A presigned GET URL for the object, valid for ``expires_seconds`` (max 7 days)."""
    if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires_seconds must be between 1 and {MAX_PRESIGN_SECONDS}")
    return client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
    )


def object_lock_of(client: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    """The object's lock state: ``{"mode", "retain_until" (aware UTC datetime), "legal_hold" (bool),
    "version_id"}``; None for what the object does not have.

    Read from HEAD Object (the ``x-amz-object-lock-*`` headers), which AWS, SeaweedFS and moto all
    return; moto's GetObjectRetention answers 500, so it is not used.
    """
    extra = {"VersionId": version_id} if version_id else {}
    head = client.head_object(Bucket=bucket, Key=key, **extra)
    until = head.get("ObjectLockRetainUntilDate")
    if isinstance(until, datetime):
        until = until.astimezone(UTC) if until.tzinfo else until.replace(tzinfo=UTC)
    hold = head.get("ObjectLockLegalHoldStatus")
    return {
        "mode": head.get("ObjectLockMode"),
        "retain_until": until,
        "legal_hold": None if hold is None else hold == "ON",
        "version_id": head.get("VersionId"),
    }


# --------------------------------------------------------------------------------------------------
# keys


def opaque_key(prefix: str, *parts: str) -> str:
    """Join a prefix and opaque ids into an object key, refusing anything that may be personal.

    Each piece must match ``[A-Za-z0-9._/-]+`` (so no '@', no whitespace), must not start with
    '/', and may not contain empty or '.'/'..' segments. Raises ValueError without echoing the
    refused value.
    """
    pieces = [prefix, *parts]
    for index, piece in enumerate(pieces):
        what = "prefix" if index == 0 else f"part {index}"
        if not isinstance(piece, str) or not piece:
            raise ValueError(f"opaque_key: {what} must be a non-empty string")
        if "@" in piece or any(ch.isspace() for ch in piece):
            raise ValueError(f"opaque_key: {what} contains '@' or whitespace; keys take opaque ids only")
        if not _OPAQUE_PART.match(piece):
            raise ValueError(f"opaque_key: {what} has characters outside [A-Za-z0-9._/-]")
        stripped = piece.strip("/") if index == 0 else piece
        if piece.startswith("/") or any(seg in ("", ".", "..") for seg in stripped.split("/")):
            raise ValueError(f"opaque_key: {what} has an empty, '.' or '..' path segment")
    return "/".join([prefix.rstrip("/"), *parts])
