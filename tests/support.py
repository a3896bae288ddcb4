"""Plain helpers shared by the end-to-end tests (the fixtures built on them are in conftest.py)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import socket
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter

from rightsflow.catalog import load_catalog
from rightsflow.codec import data_converter
from rightsflow.config import Settings
from rightsflow.seed import seed_stores
from rightsflow.worker import build_worker

AS_OF = date(2026, 11, 1)  # the day the demo stores are seeded for
FT = "lewisham_family_thrive"
CSC = "lewisham_childrens_social_care"
WFH = "westminster_family_hub"
CAMDEN = "camden_family_hub"

# environment variable -> the Settings field it feeds
S3_ENV = {
    "RIGHTSFLOW_S3_ENDPOINT": "s3_endpoint",
    "RIGHTSFLOW_S3_BUCKET": "s3_bucket",
    "RIGHTSFLOW_S3_ACCESS_KEY": "s3_access_key",
    "RIGHTSFLOW_S3_SECRET_KEY": "s3_secret_key",
}
S3_KEYS_ENV = ("RIGHTSFLOW_S3_ACCESS_KEY", "RIGHTSFLOW_S3_SECRET_KEY")
TASK_QUEUE_ENV = {"RIGHTSFLOW_TASK_QUEUE": "task_queue"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Variables of the test process that must not reach a worker process: it reads its keys, register
# and catalogue from the home it is given, and talks to the test's server without TLS.
NOT_FOR_WORKER_PROCESSES = (
    "TEMPORAL_TLS_CERT",
    "TEMPORAL_TLS_KEY",
    "TEMPORAL_TLS_CA",
    "RIGHTSFLOW_REGISTER_URL",
    "RIGHTSFLOW_CATALOG",
    "RIGHTSFLOW_CODEC_KEY",
    "RIGHTSFLOW_HASH_KEY",
    "RIGHTSFLOW_CODEC_KEY_ID",
)


def worker_process_env(
    home: Path, temporal_address: str, s: Settings, s3_endpoint: str, **extra: str
) -> dict[str, str]:
    """The environment of a ``rightsflow`` worker or command in its own process, on the test's
    Temporal server and moto S3, with its state under ``home``."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_WORKER_PROCESSES}
    env.update(
        {
            "RIGHTSFLOW_HOME": str(home),
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_NAMESPACE": "default",
            "RIGHTSFLOW_TASK_QUEUE": s.task_queue,
            "RIGHTSFLOW_S3_ENDPOINT": s3_endpoint,
            "RIGHTSFLOW_S3_BUCKET": s.s3_bucket,
            "RIGHTSFLOW_S3_ACCESS_KEY": "testing",
            "RIGHTSFLOW_S3_SECRET_KEY": "testing",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def on_moto(settings: Settings, s3_endpoint: str, *, bucket: str, task_queue: str) -> Settings:
    """The settings with S3 pointing at the moto server (its test credentials) and their own queue."""
    return dataclasses.replace(
        settings,
        s3_endpoint=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key="testing",
        s3_secret_key="testing",
        task_queue=task_queue,
    )


def export_env(monkeypatch: pytest.MonkeyPatch, s: Settings, variables: Iterable[str]) -> None:
    """Set the named RIGHTSFLOW_* variables from the settings (for code that loads its own)."""
    fields = {**S3_ENV, **TASK_QUEUE_ENV}
    for var in variables:
        monkeypatch.setenv(var, getattr(s, fields[var]))


def store_urls(s: Settings, services: Iterable[str] | None = None) -> dict[str, str]:
    """Each catalogued service's store URL (only the given services, if any are given)."""
    wanted = None if services is None else set(services)
    return {
        svc.service: svc.store.resolved_url(s.home)
        for svc in load_catalog(s.catalog_dir)
        if wanted is None or svc.service in wanted
    }


def seed_demo(urls: dict[str, str], families: int = 40) -> None:
    """The demo stores, always the same people (seed 11, as of AS_OF)."""
    seed_stores(urls, families=families, seed=11, as_of=AS_OF, progress=False)


def spaced(nhs: str) -> str:
    """An NHS number written the way people and some stores write it: 943 476 5919."""
    return f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"


def file_request(s: Settings, request_type: str, nhs: str, received: date = AS_OF) -> tuple[Any, str, Any]:
    """The subject (by NHS number) in a fresh register handle and a request of the type for them:
    (register, subject ref, request)."""
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.register import Register

    register = Register(s)
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=nhs))
    return register, ref, register.create_request(request_type, ref, received_on=received)


def codec_client(client: Client, s: Settings) -> Client:
    """The client with the settings' encrypting codec."""
    return Client(**{**client.config(), "data_converter": data_converter(s)})


@asynccontextmanager
async def running_worker(client: Client, s: Settings) -> AsyncIterator[None]:
    """The real worker (every workflow and activity) on the settings' task queue."""
    with ThreadPoolExecutor(16) as pool:
        async with build_worker(client, s, pool):
            yield


async def wait_stage(handle: Any, query: Any, *stages: str, timeout: float = 60) -> Any:
    """Poll the status query until the workflow reaches one of the stages."""
    st = None
    for _ in range(int(timeout * 10)):
        st = await handle.query(query)
        if st.stage in stages:
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(f"stages {stages} not reached; last {st}")


def s3_objects(s: Settings) -> dict[str, bytes]:
    """Every object in the settings' bucket, by key."""
    from rightsflow.s3 import s3_client

    client = s3_client(s)
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s.s3_bucket):
        for o in page.get("Contents", []):
            out[o["Key"]] = client.get_object(Bucket=s.s3_bucket, Key=o["Key"])["Body"].read()
    return out


async def raw_history(client: Client, *workflow_ids: str) -> bytes:
    """The workflows' histories as the server holds them, read without the codec: the JSON form
    and the serialised events, to scan for plain text."""
    plain = Client(**{**client.config(), "data_converter": DataConverter.default})
    out = b""
    for wid in workflow_ids:
        history = await plain.get_workflow_handle(wid).fetch_history()
        out += history.to_json().encode() + b"".join(e.SerializeToString() for e in history.events)
    return out


def assert_absent(
    blob: bytes, values: Iterable[str], *, base64_too: bool = False, what: str = "personal data in plain text"
) -> None:
    """None of the values appears in the bytes (nor base64-encoded, if asked)."""
    for value in values:
        assert value.encode() not in blob, what
        if base64_too:
            assert base64.b64encode(value.encode()) not in blob, what


@dataclasses.dataclass
class Authorities:
    sender: Settings
    receiver: Settings
    sender_url: str
    receiver_url: str
    intake_queue: str


def camden_catalog(folder: Path, source: Path) -> None:
    """Camden runs the same family-hub system as Westminster: the same schema, its own catalogue."""
    text = source.read_text(encoding="utf-8")
    text = (
        text.replace("westminster_family_hub", CAMDEN)
        .replace("WESTMINSTER_FAMILY_HUB", "CAMDEN_FAMILY_HUB")
        .replace("authority: Westminster City Council", "authority: London Borough of Camden")
        .replace("authority_code: westminster", "authority_code: camden")
        .replace("name: Bessborough Family Hub", "name: Camden Family Hub")
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{CAMDEN}.yaml").write_text(text, encoding="utf-8")


def camden_receiver(sender: Settings, home: Path, suffix: str) -> tuple[Settings, str]:
    """Camden beside Westminster: its own home, catalogue, register, bucket, intake queue and an
    empty family-hub store (returned with its URL)."""
    from rightsflow.db import engine_for_url
    from rightsflow.register import Register
    from rightsflow.stores import SCHEMAS

    camden_catalog(home / "catalog", sender.catalog_dir / f"{WFH}.yaml")
    receiver = dataclasses.replace(
        sender,
        home=home,
        catalog_dir=home / "catalog",
        register_url=f"sqlite:///{home / 'register.db'}",
        s3_bucket=f"camden-{suffix}",
        task_queue=f"rightsflow-intake-camden-{suffix}",
    )
    receiver_url = load_catalog(receiver.catalog_dir)[CAMDEN].store.resolved_url(home)
    SCHEMAS[WFH].create_all(engine_for_url(receiver_url))
    Register(receiver).create_schema()
    return receiver, receiver_url
