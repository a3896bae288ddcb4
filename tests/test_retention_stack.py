"""Retention sweep end to end on the embedded stack: the Temporal dev server, SeaweedFS with an
Object-Lock bucket, the worker process and all five demo stores, driven through `rightsflow sweep`."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from rightsflow.catalog import load_catalog
from rightsflow.cli import app
from rightsflow.config import Settings, load_settings
from rightsflow.db import dispose_all, engine_for_url
from rightsflow.keys import load_hash_key
from rightsflow.register import Register
from rightsflow.retention import RetentionDisposal, build_plan, household_ref, next_households
from rightsflow.s3 import object_lock_of, s3_client
from rightsflow.seed import PERSON_TABLES, SERVICES, seed_stores
from rightsflow.stack import Stack, free_port, start_stack
from tests.support import AS_OF, CSC

# Camden (the demo receiving authority) keeps records six years from the last contact, and its
# seeded contacts all fall within the last six years: nothing there is due, so its sweep keeps
# nothing "for a hold" (a hold is only counted where it keeps a family that is due) and writes no
# certificate. The five other stores' seeds have due families, some of them under a hold.
NOTHING_DUE = "camden_family_support"
DUE_SERVICES = tuple(sv for sv in SERVICES if sv != NOTHING_DUE)

pytestmark = [pytest.mark.devserver, pytest.mark.seaweedfs]

FAMILIES = 100  # per service: every kind of old social care case, holds and links in every store
DISPOSALS = ("disposed", "anonymised", "archived")
COUNTS = (
    *DISPOSALS,
    "retained_hold",
    "retained_linked",
    "retained_open_request",
    "retained_restricted",
    "retained_not_due",
    "retained_no_rule",
    "awaiting_review",
    "households",
    "by_rule",
)


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The embedded stack under a fresh home on free ports, its stores seeded as of AS_OF, and the
    environment the CLI reads pointing at it."""
    home = tmp_path / "home"
    for var in (
        "RIGHTSFLOW_CODEC_KEY",
        "RIGHTSFLOW_CODEC_KEY_ID",
        "RIGHTSFLOW_HASH_KEY",
        "RIGHTSFLOW_CATALOG",
    ):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("RIGHTSFLOW_STORE_")]:
        monkeypatch.delenv(var)
    settings = dataclasses.replace(
        load_settings(),
        home=home,
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_namespace="default",
        temporal_tls_cert=None,
        temporal_tls_key=None,
        temporal_tls_ca=None,
        task_queue="rightsflow",
        s3_endpoint=f"http://127.0.0.1:{free_port()}",
        s3_access_key=None,
        s3_secret_key=None,
        codec_key_id=None,
        codec_key=None,
        codec_key_file=home / "keys" / "codec.key",
        hash_key=None,
        hash_key_file=home / "keys" / "hash.key",
        register_url=f"sqlite:///{home / 'register.db'}",
    )
    running = start_stack(
        settings, foreground=False, with_worker=True, seed=False, codec_port=free_port(), ui_port=free_port()
    )
    try:
        s = running.settings
        for var, value in {
            "RIGHTSFLOW_HOME": str(home),
            "TEMPORAL_ADDRESS": s.temporal_address,
            "RIGHTSFLOW_TASK_QUEUE": s.task_queue,
            "RIGHTSFLOW_REGISTER_URL": s.register_url,
            "RIGHTSFLOW_S3_ENDPOINT": s.s3_endpoint or "",
            "RIGHTSFLOW_S3_BUCKET": s.s3_bucket,
            "RIGHTSFLOW_S3_ACCESS_KEY": s.s3_access_key or "",
            "RIGHTSFLOW_S3_SECRET_KEY": s.s3_secret_key or "",
            "RIGHTSFLOW_CODEC_KEY_FILE": str(s.codec_key_file),
            "RIGHTSFLOW_HASH_KEY_FILE": str(s.hash_key_file),
        }.items():
            monkeypatch.setenv(var, value)
        seed_stores(_urls(s), families=FAMILIES, seed=7, as_of=AS_OF, progress=False)
        yield running
    finally:
        running.stop()
        dispose_all()


def _urls(s: Settings) -> dict[str, str]:
    return {svc.service: svc.store.resolved_url(s.home) for svc in load_catalog(s.catalog_dir)}


def _sweep(*flags: str, as_of: date = AS_OF) -> dict[str, Any]:
    out = CliRunner().invoke(app, ["sweep", "--as-of", as_of.isoformat(), *flags, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def _by_service(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["service"]: row for row in doc["services"]}


@dataclasses.dataclass
class Store:
    people: dict[str, set[str]]  # service -> person keys (as text)
    nhs: dict[str, dict[str, str]]  # service -> person key -> NHS number (digits)
    names: set[str]  # full names, every store
    households: dict[str, dict[str, list[str]]]  # service -> household ref -> person keys


def _store(s: Settings) -> Store:
    """What the stores hold, and each household's keyed-hash reference as the sweep computes it."""
    catalog = load_catalog(s.catalog_dir)
    hash_key = load_hash_key(s)
    people: dict[str, set[str]] = {}
    nhs: dict[str, dict[str, str]] = {}
    names: set[str] = set()
    households: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for service, url in _urls(s).items():
        table, key, nhs_col, _, given, family = PERSON_TABLES[service]
        engine = engine_for_url(url)
        with engine.connect() as c:
            rows = c.execute(text(f"SELECT {key}, {nhs_col}, {given}, {family} FROM {table}")).all()
            plan = build_plan(catalog[service])
            cursor, done = None, False
            while not done:
                found, cursor, done = next_households(c, plan, cursor, 500)
                for hh in found:
                    households[service][household_ref(hash_key, service, hh)] = [str(p) for p in hh.people]
        people[service] = {str(r[0]) for r in rows}
        nhs[service] = {str(r[0]): str(r[1]).replace(" ", "") for r in rows if r[1]}
        names |= {f"{r[2]} {r[3]}" for r in rows}
    return Store(people, nhs, names, dict(households))


def test_dry_run_and_sweep_agree_dispose_certify_and_dispose_nothing_twice(stack: Stack) -> None:
    s = stack.settings
    before = _store(s)

    # In small batches (a store with busy caseworkers): the same decisions as the sweep's default.
    dry = _sweep("--dry-run", "--batch-size", "100")
    assert dry["dry_run"] is True and set(_by_service(dry)) == set(SERVICES)
    assert _store(s).people == before.people  # the dry run changed nothing

    # A records manager rehearses a day ahead of today: more is due then, and nothing changes.
    ahead = date.today() + timedelta(days=3 * 365)
    later = _sweep("--dry-run", as_of=ahead)
    assert later["dry_run"] is True and _store(s).people == before.people

    def due(doc: dict[str, Any]) -> int:
        return sum(row["disposed"] + row["anonymised"] for row in doc["services"])

    assert due(later) > due(dry)
    refused = CliRunner().invoke(app, ["sweep", "--as-of", ahead.isoformat(), "--wait", "--json"])
    assert refused.exit_code == 2 and "--dry-run" in refused.output

    real = _sweep("--wait")
    assert real["dry_run"] is False
    d, r = _by_service(dry), _by_service(real)
    for service in SERVICES:
        assert {k: d[service][k] for k in COUNTS} == {k: r[service][k] for k in COUNTS}, service
        assert r[service]["households"] == len(before.households[service])
        if service in DUE_SERVICES:
            assert r[service]["retained_hold"] > 0, service  # these stores' seeds have holds
        holds = sum(t.get("retained_hold", 0) for t in r[service]["by_rule"].values())
        assert holds == r[service]["retained_hold"], service  # each with the rule that was waiting
    for service in (CSC, "lewisham_early_help", "manchester_thriving_families"):
        assert r[service]["retained_linked"] > 0, service  # the seed links records there
    csc = r[CSC]
    assert csc["disposed"] > 0 and csc["archived"] > 0 and csc["awaiting_review"] > 0
    assert csc["by_rule"]["contact_not_progressed"]["disposed"] == csc["disposed"]
    assert csc["by_rule"]["child_protection_case_file"]["retained_linked"] > 0
    assert sum(r[sv]["disposed"] + r[sv]["anonymised"] for sv in SERVICES) > 100

    # The register names each disposed household once, by keyed hash; its people are gone from the
    # store (destroyed or archived), or no longer identifiable in it (anonymised).
    t = RetentionDisposal.__table__  # type: ignore[attr-defined]
    with Register(s).engine.connect() as c:
        register = c.execute(
            select(t.c.service, t.c.household_ref, t.c.action, t.c.archive_key, t.c.archive_until)
        ).all()
    after = _store(s)
    by_service: dict[str, list[Any]] = defaultdict(list)
    for row in register:
        by_service[row.service].append(row)
    for service in SERVICES:
        rows = by_service[service]
        assert len(rows) == sum(r[service][k] for k in DISPOSALS), service
        for row in rows:
            keys = before.households[service][row.household_ref]
            if row.action in ("destroy", "archive_then_destroy"):
                assert not set(keys) & after.people[service], service
            else:
                assert not {before.nhs[service].get(k) for k in keys} & set(after.nhs[service].values())
        kept = set(before.households[service]) - {row.household_ref for row in rows}
        assert all(set(before.households[service][ref]) <= after.people[service] for ref in kept)

    # Certificates: in SeaweedFS under a COMPLIANCE lock running into the future, without personal data.
    client = s3_client(s)
    everyone_nhs = {n for per in before.nhs.values() for n in per.values()}
    assert r[NOTHING_DUE]["certificate"] is None  # nothing disposed: no empty certificate
    assert all(r[NOTHING_DUE][k] == 0 for k in DISPOSALS)
    for service in DUE_SERVICES:
        key = r[service]["certificate"]
        pattern = rf"retention/certificates/{service}/sweep-{AS_OF}-[0-9a-f]{{12}}\.html"
        assert key and re.fullmatch(pattern, key)
        for suffix in (".html", ".manifest.json", ".pdf"):
            lock = object_lock_of(client, s.s3_bucket, key.replace(".html", suffix))
            assert lock["mode"] == "COMPLIANCE" and lock["retain_until"] > datetime.now(UTC)
            assert lock["retain_until"].year >= 2050
        body = "".join(
            client.get_object(Bucket=s.s3_bucket, Key=key.replace(".html", suffix))["Body"].read().decode()
            for suffix in (".html", ".manifest.json")
        )
        assert service in body
        digits = set(re.findall(r"\d{10}", re.sub(r"[0-9a-f]{64}", "", body)))
        assert not digits & everyone_nhs, service
        assert not [n for n in before.names if n in body], service
    # The looked-after child's record went to the locked archive until the 75th birthday.
    archives = [row for row in by_service[CSC] if row.action == "archive_then_destroy"]
    assert len(archives) == r[CSC]["archived"]
    for row in archives:
        lock = object_lock_of(client, s.s3_bucket, row.archive_key)
        assert lock["mode"] == "COMPLIANCE" and lock["retain_until"] > datetime.now(UTC)
        assert lock["retain_until"].date() == row.archive_until + timedelta(days=1)

    again = _by_service(_sweep("--wait"))
    for service in SERVICES:
        assert all(again[service][k] == 0 for k in DISPOSALS), service
        assert again[service]["retained_hold"] == r[service]["retained_hold"], service
    with Register(s).engine.connect() as c:
        assert len(c.execute(select(t.c.household_ref)).all()) == len(register)  # nothing new
