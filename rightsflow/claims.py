"""The claim check: working copies of gathered records in the archive bucket, encrypted here.

Gathered records are personal data and never cross Temporal: an activity stores them under an
opaque key and passes the key. Each object is AES-256-GCM encrypted with the codec key (the key
id in a one-line header, so a rotated key still opens older objects; the object key is the
associated data, so a body moved to another key does not decrypt), on top of the bucket's SSE.
They are unlocked by design (``purge`` deletes every version when the request closes); the S3
tests list ``ClaimStore.put`` among the deliberately unlocked writers.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rightsflow.config import Settings
from rightsflow.keys import load_codec_keys
from rightsflow.s3 import ensure_archive_bucket, opaque_key, s3_client
from rightsflow.storemap import json_default


class ClaimStore:
    """Working objects in the archive bucket, AES-GCM encrypted with the codec key, unlocked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self._client: Any = None
        key_id, keys = load_codec_keys(settings)
        self._key_id, self._keys = key_id, keys

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.settings)
            ensure_archive_bucket(self._client, self.bucket)
        return self._client

    def put(self, key: str, doc: Any) -> None:
        body = json.dumps(doc, default=json_default, sort_keys=True).encode()
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self._key_id]).encrypt(nonce, body, key.encode())
        header = json.dumps({"kid": self._key_id}).encode() + b"\n"
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=header + nonce + sealed,
            ContentType="application/octet-stream",
            ServerSideEncryption="AES256",
        )

    def get(self, key: str) -> Any:
        raw = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        header, _, rest = raw.partition(b"\n")
        kid = json.loads(header)["kid"]
        plain = AESGCM(self._keys[kid]).decrypt(rest[:12], rest[12:], key.encode())
        return json.loads(plain)

    def purge(self, prefix: str) -> int:
        """Delete every version of every object under ``prefix`` (working copies only).

        Falls back to plain deletes where the server cannot list versions.
        """
        from botocore.exceptions import ClientError

        n = 0
        try:
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    self.client.delete_object(Bucket=self.bucket, Key=v["Key"], VersionId=v["VersionId"])
                    n += 1
            return n
        except ClientError:
            pass
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                self.client.delete_object(Bucket=self.bucket, Key=obj["Key"])
                n += 1
        return n


def work_prefix(request_id: str) -> str:
    return opaque_key("work", request_id) + "/"
