"""Shared fixtures: real Temporal servers from the pip-packaged binaries, real databases."""

from __future__ import annotations

import dataclasses
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, text

from rightsflow.catalog import load_catalog
from rightsflow.config import Settings, load_settings
from rightsflow.db import dispose_all
from rightsflow.register import Register
from tests.support import (
    CSC,
    FT,
    S3_ENV,
    S3_KEYS_ENV,
    TASK_QUEUE_ENV,
    WFH,
    Authorities,
    camden_receiver,
    export_env,
    free_port,
    on_moto,
    seed_demo,
    store_urls,
)

# Most of the demo data is Lewisham's: a request filed without --controller goes to Lewisham, as a
# deployment with several councils sets it. In os.environ, so worker and CLI subprocesses inherit
# it; a test of filing without it deletes it (monkeypatch).
os.environ["RIGHTSFLOW_DEFAULT_CONTROLLER"] = "lewisham"

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("RIGHTSFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN = os.environ.get("RIGHTSFLOW_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")


def _scratch_database(admin_url: str, kind: str) -> Iterator[str]:
    """A database of its own for this test run, dropped afterwards: `test` stays clean."""
    name = f"rightsflow_{kind}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        dispose_all()
        with admin.connect() as conn:
            if kind == "pg":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from _scratch_database(PG_ADMIN, "pg")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    yield from _scratch_database(MARIADB_ADMIN, "maria")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One URL per backend the stores and register must work on; each test starts empty."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    url = request.getfixturevalue(f"{request.param}_url")
    _drop_everything(url)
    yield url
    _drop_everything(url)


def _drop_everything(url: str) -> None:
    dispose_all()  # pooled connections of the code under test must not hold locks
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on a fresh RIGHTSFLOW_HOME with generated keys (the embedded default)."""
    from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file

    monkeypatch.setenv("RIGHTSFLOW_HOME", str(tmp_path / "home"))
    for var in (
        "RIGHTSFLOW_CODEC_KEY",
        "RIGHTSFLOW_CODEC_KEY_ID",
        "RIGHTSFLOW_HASH_KEY",
        "RIGHTSFLOW_CATALOG",
    ):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    ensure_codec_key_file(s)
    ensure_hash_key_file(s)
    return s


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[object]:
    """One time-skipping server per test module: a module whose workflows leave far timers behind
    (skipped to when anyone waits) must not move the clock another module's requests start from."""
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server")
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[object]:
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        ui=False,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3 server (moto) for the module's tests."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sar_settings(settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Every demo store seeded, S3 on moto, an empty register and a task queue of its own."""
    s = on_moto(settings, s3_endpoint, bucket=_unique("archive"), task_queue=_unique("sar"))
    export_env(monkeypatch, s, S3_ENV)
    seed_demo(store_urls(s))
    Register(s).create_schema()
    return s


@pytest.fixture
def es(settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Lewisham's Family Thrive and social-care stores seeded, S3 on moto, an empty register.

    No default council: these tests record requests straight in the register, without a council,
    as requests were recorded before councils were named (their outcome letters are the unsigned
    HTML ones); a test that wants council letters names the council on the request."""
    s = on_moto(settings, s3_endpoint, bucket=_unique("archive"), task_queue=_unique("erasure"))
    s = dataclasses.replace(s, default_controller=None)
    export_env(monkeypatch, s, S3_ENV)
    seed_demo(store_urls(s, (FT, CSC)))
    Register(s).create_schema()
    return s


@pytest.fixture
def rs(settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """S3 on moto, an empty register and a task queue (also in the environment); stores unseeded."""
    s = on_moto(settings, s3_endpoint, bucket=_unique("archive"), task_queue=_unique("retention"))
    export_env(monkeypatch, s, [*S3_ENV, *TASK_QUEUE_ENV])
    Register(s).create_schema()
    return s


@pytest.fixture
def two(settings: Settings, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Authorities:
    """Westminster (seeded family hub) and Camden (its own home, catalogue, register, bucket, queue)."""
    suffix = uuid.uuid4().hex[:8]
    sender = on_moto(
        settings, s3_endpoint, bucket=f"westminster-{suffix}", task_queue=f"westminster-{suffix}"
    )
    export_env(monkeypatch, sender, S3_KEYS_ENV)
    sender_url = load_catalog(sender.catalog_dir)[WFH].store.resolved_url(sender.home)
    seed_demo({WFH: sender_url}, families=12)
    Register(sender).create_schema()

    receiver, receiver_url = camden_receiver(sender, tmp_path / "camden", suffix)
    return Authorities(sender, receiver, sender_url, receiver_url, receiver.task_queue)
