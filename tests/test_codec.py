"""The payload codec, key material, and what reaches the Temporal server (only ciphertext)."""

from __future__ import annotations

import base64
import dataclasses
import json
import stat
import sys
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import temporalio.converter
from google.protobuf import json_format
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from rightsflow import keys
from rightsflow.codec import (
    CodecDecryptError,
    CodecKeyError,
    EncryptionCodec,
    data_converter,
    serve_codec_endpoint,
)
from rightsflow.config import Settings, load_settings

MARKER = "943 476 5919"  # a fake NHS number: it must never reach Temporal in plain text


def make_settings(home: Path, **overrides: object) -> Settings:
    base = dataclasses.replace(
        load_settings(),
        home=home,
        codec_key_id=None,
        codec_key=None,
        codec_key_file=home / "keys" / "codec.key",
        hash_key=None,
        hash_key_file=home / "keys" / "hash.key",
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture(autouse=True)
def _no_production_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (keys.REQUIRE_KEYS_ENV, keys.CODEC_PREVIOUS_KEYS_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


def to_payload(value: object) -> Payload:
    return temporalio.converter.default().payload_converter.to_payload(value)


def from_payload(payload: Payload) -> object:
    return temporalio.converter.default().payload_converter.from_payload(payload)


# --------------------------------------------------------------------------------------------------
# codec


def test_round_trip_and_ciphertext_hides_the_marker() -> None:
    codec = EncryptionCodec("k1", {"k1": keys.generate_key()})
    original = to_payload({"nhs_number": MARKER, "note": "child protection plan"})
    [encoded] = codec.encode_sync([original])
    assert encoded.metadata["encoding"] == b"binary/encrypted"
    assert encoded.metadata["encryption-key-id"] == b"k1"
    raw = encoded.SerializeToString()
    assert MARKER.encode() not in raw
    assert b"json/plain" not in raw  # the original metadata is encrypted too
    [decoded] = codec.decode_sync([encoded])
    assert decoded == original
    assert from_payload(decoded) == {"nhs_number": MARKER, "note": "child protection plan"}


async def test_async_interface_and_random_nonce() -> None:
    codec = EncryptionCodec("k1", {"k1": keys.generate_key()})
    payload = to_payload(MARKER)
    first, second = await codec.encode([payload, payload])
    assert first.data != second.data  # a fresh nonce per payload
    assert await codec.decode([first, second]) == [payload, payload]


def test_plain_payloads_pass_through_decode() -> None:
    codec = EncryptionCodec("k1", {"k1": keys.generate_key()})
    plain = to_payload("not encrypted")
    assert codec.decode_sync([plain]) == [plain]


def test_unknown_key_id_error_names_only_the_id() -> None:
    old_key = keys.generate_key()
    [encoded] = EncryptionCodec("k-retired", {"k-retired": old_key}).encode_sync([to_payload(MARKER)])
    codec = EncryptionCodec("k-new", {"k-new": keys.generate_key()})
    with pytest.raises(CodecKeyError) as info:
        codec.decode_sync([encoded])
    message = str(info.value)
    assert "k-retired" in message
    assert MARKER not in message
    assert base64.b64encode(old_key).decode() not in message
    assert base64.b64encode(encoded.data).decode()[:16] not in message


def test_tampered_or_relabelled_payload_fails() -> None:
    codec = EncryptionCodec("a", {"a": keys.generate_key(), "b": keys.generate_key()})
    [encoded] = codec.encode_sync([to_payload(MARKER)])
    tampered = Payload()
    tampered.CopyFrom(encoded)
    tampered.data = encoded.data[:-1] + bytes([encoded.data[-1] ^ 1])
    with pytest.raises(CodecDecryptError) as info:
        codec.decode_sync([tampered])
    assert MARKER not in str(info.value)
    relabelled = Payload()
    relabelled.CopyFrom(encoded)
    relabelled.metadata["encryption-key-id"] = b"b"
    with pytest.raises(CodecDecryptError):
        codec.decode_sync([relabelled])


def test_key_rotation_old_payloads_still_decode(settings: Settings) -> None:
    first_id, first_keys = keys.load_codec_keys(settings)
    [old] = EncryptionCodec(first_id, first_keys).encode_sync([to_payload(MARKER)])

    new_id = keys.rotate_codec_key(settings)
    current, all_keys = keys.load_codec_keys(settings)
    assert current == new_id != first_id
    assert set(all_keys) == {first_id, new_id}

    rotated = EncryptionCodec.from_settings(settings)
    assert from_payload(rotated.decode_sync([old])[0]) == MARKER
    [fresh] = rotated.encode_sync([to_payload("x")])
    assert fresh.metadata["encryption-key-id"] == new_id.encode()


def test_data_converter_encrypts_failures(settings: Settings) -> None:
    converter = data_converter(settings)
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert isinstance(converter.failure_converter, temporalio.converter.DefaultFailureConverter)
    assert (
        converter.failure_converter_class is temporalio.converter.DefaultFailureConverterWithEncodedAttributes
    )


# --------------------------------------------------------------------------------------------------
# keys


def test_key_files_are_generated_private_and_stable(settings: Settings) -> None:
    assert not settings.codec_key_file.exists()
    path = keys.ensure_codec_key_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["current"] in doc["keys"]
    assert keys.load_codec_keys(settings) == keys.load_codec_keys(settings)

    hash_path = keys.ensure_hash_key_file(settings)
    assert stat.S_IMODE(hash_path.stat().st_mode) == 0o600
    key = keys.load_hash_key(settings)
    assert len(key) == 32
    assert keys.load_hash_key(settings) == key


def test_keys_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codec_key = keys.generate_key()
    old_key = keys.generate_key()
    monkeypatch.setenv(keys.CODEC_PREVIOUS_KEYS_ENV, "k-old:" + base64.b64encode(old_key).decode())
    settings = make_settings(
        tmp_path,
        codec_key_id="k-prod",
        codec_key=base64.b64encode(codec_key).decode(),
        hash_key=base64.b64encode(b"h" * 32).decode(),
    )
    assert keys.load_codec_keys(settings) == ("k-prod", {"k-prod": codec_key, "k-old": old_key})
    assert keys.load_hash_key(settings) == b"h" * 32
    assert not settings.codec_key_file.exists()  # nothing generated when the env gives the keys


def test_production_mode_refuses_to_generate(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(keys.REQUIRE_KEYS_ENV, "1")
    with pytest.raises(keys.KeyMaterialError, match="RIGHTSFLOW_CODEC_KEY"):
        keys.load_codec_keys(settings)
    with pytest.raises(keys.KeyMaterialError, match="RIGHTSFLOW_HASH_KEY"):
        keys.load_hash_key(settings)
    assert not settings.codec_key_file.exists()
    assert not settings.hash_key_file.exists()


def test_bad_key_errors_do_not_echo_the_value(tmp_path: Path) -> None:
    secret = "not-base64-but-secret!!"
    settings = make_settings(tmp_path, codec_key_id="k1", codec_key=secret)
    with pytest.raises(keys.KeyMaterialError) as info:
        keys.load_codec_keys(settings)
    assert secret not in str(info.value)
    short = make_settings(tmp_path, hash_key=base64.b64encode(b"short").decode())
    with pytest.raises(keys.KeyMaterialError, match="32 bytes"):
        keys.load_hash_key(short)


def test_keyed_hash_normalises_and_separates_purposes() -> None:
    key = b"k" * 32
    a = keys.keyed_hash(key, "  Jane   SMITH\t", "subject.name")
    assert a == keys.keyed_hash(key, "jane smith", "subject.name")
    assert len(a) == 64 and int(a, 16) >= 0
    assert a != keys.keyed_hash(key, "jane smith", "subject.surname")
    assert a != keys.keyed_hash(b"x" * 32, "jane smith", "subject.name")
    assert keys.keyed_hash(key, "Straße", "p") == keys.keyed_hash(key, "STRASSE", "p")  # casefold
    with pytest.raises(ValueError):
        keys.keyed_hash(key, "x", "bad\x00purpose")


# --------------------------------------------------------------------------------------------------
# what the Temporal server stores


@activity.defn
async def note_activity(text: str) -> str:
    if text.startswith("fail"):
        raise ApplicationError(f"activity refused {text}", non_retryable=True)
    return f"noted {text}"


@workflow.defn
class NoteWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        result = await workflow.execute_activity(
            note_activity,
            text,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        if "refuse" in text:
            raise ApplicationError(f"workflow refused {text}", non_retryable=True)
        return result


@pytest.fixture(scope="module")
async def time_skipping_env(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("codec-env")
    converter = data_converter(make_settings(home))
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=converter,
    )
    try:
        yield env
    finally:
        await env.shutdown()


def _history_bytes(history) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


async def test_history_holds_no_plaintext(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    task_queue = f"tq-{uuid.uuid4()}"
    # A client on the same server WITHOUT the codec: it sees what the server stores.
    plain = Client(env.client.service_client, namespace=env.client.namespace)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[NoteWorkflow],
        activities=[note_activity],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        ok_id = f"wf-{uuid.uuid4()}"
        result = await env.client.execute_workflow(
            NoteWorkflow.run, f"ok {MARKER}", id=ok_id, task_queue=task_queue
        )
        assert result == f"noted ok {MARKER}"

        refused_id = f"wf-{uuid.uuid4()}"
        with pytest.raises(WorkflowFailureError) as wf_info:
            await env.client.execute_workflow(
                NoteWorkflow.run, f"refuse {MARKER}", id=refused_id, task_queue=task_queue
            )
        # Through the codec the failure message is readable again.
        assert MARKER in str(wf_info.value.cause)

        act_id = f"wf-{uuid.uuid4()}"
        with pytest.raises(WorkflowFailureError) as act_info:
            await env.client.execute_workflow(
                NoteWorkflow.run, f"fail {MARKER}", id=act_id, task_queue=task_queue
            )
        assert MARKER in str(act_info.value.cause.cause)

    for wf_id in (ok_id, refused_id, act_id):
        history = await plain.get_workflow_handle(wf_id).fetch_history()
        raw = _history_bytes(history)
        assert MARKER.encode() not in raw, wf_id
        assert b"refused" not in raw, wf_id  # failure messages are encrypted too
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.input.payloads[0].metadata["encoding"] == b"binary/encrypted"
    failed = (await plain.get_workflow_handle(refused_id).fetch_history()).events[-1]
    failure = failed.workflow_execution_failed_event_attributes.failure
    assert failure.message == "Encoded failure"
    assert failure.encoded_attributes.metadata["encoding"] == b"binary/encrypted"


# --------------------------------------------------------------------------------------------------
# codec HTTP endpoint


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_codec_endpoint_decode_encode_and_cors(settings: Settings) -> None:
    codec = EncryptionCodec.from_settings(settings)
    origin = "http://localhost:8233"
    endpoint = serve_codec_endpoint(settings, "127.0.0.1", 0, origin, anonymous=True)
    try:
        encrypted = codec.encode_sync([to_payload({"nhs_number": MARKER})])
        body = json_format.MessageToJson(Payloads(payloads=encrypted)).encode()
        status, headers, reply = _post(
            endpoint.url + "/decode", body, {"Origin": origin, "X-Namespace": "default"}
        )
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == origin
        decoded = json_format.Parse(reply, Payloads())
        assert from_payload(decoded.payloads[0]) == {"nhs_number": MARKER}

        # encode, mounted under a prefix (the protocol looks only at the last path segment)
        plain = json_format.MessageToJson(Payloads(payloads=[to_payload(MARKER)])).encode()
        status, _, reply = _post(endpoint.url + "/codec/default/encode", plain)
        assert status == 200
        assert MARKER.encode() not in reply
        reencoded = json_format.Parse(reply, Payloads())
        assert from_payload(codec.decode_sync(reencoded.payloads)[0]) == MARKER

        # CORS preflight from the Web UI
        preflight = urllib.request.Request(endpoint.url + "/decode", method="OPTIONS")
        preflight.add_header("Origin", origin)
        preflight.add_header("Access-Control-Request-Method", "POST")
        preflight.add_header("Access-Control-Request-Headers", "content-type,x-namespace")
        with urllib.request.urlopen(preflight, timeout=5) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == origin
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert "x-namespace" in resp.headers["Access-Control-Allow-Headers"].lower()

        # another origin gets no CORS grant
        _, headers, _ = _post(endpoint.url + "/decode", body, {"Origin": "http://evil.example"})
        assert "Access-Control-Allow-Origin" not in headers

        # unknown key id: 422 naming the id only
        other = EncryptionCodec("k-elsewhere", {"k-elsewhere": keys.generate_key()})
        foreign = json_format.MessageToJson(Payloads(payloads=other.encode_sync([to_payload(MARKER)])))
        status, _, reply = _post(endpoint.url + "/decode", foreign.encode())
        assert status == 422
        assert b"k-elsewhere" in reply and MARKER.encode() not in reply

        assert _post(endpoint.url + "/decode", b"{not json")[0] == 400
        assert _post(endpoint.url + "/other", body)[0] == 404
    finally:
        endpoint.stop()


def test_codec_endpoint_bearer_token(settings: Settings) -> None:
    endpoint = serve_codec_endpoint(settings, "127.0.0.1", 0, None, auth_token="s3cret-token")
    try:
        body = json_format.MessageToJson(Payloads(payloads=[to_payload("x")])).encode()
        assert _post(endpoint.url + "/encode", body)[0] == 401
        assert _post(endpoint.url + "/encode", body, {"Authorization": "Bearer s3cret-token"})[0] == 200
    finally:
        endpoint.stop()


def test_codec_endpoint_refuses_without_the_token_and_accepts_bearer_cookie_or_session(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `up` serves it: the token comes from the home (generated 0600 on first start)."""
    from rightsflow import codec as codec_module
    from rightsflow.keys import codec_token_file

    monkeypatch.delenv("RIGHTSFLOW_CODEC_TOKEN", raising=False)
    codec = EncryptionCodec.from_settings(settings)
    origin = "http://127.0.0.1:8233"
    endpoint = serve_codec_endpoint(settings, "127.0.0.1", 0, origin)
    try:
        token_file = codec_token_file(settings)
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        encrypted = codec.encode_sync([to_payload({"nhs_number": MARKER})])
        body = json_format.MessageToJson(Payloads(payloads=encrypted)).encode()

        status, headers, reply = _post(endpoint.url + "/decode", body, {"Origin": origin})
        assert status == 401 and MARKER.encode() not in reply
        assert headers["Access-Control-Allow-Origin"] == origin  # the Web UI can show the refusal
        assert _post(endpoint.url + "/decode", body, {"Authorization": "Bearer not-the-token"})[0] == 401
        assert _post(endpoint.url + "/encode", body, {"Cookie": "rightsflow_codec=wrong"})[0] == 401

        status, _, reply = _post(endpoint.url + "/decode", body, {"Authorization": f"Bearer {token}"})
        assert status == 200
        assert from_payload(json_format.Parse(reply, Payloads()).payloads[0]) == {"nhs_number": MARKER}

        # A browser signs in once; the cookie then goes with the Web UI's requests.
        try:
            urllib.request.urlopen(endpoint.url + "/login?token=wrong", timeout=5)
            raise AssertionError("a wrong token signed in")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        with urllib.request.urlopen(endpoint.url + f"/login?token={token}", timeout=5) as resp:
            cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        status, _, _ = _post(endpoint.url + "/decode", body, {"Cookie": cookie.split(";", 1)[0]})
        assert status == 200

        # The console's session, through the hook it registers.
        monkeypatch.setattr(
            codec_module,
            "SESSION_CHECKS",
            [lambda headers: "console_session=valid" in (headers.get("Cookie") or "")],
        )
        assert _post(endpoint.url + "/decode", body, {"Cookie": "console_session=valid"})[0] == 200
        assert _post(endpoint.url + "/decode", body, {"Cookie": "console_session=forged"})[0] == 401
    finally:
        endpoint.stop()


def test_codec_token_from_the_environment_and_none_generated_when_keys_are_required(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rightsflow.keys import KeyMaterialError, codec_token_file, ensure_codec_token

    monkeypatch.setenv("RIGHTSFLOW_CODEC_TOKEN", "a-token-from-the-environment")
    assert ensure_codec_token(settings) == "a-token-from-the-environment"
    assert not codec_token_file(settings).exists()
    monkeypatch.delenv("RIGHTSFLOW_CODEC_TOKEN")
    monkeypatch.setenv("RIGHTSFLOW_REQUIRE_KEYS", "1")
    with pytest.raises(KeyMaterialError, match="RIGHTSFLOW_CODEC_TOKEN"):
        ensure_codec_token(settings)
