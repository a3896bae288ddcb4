"""Shared fixtures: real Temporal servers from the pip-packaged binaries, real databases."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, text

from rightsflow.config import Settings, load_settings
from rightsflow.db import dispose_all

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


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[object]:
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
