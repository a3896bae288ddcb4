"""Payload encryption for Temporal, the Temporal client, and the remote codec HTTP endpoint.

Every payload (workflow and activity inputs and results, signals, updates, queries, memos) is
encrypted with AES-256-GCM before it leaves the process; the failure converter moves exception
messages and stack traces into an encoded attribute so they are encrypted too. The Temporal server
and anyone reading its database see only ciphertext, key ids and opaque workflow ids.

The codec endpoint lets the Temporal Web UI (and ``temporal --codec-endpoint``) show decrypted
payloads; it serves the remote codec protocol (``POST .../encode``, ``POST .../decode``) with the
stdlib HTTP server, and only to a caller that shows the endpoint's token (``RIGHTSFLOW_CODEC_TOKEN``,
else ``<home>/keys/codec-endpoint.token``, generated on first start) as ``Authorization: Bearer``
or as the cookie ``GET /login?token=...`` sets, or a session a registered check accepts (the
casework console's: see :data:`SESSION_CHECKS`); anyone else gets 401. Run it alone with::

    python -m rightsflow.codec --host 127.0.0.1 --port 8081 --cors-origin http://localhost:8233
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import temporalio.converter
import temporalio.service
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from rightsflow.keys import KEY_BYTES, ensure_codec_token, load_codec_keys

if TYPE_CHECKING:
    import temporalio.client

    from rightsflow.config import Settings

log = logging.getLogger(__name__)

ENCODING_KEY = "encoding"
ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_KEY = "encryption-key-id"
NONCE_BYTES = 12
MAX_CODEC_REQUEST_BYTES = 32 * 1024 * 1024
TOKEN_COOKIE = "rightsflow_codec"
SESSION_CHECK_ENV = "RIGHTSFLOW_CODEC_SESSION_CHECK"

#: Other ways a browser may show it is signed in, e.g. the casework console's session cookie (the
#: browser sends cookies for 127.0.0.1 to every port, when the Web UI's codec setting "include
#: cross-origin credentials" is on). Each check gets the request's headers and returns True to let
#: it decode. ``RIGHTSFLOW_CODEC_SESSION_CHECK=module:function`` adds one when the endpoint starts.
SESSION_CHECKS: list[Callable[[Mapping[str, str]], bool]] = []


class CodecKeyError(RuntimeError):
    """A payload names a key id that this process does not hold."""


class CodecDecryptError(RuntimeError):
    """A payload could not be decrypted (tampered with, truncated or encrypted with another key)."""


class EncryptionCodec(temporalio.converter.PayloadCodec):
    """AES-256-GCM payload codec with key rotation.

    Encodes with the current key; decodes with whichever key the payload's ``encryption-key-id``
    names. The plaintext is the original payload's serialized protobuf (metadata included), the
    ciphertext is ``nonce (12 bytes) || AES-GCM(ciphertext + tag)`` and the key id is bound as
    associated data, so a payload relabelled with another key id fails to decrypt. Payloads not
    marked ``binary/encrypted`` pass through decode unchanged.
    """

    def __init__(self, current_key_id: str, keys: Mapping[str, bytes]) -> None:
        super().__init__()
        if current_key_id not in keys:
            raise CodecKeyError(f"current codec key id {current_key_id!r} is not among the keys given")
        self._aead: dict[str, AESGCM] = {}
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise CodecKeyError(f"codec key {key_id!r} must be {KEY_BYTES} bytes")
            self._aead[key_id] = AESGCM(key)
        self.current_key_id = current_key_id

    @classmethod
    def from_settings(cls, settings: Settings) -> EncryptionCodec:
        current, keys = load_codec_keys(settings)
        return cls(current, keys)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._aead)

    # Synchronous cores (the HTTP endpoint uses these from its threads).

    def encode_payload(self, payload: Payload) -> Payload:
        key_id = self.current_key_id
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={ENCODING_KEY: ENCRYPTED_ENCODING, KEY_ID_KEY: key_id.encode()},
            data=nonce + ciphertext,
        )

    def decode_payload(self, payload: Payload) -> Payload:
        if payload.metadata.get(ENCODING_KEY, b"") != ENCRYPTED_ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_KEY, b"").decode("utf-8", errors="replace")
        aead = self._aead.get(key_id)
        if aead is None:
            raise CodecKeyError(f"payload encrypted with unknown codec key id {key_id!r}")
        data = payload.data
        if len(data) < NONCE_BYTES + 16:
            raise CodecDecryptError(f"encrypted payload (key id {key_id!r}) is truncated")
        try:
            plaintext = aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise CodecDecryptError(
                f"payload with codec key id {key_id!r} failed authentication (tampered or wrong key)"
            ) from None
        try:
            return Payload.FromString(plaintext)
        except DecodeError:
            raise CodecDecryptError(f"decrypted payload (key id {key_id!r}) is not a Payload") from None

    def encode_sync(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.encode_payload(p) for p in payloads]

    def decode_sync(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.decode_payload(p) for p in payloads]

    # temporalio.converter.PayloadCodec

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encode_sync(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decode_sync(payloads)


def data_converter_for(codec: temporalio.converter.PayloadCodec) -> temporalio.converter.DataConverter:
    """The default data converter with ``codec`` and encoded failure attributes."""
    return temporalio.converter.DataConverter(
        payload_codec=codec,
        # DefaultFailureConverter(encode_common_attributes=True): failure messages and stack
        # traces travel as an encoded (so encrypted) payload, not as plain text.
        failure_converter_class=temporalio.converter.DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter(settings: Settings) -> temporalio.converter.DataConverter:
    """The data converter every rightsflow client and worker uses."""
    return data_converter_for(EncryptionCodec.from_settings(settings))


def tls_config(settings: Settings) -> temporalio.service.TLSConfig | None:
    """TLSConfig from TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY / TEMPORAL_TLS_CA, or None."""
    if not settings.tls_enabled:
        return None
    if bool(settings.temporal_tls_cert) != bool(settings.temporal_tls_key):
        raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be given together")

    def read(path: str | None, what: str) -> bytes | None:
        if not path:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"{what} file {path} cannot be read ({exc.strerror})") from None

    return temporalio.service.TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca, "TEMPORAL_TLS_CA"),
        client_cert=read(settings.temporal_tls_cert, "TEMPORAL_TLS_CERT"),
        client_private_key=read(settings.temporal_tls_key, "TEMPORAL_TLS_KEY"),
    )


async def connect_client(settings: Settings, *, namespace: str | None = None) -> temporalio.client.Client:
    """Connect to settings.temporal_address with the encrypting data converter (and TLS if set)."""
    import temporalio.client

    return await temporalio.client.Client.connect(
        settings.temporal_address,
        namespace=namespace or settings.temporal_namespace,
        tls=tls_config(settings) or False,
        data_converter=data_converter(settings),
    )


# --------------------------------------------------------------------------------------------------
# remote codec endpoint (stdlib http.server)


@dataclass
class CodecEndpoint:
    """A running codec endpoint: ``url`` to give the Web UI, ``stop()`` to shut it down."""

    url: str
    host: str
    port: int
    _server: ThreadingHTTPServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CodecEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cookie(headers: Mapping[str, str], name: str) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    jar = SimpleCookie()
    try:
        jar.load(headers.get("Cookie", "") or "")
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def request_authorised(headers: Mapping[str, str], token: str | None) -> bool:
    """True if the request shows the endpoint's token (bearer or cookie) or a session a check accepts."""
    if token is None:
        return True  # an endpoint deliberately served without a token (tests, a private socket)
    expected = token.encode()
    bearer = headers.get("Authorization", "") or ""
    if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip().encode(), expected):
        return True
    cookie = _cookie(headers, TOKEN_COOKIE)
    if cookie and hmac.compare_digest(cookie.encode(), expected):
        return True
    for check in SESSION_CHECKS:
        try:
            if check(headers):
                return True
        except Exception:  # noqa: BLE001 - a failing check refuses, it does not open
            log.warning("codec endpoint: a session check failed", exc_info=True)
    return False


def _make_handler(
    codec: EncryptionCodec, origins: frozenset[str], auth_token: str | None
) -> type[BaseHTTPRequestHandler]:
    class CodecHandler(BaseHTTPRequestHandler):
        server_version = "rightsflow-codec"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            log.debug("codec endpoint: " + format, *args)

        def _cors_headers(self) -> None:
            origin = self.headers.get("Origin")
            if origin and ("*" in origins or origin in origins):
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self._cors_headers()
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._reply(status, json.dumps({"error": message}).encode())

        def _operation(self) -> str | None:
            # The protocol: only the last path segment decides (endpoints may be mounted anywhere).
            last = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            return last if last in ("encode", "decode") else None

        def do_OPTIONS(self) -> None:  # noqa: N802 - http.server naming
            self.send_response(204)
            self._cors_headers()
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            path, _, query = self.path.partition("?")
            if path.rstrip("/").endswith("health"):
                self._reply(200, b'{"status":"ok"}')
            elif path.rstrip("/").endswith("login"):
                self._login(query)
            else:
                self._error(404, "not found")

        def _login(self, query: str) -> None:
            """Sign this browser in: a cookie holding the token, sent with the Web UI's requests."""
            from urllib.parse import parse_qs

            given = (parse_qs(query).get("token") or [""])[0]
            if auth_token is None or not hmac.compare_digest(given.encode(), auth_token.encode()):
                self._error(401, "unauthorised: wrong or missing token")
                return
            body = (
                b"<!doctype html><title>rightsflow codec endpoint</title><p>This browser may now "
                b"decode payloads in the Temporal Web UI. In the Web UI's codec server settings, turn "
                b"on <em>Include cross-origin credentials</em>.</p>"
            )
            self.send_response(200)
            self.send_header(
                "Set-Cookie", f"{TOKEN_COOKIE}={auth_token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"
            )
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            op = self._operation()
            if op is None:
                self._error(404, "not found: use POST /encode or POST /decode")
                return
            if not request_authorised(self.headers, auth_token):
                self._error(401, "unauthorised: show the codec endpoint's token")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                self._error(400, "bad Content-Length")
                return
            if length <= 0 or length > MAX_CODEC_REQUEST_BYTES:
                self._error(413 if length > 0 else 400, "body missing or too large")
                return
            raw = self.rfile.read(length)
            # X-Namespace is accepted and ignored: one key set serves every namespace.
            try:
                payloads = json_format.Parse(raw, Payloads())
            except (json_format.ParseError, UnicodeDecodeError, ValueError):
                self._error(400, "body must be Payloads in protobuf JSON form")
                return
            try:
                fn = codec.encode_sync if op == "encode" else codec.decode_sync
                result = Payloads(payloads=fn(payloads.payloads))
            except (CodecKeyError, CodecDecryptError) as exc:
                # These messages name only key ids.
                self._error(422, str(exc))
                return
            except Exception:  # pragma: no cover - defensive: never leak payload content
                log.exception("codec endpoint failed on %s", op)
                self._error(500, "codec failure")
                return
            self._reply(200, json_format.MessageToJson(result).encode())

    return CodecHandler


def serve_codec_endpoint(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8081,
    cors_origin: str | Sequence[str] | None = "http://localhost:8233",
    *,
    auth_token: str | None = None,
    anonymous: bool = False,
    codec: EncryptionCodec | None = None,
) -> CodecEndpoint:
    """Serve the remote codec protocol on host:port (0 picks a free port) in a daemon thread.

    ``cors_origin`` is the Web UI origin (or several) allowed to call it from a browser.
    Callers must show ``auth_token`` (default: :func:`rightsflow.keys.ensure_codec_token`) as
    ``Authorization: Bearer <token>`` or its cookie; ``anonymous=True`` serves without one.
    """
    if auth_token is None and not anonymous:
        auth_token = ensure_codec_token(settings)
    if isinstance(cors_origin, str):
        origins = frozenset(o.strip().rstrip("/") for o in cors_origin.split(",") if o.strip())
    else:
        origins = frozenset(o.rstrip("/") for o in (cors_origin or ()))
    handler = _make_handler(codec or EncryptionCodec.from_settings(settings), origins, auth_token)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    bound_host, bound_port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, name="rightsflow-codec-endpoint", daemon=True)
    thread.start()
    url_host = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    return CodecEndpoint(
        url=f"http://{url_host}:{bound_port}",
        host=str(bound_host),
        port=int(bound_port),
        _server=server,
        _thread=thread,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from rightsflow.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m rightsflow.codec", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--cors-origin",
        default="http://localhost:8233,http://127.0.0.1:8233",
        help="comma-separated Web UI origins allowed to call the endpoint",
    )
    parser.add_argument(
        "--auth-token-env",
        default=None,
        help="name of an environment variable holding the bearer token requests must present "
        "(default: RIGHTSFLOW_CODEC_TOKEN, else the token file under the home)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from rightsflow.permissions import private_umask

    private_umask()
    token = os.environ.get(args.auth_token_env) if args.auth_token_env else None
    check = os.environ.get(SESSION_CHECK_ENV, "").strip()
    if check:
        import importlib

        module_name, _, attr = check.partition(":")
        SESSION_CHECKS.append(getattr(importlib.import_module(module_name), attr))
    endpoint = serve_codec_endpoint(load_settings(), args.host, args.port, args.cors_origin, auth_token=token)
    log.info("codec endpoint listening on %s", endpoint.url)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    endpoint.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
