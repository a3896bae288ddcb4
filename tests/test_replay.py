"""Replay recorded workflow histories against today's workflow code.

Each tests/histories/<name>.json is one complete run of a workflow type, recorded by
``python tests/histories/record.py`` (see its docstring) on the Temporal dev server with seeded
synthetic demo stores. Replaying it with the current code fails on any non-determinism: a change
to a workflow that would break runs already in flight (months-long requests, sweeps mid-way).
When a change is meant to be incompatible, version it (``workflow.patched``) or record again.

The histories are encrypted with the fixed, test-only codec key below; they hold synthetic data
only, and the last test checks that no NHS number or name appears in them in plain text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from rightsflow.codec import ENCRYPTED_ENCODING, KEY_ID_KEY, EncryptionCodec, data_converter_for
from rightsflow.nhs import is_valid_nhs_number
from rightsflow.worker import WORKFLOWS

HISTORIES = Path(__file__).resolve().parent / "histories"

# Test-only key for the committed synthetic histories. Never used outside tests.
REPLAY_KEY_ID = "replay-test"
REPLAY_KEY = bytes(range(32))

# What record.py seeds (small: the histories stay small): every store, these families and seed.
SEED_FAMILIES = 12
SEED = 11
SEED_AS_OF = date(2026, 11, 1)

# history file name -> workflow type; record.py writes exactly these.
RECORDED = {
    "subject_search": "SubjectSearch",
    "subject_access": "SubjectAccessRequest",
    "retention_sweep": "RetentionSweep",
    "service_sweep": "ServiceSweep",
    "erasure": "Erasure",
    "restriction": "Restriction",
    "rectification": "Rectification",
    "objection": "Objection",
    "consent_withdrawal": "ConsentWithdrawal",
    "portability_transfer": "PortabilityTransfer",
    "transfer_intake": "TransferIntake",
    "portability_person": "PortabilityToPerson",
    "transfer_inbox_scan": "TransferInboxScan",
}


def replay_codec() -> EncryptionCodec:
    return EncryptionCodec(REPLAY_KEY_ID, {REPLAY_KEY_ID: REPLAY_KEY})


def _load(name: str) -> tuple[dict[str, Any], str]:
    text = (HISTORIES / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text), text


def _workflow_type(doc: dict[str, Any]) -> str:
    first = doc["events"][0]
    return first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_history_replays_without_non_determinism(name: str) -> None:
    doc, text = _load(name)
    assert _workflow_type(doc) == RECORDED[name]
    last = doc["events"][-1]
    assert "workflowExecutionCompletedEventAttributes" in last, f"{name}: the recorded run did not complete"
    workflow_id = doc.pop("workflowId")
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter_for(replay_codec()))
    result = await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id, doc))
    assert result.replay_failure is None


# Payloads the SDK and server write unencrypted by design: search attributes (the server indexes
# them) and the SDK's patch markers (a patch id). They are still scanned for personal data.
CLEAR_BY_DESIGN = ("searchAttributes", "patch-data")


def _payloads(node: Any, clear: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every Payload in a history's JSON (a dict with ``metadata`` and ``data``), and whether it is
    one that is unencrypted by design."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "data" in node:
            yield node, clear
        for key, value in node.items():
            yield from _payloads(value, clear or key in CLEAR_BY_DESIGN)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value, clear)


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _demo_people(tmp: Path) -> tuple[set[str], set[str]]:
    """Every NHS number and full name record.py's seeding puts in the stores (re-seeded here)."""
    from sqlalchemy import text

    from rightsflow.catalog import load_catalog
    from rightsflow.config import REPO_ROOT
    from rightsflow.db import engine_for_url
    from rightsflow.seed import PERSON_TABLES, seed_stores

    cat = load_catalog(REPO_ROOT / "catalog")
    urls = {svc.service: f"sqlite:///{tmp / svc.service}.db" for svc in cat if svc.service in PERSON_TABLES}
    seed_stores(urls, families=SEED_FAMILIES, seed=SEED, as_of=SEED_AS_OF, progress=False)
    nhs, names = set(), set()
    for service, url in urls.items():
        table, _, nhs_col, _, given, family = PERSON_TABLES[service]
        engine = engine_for_url(url)
        with engine.connect() as c:
            for n, g, f in c.execute(text(f"SELECT {nhs_col}, {given}, {family} FROM {table}")):
                if n:
                    nhs.add(str(n).replace(" ", ""))
                if g and f:
                    names.add(f"{g} {f}")
        engine.dispose()
    return nhs, names


def test_recorded_histories_hold_no_personal_data_in_plain_text(tmp_path: Path) -> None:
    nhs, names = _demo_people(tmp_path)
    assert len(nhs) > 20 and len(names) > 20
    for name in sorted(RECORDED):
        doc, text = _load(name)
        payloads = list(_payloads(doc))
        assert payloads, name
        decoded = []
        for p, clear in payloads:
            decoded.append(_b64(p.get("data", "")))
            if clear:
                continue
            # every other payload is encrypted, with the test key
            assert _b64(p["metadata"].get("encoding", "")) == ENCRYPTED_ENCODING, (name, p["metadata"])
            assert _b64(p["metadata"].get(KEY_ID_KEY, "")) == REPLAY_KEY_ID.encode(), name
        assert not all(clear for _, clear in payloads), name
        raw = text.encode() + b"\n".join(decoded)
        # no 10-digit run that is a valid NHS number, in the JSON or inside any payload
        for run in re.findall(rb"(?<!\d)\d{10}(?!\d)", raw):
            assert not is_valid_nhs_number(run.decode()), f"{name}: an NHS number in plain text"
        for number in nhs:
            spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
            assert number.encode() not in raw and spaced.encode() not in raw, name
        for full in names:
            assert full.encode() not in raw, f"{name}: a name in plain text"


# -- the contracts the histories carry -------------------------------------------------------------

RIGHTS_WORKFLOW_MODULES = (
    "workflows.kit",
    "workflows.subject_access",
    "workflows.subject_search",
    "workflows.erasure",
    "workflows.restriction",
    "workflows.rectification",
    "workflows.objection",
)


def test_every_contract_is_keyword_only_so_a_new_field_cannot_shift_the_others() -> None:
    import dataclasses
    import importlib
    import pkgutil

    import rightsflow.contracts as contracts

    seen = 0
    for info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"rightsflow.contracts.{info.name}")
        for value in vars(module).values():
            if dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                seen += 1
                positional = [f.name for f in dataclasses.fields(value) if not f.kw_only]
                assert not positional, f"{value.__name__}: positional fields {positional}"
    assert seen >= 60


def test_rights_workflows_load_no_database_s3_or_cipher_library_into_the_sandbox() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in RIGHTS_WORKFLOW_MODULES)
        + "print(sorted(m for m in ('sqlalchemy', 'boto3', 'botocore', 'cryptography', 'jinja2')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=HISTORIES.parents[1]
    )
    assert out.stdout.strip() == "[]"
