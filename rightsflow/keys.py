"""Key material: the payload-codec keys and the blind-index (HMAC) key.

Production gives keys in the environment (``RIGHTSFLOW_CODEC_KEY_ID`` + ``RIGHTSFLOW_CODEC_KEY``,
``RIGHTSFLOW_HASH_KEY``, all base64) and sets ``RIGHTSFLOW_REQUIRE_KEYS=1`` so that a missing key is
an error rather than a freshly generated one. The embedded (laptop) stack keeps them in files under
``<home>/keys/`` with 0600 permissions:

* codec key file: JSON ``{"current": "<key id>", "keys": {"<key id>": "<base64 32 bytes>", ...}}``.
  Older keys stay in the file after a rotation so that histories written with them still decode.
* hash key file: JSON ``{"key": "<base64 32 bytes>"}`` (a bare base64 line is accepted too).

With the key in the environment, older codec keys for decryption can be given in
``RIGHTSFLOW_CODEC_PREVIOUS_KEYS`` as ``id1:base64,id2:base64``.

Nothing here logs or raises with key bytes; errors name only files, variables and key ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rightsflow.config import Settings

log = logging.getLogger(__name__)

KEY_BYTES = 32
REQUIRE_KEYS_ENV = "RIGHTSFLOW_REQUIRE_KEYS"
CODEC_KEY_ID_ENV = "RIGHTSFLOW_CODEC_KEY_ID"
CODEC_KEY_ENV = "RIGHTSFLOW_CODEC_KEY"
CODEC_PREVIOUS_KEYS_ENV = "RIGHTSFLOW_CODEC_PREVIOUS_KEYS"
HASH_KEY_ENV = "RIGHTSFLOW_HASH_KEY"

_KEY_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyMaterialError(RuntimeError):
    """Key material is missing, malformed or unreadable."""


def keys_required() -> bool:
    """True in production mode (``RIGHTSFLOW_REQUIRE_KEYS=1``): never generate a key."""
    return os.environ.get(REQUIRE_KEYS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def new_key_id() -> str:
    """A fresh, sortable, opaque key id such as ``k20260121T101500-3f9a1c``."""
    return f"k{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _b64decode_key(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError(f"{what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyMaterialError(f"{what} must decode to {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_key_id(key_id: str, what: str) -> str:
    if not _KEY_ID_RE.match(key_id):
        raise KeyMaterialError(f"{what} must match [A-Za-z0-9._-]{{1,64}}")
    return key_id


def write_secret_file(path: Path, content: str, *, replace: bool = False) -> bool:
    """Write ``content`` to ``path`` with 0600 permissions (parent created 0700).

    Without ``replace`` the file is created exclusively: returns False if it already exists (so two
    processes racing to create a key agree on the one that won). With ``replace`` the new content
    goes to a temporary file that is renamed over the old one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not replace:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        return True
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _read_secret_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyMaterialError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyMaterialError(f"key file {path} cannot be read ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file %s is readable by group or others; it should be 0600", path)
    return text


# --------------------------------------------------------------------------------------------------
# codec keys


def _parse_codec_key_file(path: Path) -> tuple[str, dict[str, bytes]]:
    text = _read_secret_file(path)
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError:
        raise KeyMaterialError(f"codec key file {path} is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict) or not doc["keys"]:
        raise KeyMaterialError(f'codec key file {path} must hold {{"current": id, "keys": {{id: base64}}}}')
    current = doc.get("current")
    if not isinstance(current, str) or current not in doc["keys"]:
        raise KeyMaterialError(f'codec key file {path}: "current" must name one of its keys')
    keys: dict[str, bytes] = {}
    for key_id, value in doc["keys"].items():
        _check_key_id(key_id, f"codec key id in {path}")
        if not isinstance(value, str):
            raise KeyMaterialError(f"codec key {key_id} in {path} must be a base64 string")
        keys[key_id] = _b64decode_key(value, f"codec key {key_id} in {path}")
    return current, keys


def _codec_key_file_text(current: str, keys: dict[str, bytes]) -> str:
    doc = {"current": current, "keys": {kid: _b64(raw) for kid, raw in keys.items()}}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _previous_keys_from_env() -> dict[str, bytes]:
    raw = os.environ.get(CODEC_PREVIOUS_KEYS_ENV, "").strip()
    keys: dict[str, bytes] = {}
    if not raw:
        return keys
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, sep, value = item.partition(":")
        if not sep:
            raise KeyMaterialError(f"{CODEC_PREVIOUS_KEYS_ENV} must be a comma-separated list of id:base64")
        key_id = _check_key_id(key_id.strip(), f"key id in {CODEC_PREVIOUS_KEYS_ENV}")
        keys[key_id] = _b64decode_key(value, f"key {key_id} in {CODEC_PREVIOUS_KEYS_ENV}")
    return keys


def ensure_codec_key_file(settings: Settings) -> Path:
    """Create the codec key file with one fresh key if it is absent; return its path.

    Does nothing when the key comes from the environment. In production mode
    (``RIGHTSFLOW_REQUIRE_KEYS=1``) a missing file is an error, never generated.
    """
    path = Path(settings.codec_key_file)
    if settings.codec_key or path.exists():
        return path
    if keys_required():
        raise KeyMaterialError(
            f"no codec key: set {CODEC_KEY_ID_ENV} and {CODEC_KEY_ENV} (base64 of {KEY_BYTES} bytes) "
            f"or provide the key file {path} ({REQUIRE_KEYS_ENV}=1 forbids generating one)"
        )
    key_id = new_key_id()
    if write_secret_file(path, _codec_key_file_text(key_id, {key_id: generate_key()})):
        log.info("generated codec key %s in %s", key_id, path)
    return path


def load_codec_keys(settings: Settings) -> tuple[str, dict[str, bytes]]:
    """Return (current key id, {key id: 32-byte key}) for the payload codec.

    Environment first (``RIGHTSFLOW_CODEC_KEY_ID`` + ``RIGHTSFLOW_CODEC_KEY``, plus any
    ``RIGHTSFLOW_CODEC_PREVIOUS_KEYS``), else the key file, which is generated if absent unless
    ``RIGHTSFLOW_REQUIRE_KEYS=1``.
    """
    if settings.codec_key:
        if not settings.codec_key_id:
            raise KeyMaterialError(f"{CODEC_KEY_ENV} is set but {CODEC_KEY_ID_ENV} is not")
        current = _check_key_id(settings.codec_key_id, CODEC_KEY_ID_ENV)
        keys = _previous_keys_from_env()
        keys[current] = _b64decode_key(settings.codec_key, CODEC_KEY_ENV)
        return current, keys
    if settings.codec_key_id:
        raise KeyMaterialError(f"{CODEC_KEY_ID_ENV} is set but {CODEC_KEY_ENV} is not")
    path = ensure_codec_key_file(settings)
    current, keys = _parse_codec_key_file(path)
    keys.update({k: v for k, v in _previous_keys_from_env().items() if k not in keys})
    return current, keys


def rotate_codec_key(settings: Settings) -> str:
    """Add a fresh key to the codec key file and make it current; older keys are kept.

    Only for file-held keys (with keys in the environment, rotate there and list the old key in
    ``RIGHTSFLOW_CODEC_PREVIOUS_KEYS``). Returns the new key id.
    """
    if settings.codec_key:
        raise KeyMaterialError(f"the codec key comes from {CODEC_KEY_ENV}; rotate it in the environment")
    path = ensure_codec_key_file(settings)
    _, keys = _parse_codec_key_file(path)
    key_id = new_key_id()
    while key_id in keys:
        key_id = new_key_id()
    keys[key_id] = generate_key()
    write_secret_file(path, _codec_key_file_text(key_id, keys), replace=True)
    log.info("rotated codec key: %s is now current in %s", key_id, path)
    return key_id


# --------------------------------------------------------------------------------------------------
# hash (blind index) key


def ensure_hash_key_file(settings: Settings) -> Path:
    """Create the hash key file with a fresh 32-byte key if absent; return its path."""
    path = Path(settings.hash_key_file)
    if settings.hash_key or path.exists():
        return path
    if keys_required():
        raise KeyMaterialError(
            f"no hash key: set {HASH_KEY_ENV} (base64 of {KEY_BYTES} bytes) or provide the key file "
            f"{path} ({REQUIRE_KEYS_ENV}=1 forbids generating one)"
        )
    if write_secret_file(path, json.dumps({"key": _b64(generate_key())}) + "\n"):
        log.info("generated hash key in %s", path)
    return path


def load_hash_key(settings: Settings) -> bytes:
    """Return the 32-byte HMAC key for blind indexes (env ``RIGHTSFLOW_HASH_KEY`` or key file).

    Unlike codec keys the hash key cannot simply rotate: every blind index made with it would need
    recomputing.
    """
    if settings.hash_key:
        return _b64decode_key(settings.hash_key, HASH_KEY_ENV)
    path = ensure_hash_key_file(settings)
    text = _read_secret_file(path).strip()
    value: Any = text
    if text.startswith("{"):
        try:
            value = json.loads(text).get("key")
        except (json.JSONDecodeError, AttributeError):
            raise KeyMaterialError(f'hash key file {path} must hold {{"key": base64}}') from None
    if not isinstance(value, str):
        raise KeyMaterialError(f'hash key file {path} must hold {{"key": base64}}')
    return _b64decode_key(value, f"hash key in {path}")


# --------------------------------------------------------------------------------------------------
# blind index


def normalise(value: str) -> str:
    """Strip, casefold and collapse inner whitespace (any run of it becomes one space)."""
    return " ".join(value.split()).casefold()


def keyed_hash(key: bytes, value: str, purpose: str) -> str:
    """Hex HMAC-SHA256 of ``purpose`` + NUL + the normalised ``value``.

    ``purpose`` separates domains (e.g. ``"subject.nhs_number"`` vs ``"subject.surname"``), so the
    same value hashed for two purposes gives unrelated digests.
    """
    if len(key) < 16:
        raise KeyMaterialError("hash key is too short")
    if not purpose or "\x00" in purpose:
        raise ValueError("purpose must be a non-empty string without NUL")
    message = purpose.encode("utf-8") + b"\x00" + normalise(value).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------------
# the codec endpoint's access token

CODEC_TOKEN_ENV = "RIGHTSFLOW_CODEC_TOKEN"


def codec_token_file(settings: Settings) -> Path:
    return Path(settings.home) / "keys" / "codec-endpoint.token"


def ensure_codec_token(settings: Settings) -> str:
    """The bearer token the codec endpoint requires: ``RIGHTSFLOW_CODEC_TOKEN``, else the token file
    under the home, generated on first use (refused with ``RIGHTSFLOW_REQUIRE_KEYS=1``)."""
    given = os.environ.get(CODEC_TOKEN_ENV, "").strip()
    if given:
        if len(given) < 16:
            raise KeyMaterialError(f"{CODEC_TOKEN_ENV} must be at least 16 characters")
        return given
    path = codec_token_file(settings)
    if not path.exists():
        if keys_required():
            raise KeyMaterialError(
                f"no codec endpoint token: set {CODEC_TOKEN_ENV} (or create {path}), "
                f"or unset {REQUIRE_KEYS_ENV} to let rightsflow generate one"
            )
        if write_secret_file(path, secrets.token_urlsafe(32) + "\n"):
            log.info("generated the codec endpoint token in %s", path)
    token = _read_secret_file(path).strip()
    if len(token) < 16:
        raise KeyMaterialError(f"the codec endpoint token in {path} is shorter than 16 characters")
    return token
