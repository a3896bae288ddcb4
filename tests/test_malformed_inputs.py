"""Malformed input to every command that files or decides: a one-line error, nothing written.

A DPO or a script gets a date wrong (an ISO week, a basic date, 30 February, 1900, next month), an
NHS number that fails its checksum, a name pasted ten thousand times, a service or authority that
does not exist, a negative count, a request id that is not one. Each must end with exit code 2 (or
the code the command documents: 3 for an invalid catalogue), exactly one line on stderr beginning
``rightsflow: ``, no traceback, none of the personal identifiers given echoed back, and nothing
written: every table of the register and of the demo stores keeps its row count, and no workflow is
started on the Temporal dev server.

The commands run against a real dev server with a worker process, a moto S3 server and a home of
their own holding a real subject access request, erasure and restriction (so that commands on an
existing request are refused for their input, not because the request is missing). Each case runs
in a process of its own (tests.fault_support.CliDriver).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from rightsflow.config import REPO_ROOT, load_settings
from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file
from rightsflow.register import Register
from rightsflow.seed import PERSON_TABLES, shared_child_example
from tests.fault_support import CliDriver, CliResult, settle, sqlite_row_counts
from tests.support import on_moto, seed_demo, store_urls, worker_process_env
from tests.test_durability import WorkerProcess

pytestmark = pytest.mark.devserver

TODAY = date.today()
FUTURE = (TODAY + timedelta(days=40)).isoformat()
BAD_CHECKSUM = "9434765918"  # 943 476 5919 is valid; the last digit is its check digit
ZEROS = "0000000000"
LONG_NAME = "Amelia " + "Okafor" * 1666  # 10,003 characters
LONG_VALUE = "Okafor" * 1667
BAD_DATES = {
    "iso-week": "2026-W47-5",
    "basic": "20261121",
    "impossible": "2015-02-30",
    "before-2000": "1900-01-01",
    "future": FUTURE,
}
NON_UTF8 = "westminster_family_hub.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    secrets: tuple[str, ...] = ()  # personal identifiers given that must not be echoed back
    codes: tuple[int, ...] = (2,)
    names: str | None = None  # the error must name this (the broken catalogue file)
    catalog: str | None = None  # "non-utf8" or "bad-yaml": RIGHTSFLOW_CATALOG points at a broken copy
    env: dict[str, str] = field(default_factory=dict)


def _c(id: str, *argv: str, secrets: tuple[str, ...] = (), **kw: Any) -> Case:
    return Case(id, argv, secrets, **kw)


def _cases() -> list[Case]:
    ok_nhs = ("--nhs-number", "{CHILD}")
    today = TODAY.isoformat()
    cases: list[Case] = []
    # dates: only YYYY-MM-DD, real, from 2000, not in the future
    for kind, value in BAD_DATES.items():
        cases.append(_c(f"sar-received-{kind}", "sar", *ok_nhs, "--received", value))
        cases.append(_c(f"erase-received-{kind}", "erase", *ok_nhs, "--received", value))
        cases.append(_c(f"verify-identity-{kind}", "verify", "{SAR}", "--identity-received", value))
        # a dry run may rehearse a later day; a sweep that disposes may not
        cases.append(
            _c(
                f"sweep-as-of-{kind}",
                "sweep",
                "--as-of",
                value,
                "--wait" if kind == "future" else "--dry-run",
            )
        )
    for kind in ("iso-week", "basic", "impossible", "before-2000"):
        cases.append(_c(f"deadline-received-{kind}", "deadline", "--received", BAD_DATES[kind], "--json"))
    for kind in ("iso-week", "basic"):
        v = BAD_DATES[kind]
        cases += [
            _c(
                f"rectify-received-{kind}",
                "rectify",
                *ok_nhs,
                "--received",
                v,
                "--field",
                "user.name.last",
                "--value",
                "Smith",
            ),
            _c(f"object-received-{kind}", "object", *ok_nhs, "--received", v),
            _c(f"clarify-asked-{kind}", "clarify", "{SAR}", "--asked", v),
            _c(f"clarify-answered-{kind}", "clarify", "{SAR}", "--answered", v),
            _c(f"seed-as-of-{kind}", "seed", "--families", "3", "--as-of", v),
            _c(f"review-extend-to-{kind}", "review", "decide", "hh0000000000", "--extend-to", v),
            _c(f"verify-authority-{kind}", "verify", "{SAR}", "--authority-received", v),
            _c(f"deadline-identity-{kind}", "deadline", "--received", today, "--identity-received", v),
        ]
    for kind in ("impossible", "future"):
        v = BAD_DATES[kind]
        cases += [
            _c(f"restrict-received-{kind}", "restrict", *ok_nhs, "--received", v),
            _c(f"withdraw-consent-received-{kind}", "withdraw-consent", *ok_nhs, "--received", v),
            _c(
                f"portability-received-{kind}",
                "portability",
                *ok_nhs,
                "--from",
                "westminster_family_hub",
                "--received",
                v,
            ),
            _c(f"verify-fee-{kind}", "verify", "{SAR}", "--fee-received", v),
        ]
    cases += [
        _c("sar-received-slashes", "sar", *ok_nhs, "--received", "21/11/2026"),
        _c("sar-received-with-time", "sar", *ok_nhs, "--received", "2026-11-21T10:00"),
        _c("sar-received-empty", "sar", *ok_nhs, "--received", ""),
        _c("sar-received-1999", "sar", *ok_nhs, "--received", "1999-12-31"),
        _c(
            "sar-dob-iso-week",
            "sar",
            "--name",
            "Amelia Okafor",
            "--dob",
            "2015-W11-6",
            "--received",
            today,
            secrets=("Amelia Okafor",),
        ),
        _c(
            "sar-dob-impossible",
            "sar",
            "--name",
            "Amelia Okafor",
            "--dob",
            "2015-02-30",
            "--received",
            today,
            secrets=("Amelia Okafor",),
        ),
        _c(
            "sar-dob-future",
            "sar",
            "--name",
            "Amelia Okafor",
            "--dob",
            FUTURE,
            "--received",
            today,
            secrets=("Amelia Okafor",),
        ),
        _c(
            "search-dob-basic",
            "search",
            "--name",
            "Amelia Okafor",
            "--dob",
            "20150314",
            secrets=("Amelia Okafor",),
        ),
        _c(
            "search-dob-impossible",
            "search",
            "--name",
            "Amelia Okafor",
            "--dob",
            "2015-02-30",
            secrets=("Amelia Okafor",),
        ),
        _c("deadline-pause-iso-week", "deadline", "--received", today, "--pause", "2026-W47-5:2026-11-30"),
        _c(
            "deadline-pause-backwards",
            "deadline",
            "--received",
            "2026-11-02",
            "--pause",
            "2026-11-20:2026-11-10",
        ),
        _c("deadline-pause-no-colon", "deadline", "--received", today, "--pause", "2026-11-20"),
        _c(
            "rectify-dob-impossible",
            "rectify",
            *ok_nhs,
            "--received",
            today,
            "--field",
            "date_of_birth",
            "--value",
            "2015-02-30",
        ),
        _c(
            "rectify-dob-iso-week",
            "rectify",
            *ok_nhs,
            "--received",
            today,
            "--field",
            "date_of_birth",
            "--value",
            "2015-W11-6",
        ),
        _c(
            "rectify-dob-future",
            "rectify",
            *ok_nhs,
            "--received",
            today,
            "--field",
            "date_of_birth",
            "--value",
            FUTURE,
        ),
    ]
    # NHS numbers that fail the checksum, all zeros, the wrong length, letters
    for nhs in (BAD_CHECKSUM, ZEROS):
        for cmd in ("sar", "erase", "restrict", "object", "withdraw-consent"):
            cases.append(
                _c(f"{cmd}-nhs-{nhs}", cmd, "--nhs-number", nhs, "--received", today, secrets=(nhs,))
            )
        cases += [
            _c(
                f"rectify-nhs-{nhs}",
                "rectify",
                "--nhs-number",
                nhs,
                "--received",
                today,
                "--field",
                "user.name.last",
                "--value",
                "Smith",
                secrets=(nhs,),
            ),
            _c(
                f"transfer-nhs-{nhs}",
                "transfer",
                "--nhs-number",
                nhs,
                "--from",
                "westminster_family_hub",
                "--to",
                "camden",
                secrets=(nhs,),
            ),
            _c(
                f"portability-nhs-{nhs}",
                "portability",
                "--nhs-number",
                nhs,
                "--from",
                "westminster_family_hub",
                secrets=(nhs,),
            ),
            _c(f"search-nhs-{nhs}", "search", "--nhs-number", nhs, secrets=(nhs,)),
            _c(
                f"rectify-value-nhs-{nhs}",
                "rectify",
                *ok_nhs,
                "--received",
                today,
                "--field",
                "nhs_number",
                "--value",
                nhs,
                secrets=(nhs,),
            ),
        ]
    for label, nhs in (("short", "943476"), ("long", "94347659190"), ("letters", "943476591X")):
        cases.append(_c(f"sar-nhs-{label}", "sar", "--nhs-number", nhs, "--received", today, secrets=(nhs,)))
    cases += [
        _c(
            "rectify-value-nhs-9487103237",
            "rectify",
            *ok_nhs,
            "--received",
            today,
            "--field",
            "nhs_number",
            "--value",
            "9487103237",
            secrets=("9487103237",),
        ),
        _c("sar-upn-malformed", "sar", "--upn", "A12345", "--received", today, secrets=("A12345",)),
        _c("search-upn-malformed", "search", "--upn", "A12345", secrets=("A12345",)),
    ]
    # ten thousand characters of name or value
    long = (LONG_NAME[:60],)
    cases += [
        _c(
            "sar-name-10k",
            "sar",
            "--name",
            LONG_NAME,
            "--dob",
            "2015-03-14",
            "--received",
            today,
            secrets=long,
        ),
        _c(
            "erase-name-10k",
            "erase",
            "--name",
            LONG_NAME,
            "--dob",
            "2015-03-14",
            "--received",
            today,
            secrets=long,
        ),
        _c(
            "restrict-name-10k",
            "restrict",
            "--name",
            LONG_NAME,
            "--dob",
            "2015-03-14",
            "--received",
            today,
            secrets=long,
        ),
        _c("search-name-10k", "search", "--name", LONG_NAME, "--dob", "2015-03-14", secrets=long),
        _c(
            "transfer-name-10k",
            "transfer",
            "--name",
            LONG_NAME,
            "--dob",
            "2015-03-14",
            "--from",
            "westminster_family_hub",
            "--to",
            "camden",
            secrets=long,
        ),
        _c(
            "rectify-value-10k",
            "rectify",
            *ok_nhs,
            "--received",
            today,
            "--field",
            "user.name.last",
            "--value",
            LONG_VALUE,
            secrets=(LONG_VALUE[:60],),
        ),
        _c(
            "sar-name-without-dob",
            "sar",
            "--name",
            "Amelia Okafor",
            "--received",
            today,
            secrets=("Amelia Okafor",),
        ),
        _c("erase-no-identifier", "erase", "--received", today),
    ]
    # services, controllers, authorities and choices that do not exist
    nope = "no_such_service"
    for cmd in ("erase", "restrict", "object", "withdraw-consent"):
        cases.append(_c(f"{cmd}-unknown-service", cmd, *ok_nhs, "--received", today, "--service", nope))
    cases += [
        _c(
            "rectify-unknown-service",
            "rectify",
            *ok_nhs,
            "--received",
            today,
            "--field",
            "user.name.last",
            "--value",
            "Smith",
            "--service",
            nope,
        ),
        _c(
            "rectify-unknown-field",
            "rectify",
            *ok_nhs,
            "--received",
            today,
            "--field",
            "user.shoe_size",
            "--value",
            "9",
        ),
        _c(
            "withdraw-consent-statutory-service",
            "withdraw-consent",
            *ok_nhs,
            "--received",
            today,
            "--service",
            "lewisham_childrens_social_care",
        ),
        _c("portability-unknown-service", "portability", *ok_nhs, "--from", nope),
        _c(
            "portability-statutory-service",
            "portability",
            *ok_nhs,
            "--from",
            "lewisham_childrens_social_care",
        ),
        _c("transfer-unknown-from", "transfer", *ok_nhs, "--from", nope, "--to", "camden"),
        _c(
            "transfer-to-atlantis",
            "transfer",
            *ok_nhs,
            "--from",
            "westminster_family_hub",
            "--to",
            "atlantis",
        ),
        _c(
            "transfer-to-itself",
            "transfer",
            *ok_nhs,
            "--from",
            "westminster_family_hub",
            "--to",
            "westminster",
        ),
        _c(
            "transfer-unknown-reason",
            "transfer",
            *ok_nhs,
            "--from",
            "westminster_family_hub",
            "--to",
            "camden",
            "--reason",
            "holiday",
        ),
        _c(
            "transfer-unknown-family",
            "transfer",
            "--family",
            "no-such-family",
            "--from",
            "westminster_family_hub",
            "--to",
            "camden",
        ),
        _c("sweep-unknown-service", "sweep", "--as-of", today, "--service", nope, "--dry-run"),
        _c("decide-erase-unknown-service", "decide", "{ERASURE}", "--erase", nope),
        _c("decide-refuse-unknown-service", "decide", "{ERASURE}", "--refuse", f"{nope}=public_task"),
        _c(
            "decide-refuse-unknown-exemption",
            "decide",
            "{ERASURE}",
            "--refuse",
            "lewisham_family_thrive=because",
        ),
        _c("sar-unknown-requester", "sar", *ok_nhs, "--received", today, "--requester", "aunt"),
        _c("erase-unknown-ground", "erase", *ok_nhs, "--received", today, "--ground", "whim"),
        _c("restrict-unknown-reason", "restrict", *ok_nhs, "--received", today, "--reason", "because"),
        _c("withhold-unknown-basis", "withhold", "{SAR}", "--text", "Kwame", "--basis", "none"),
        _c("review-decide-unknown-ref", "review", "decide", "hh0000000000", "--approve"),
        _c(
            "review-decide-unknown-service",
            "review",
            "decide",
            "hh0000000000",
            "--approve",
            "--service",
            nope,
        ),
    ]
    # negative or zero counts
    cases += [
        _c("restrict-notice-days-negative", "restrict", *ok_nhs, "--received", today, "--notice-days", "-3"),
        _c("object-notice-days-negative", "object", *ok_nhs, "--received", today, "--notice-days", "-1"),
        _c("shorten-days-negative", "shorten", "{RESTRICTION}", "--days", "-3"),
        _c("seed-families-zero", "seed", "--families", "0"),
        _c("seed-families-negative", "seed", "--families", "-5"),
        _c("sweep-batch-size-zero", "sweep", "--as-of", today, "--dry-run", "--batch-size", "0"),
        _c("sweep-batch-size-huge", "sweep", "--as-of", today, "--wait", "--batch-size", "99999999"),
        _c("schedule-batch-size-negative", "schedule", "--batch-size", "-30000"),
        _c(
            "restrict-notice-days-not-a-number",
            "restrict",
            *ok_nhs,
            "--received",
            today,
            "--notice-days",
            "ten",
        ),
    ]
    # request ids that are not requests, or not requests of that kind
    unknown = "rq_00000000000000000000"
    for argv in (
        ("verify", unknown, "--identity-received", today),
        ("clarify", unknown, "--asked", today),
        ("extend", unknown, "--reason", "complex"),
        ("release", unknown, "--redaction", "r1"),
        ("withhold", unknown, "--text", "Kwame"),
        ("approve", unknown),
        ("reject", unknown, "--exemption", "manifestly unfounded"),
        ("decide", unknown, "--confirm-proposals"),
        ("lift", unknown, "--reason", "checked"),
        ("shorten", unknown, "--days", "2"),
        ("transfer-approve", "tr_00000000000000000000"),
        ("transfer-refuse", "tr_00000000000000000000", "--reason", "wrong family"),
        ("status", unknown),
    ):
        cases.append(_c(f"{argv[0]}-unknown-id", *argv))
    cases += [
        _c("approve-an-erasure-id", "approve", "{ERASURE}"),
        _c("lift-a-sar-id", "lift", "{SAR}", "--reason", "checked"),
        _c("decide-a-sar-id", "decide", "{SAR}", "--confirm-proposals"),
        _c("transfer-approve-a-sar-id", "transfer-approve", "{SAR}"),
        _c("verify-id-injection", "verify", "rq_x'; DROP TABLE requests;--", "--identity-received", today),
        _c("status-id-path", "status", "../../etc/passwd"),
        _c("release-unknown-redaction", "release", "{SAR}", "--redaction", "rnotthere"),
    ]
    # a catalogue file that is not UTF-8, or not YAML: the error names the file
    for cmd in (
        ("sar", *ok_nhs, "--received", today),
        ("catalog",),
        ("search", *ok_nhs),
        ("sweep", "--as-of", today, "--dry-run"),
    ):
        cases.append(
            Case(f"{cmd[0]}-catalogue-not-utf8", cmd, codes=(2, 3), names=NON_UTF8, catalog="non-utf8")
        )
    cases.append(
        Case("catalog-catalogue-bad-yaml", ("catalog",), codes=(2, 3), names=NON_UTF8, catalog="bad-yaml")
    )
    return cases


CASES = _cases()


@dataclass
class Rig:
    driver: CliDriver
    client: Any
    counted: list[Path]
    ids: dict[str, str]
    catalogs: dict[str, Path]


def _broken_catalogs(root: Path) -> dict[str, Path]:
    out = {}
    for kind in ("non-utf8", "bad-yaml"):
        dest = root / f"catalog-{kind}"
        shutil.copytree(REPO_ROOT / "catalog", dest)
        f = dest / NON_UTF8
        if kind == "non-utf8":
            f.write_bytes(f.read_bytes().replace(b"Bessborough", "Bessborough \u00e9".encode("latin-1"), 1))
        else:
            f.write_text(f.read_text("utf-8") + "\n  : [unclosed\n", "utf-8")
        out[kind] = dest
    return out


@pytest.fixture(scope="module")
async def rig(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, dev_server_env: Any
) -> AsyncIterator[Rig]:
    from temporalio.client import Client

    from rightsflow.codec import data_converter

    root = tmp_path_factory.mktemp("malformed")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RIGHTSFLOW_HOME", str(home))
        for var in (
            "RIGHTSFLOW_CODEC_KEY",
            "RIGHTSFLOW_CODEC_KEY_ID",
            "RIGHTSFLOW_HASH_KEY",
            "RIGHTSFLOW_CATALOG",
            "RIGHTSFLOW_REGISTER_URL",
        ):
            mp.delenv(var, raising=False)
        s = load_settings()
    ensure_codec_key_file(s)
    ensure_hash_key_file(s)
    queue = f"malformed-{uuid.uuid4().hex[:8]}"
    s = on_moto(s, s3_endpoint, bucket=f"archive-{uuid.uuid4().hex[:8]}", task_queue=queue)
    urls = store_urls(s)
    seed_demo({k: u for k, u in urls.items() if k in PERSON_TABLES}, families=20)
    Register(s).create_schema()
    child = shared_child_example({k: u for k, u in urls.items() if k in PERSON_TABLES})

    env = worker_process_env(
        home, dev_server_env.client.service_client.config.target_host, s, s3_endpoint, COLUMNS="200"
    )
    worker = WorkerProcess(env, root / "worker.log")
    driver = CliDriver(env)
    try:
        await worker.ready()
        # Real requests in their waiting states: a SAR awaiting identity, an erasure awaiting the
        # DPO's decision, a restriction in force.
        ids = {"CHILD": child.nhs_number}
        for key, argv in (
            ("SAR", ("sar", "--nhs-number", child.nhs_number, "--received", TODAY.isoformat())),
            ("ERASURE", ("erase", "--nhs-number", child.nhs_number, "--received", TODAY.isoformat())),
            ("RESTRICTION", ("restrict", "--nhs-number", child.nhs_number, "--received", TODAY.isoformat())),
        ):
            out = await asyncio.to_thread(driver.run, *argv)
            assert out.code == 0, f"setup {argv[0]} failed: {out.stderr[-1500:]}"
            ids[key] = next(w for w in out.stdout.split() if w.startswith("rq_"))
        counted = [home / "register.db", *sorted((home / "stores").glob("*.db"))]
        await asyncio.to_thread(settle, counted, 2.0, 60)
        client = await Client.connect(
            env["TEMPORAL_ADDRESS"], namespace="default", data_converter=data_converter(s)
        )
        yield Rig(driver, client, counted, ids, _broken_catalogs(root))
    finally:
        driver.close()
        worker.stop()


def _substitute(argv: tuple[str, ...], ids: dict[str, str]) -> list[str]:
    out = []
    for a in argv:
        for k, v in ids.items():
            a = a.replace("{" + k + "}", v)
        out.append(a)
    return out


async def _workflows(client: Any) -> int:
    return (await client.count_workflows()).count


def check_refusal(case: Case, out: CliResult, ids: dict[str, str]) -> None:
    """The refusal a user relies on: the documented exit code, one line on stderr saying what is
    wrong, no traceback, no identifier echoed."""
    assert out.code in case.codes, (
        f"exit {out.code}, stdout {out.stdout[:300]!r}, stderr {out.stderr[:600]!r}"
    )
    lines = out.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"stderr is not one line: {out.stderr[:600]!r}"
    assert lines[0].startswith("rightsflow: "), lines[0][:300]
    assert "Traceback" not in out.stderr + out.stdout
    assert len(lines[0]) < 400, "the error repeats the input"
    for secret in (*case.secrets, ids["CHILD"]):
        assert secret not in out.stderr + out.stdout, "an identifier is echoed back"
    if case.names:
        assert case.names in lines[0], "the error does not name the broken catalogue file"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_malformed_input_is_refused_in_one_line_and_nothing_is_written(rig: Rig, case: Case) -> None:
    before = sqlite_row_counts(*rig.counted)
    started = await _workflows(rig.client)
    env = dict(case.env)
    if case.catalog:
        env["RIGHTSFLOW_CATALOG"] = str(rig.catalogs[case.catalog])
    out = await asyncio.to_thread(rig.driver.run, *_substitute(case.argv, rig.ids), env=env, timeout=45)
    try:
        check_refusal(case, out, rig.ids)
        assert await _workflows(rig.client) == started, "a workflow was started"
        after = sqlite_row_counts(*rig.counted)
        changed = {
            k: (before.get(k), after.get(k))
            for k in set(before) | set(after)
            if before.get(k) != after.get(k)
        }
        assert not changed, f"rows written: {changed}"
    finally:
        # A case wrongly accepted sets a worker going: let it finish before the next case counts.
        if sqlite_row_counts(*rig.counted) != before:
            await asyncio.to_thread(settle, rig.counted, 1.0, 8)


def test_there_are_more_than_a_hundred_cases_across_every_filing_and_deciding_command() -> None:
    assert len(CASES) > 100
    assert len({c.id for c in CASES}) == len(CASES)
    commands = {c.argv[0] if c.argv[0] != "review" else "review decide" for c in CASES}
    assert commands >= {
        "sar",
        "verify",
        "clarify",
        "extend",
        "release",
        "withhold",
        "approve",
        "reject",
        "erase",
        "decide",
        "rectify",
        "restrict",
        "lift",
        "shorten",
        "object",
        "withdraw-consent",
        "transfer",
        "transfer-approve",
        "portability",
        "sweep",
        "review decide",
        "search",
        "deadline",
        "seed",
    }
