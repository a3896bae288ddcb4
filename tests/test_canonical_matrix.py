"""Every ordered pair of catalogued services in different authorities exchanges a family through the
canonical family record, in process: the sender's bag is built and validated as a receiver would,
and imported into an empty store of the receiver's own schema through its own catalogue.

Checked for each pair: every person with an NHS number is found at the receiver by it (once);
dates of birth, case note texts and contact dates are the sender's; everything the receiver has no
field for is listed in ``not_placed`` (and filed somewhere), never dropped silently.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, select

from activities.discovery import EXACT, find_in_store
from activities.transfer import (
    build_bag_zip,
    family_records,
    household_members,
    payload_files,
    validate_bag_dir,
)
from rightsflow.canonical import (
    RECORD_FILE,
    SCHEMA_VERSION,
    canonical_map,
    export_record,
    import_record,
    label,
)
from rightsflow.canonical.mapping import _targets
from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.identity import SubjectIdentifiers
from rightsflow.seed import SERVICES, seed_stores
from rightsflow.storemap import StoreMap
from rightsflow.stores import SCHEMAS

CATALOG = load_catalog(Path("catalog"))
AS_OF = date(2026, 11, 2)
PAIRS = [
    (s, r)
    for s, r in itertools.permutations(SERVICES, 2)
    if CATALOG[s].authority_code != CATALOG[r].authority_code
]


@pytest.fixture(scope="module")
def senders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("senders")
    urls = {s: f"sqlite:///{home / s}.db" for s in SERVICES}
    seed_stores(urls, families=12, seed=11, as_of=AS_OF, progress=False)
    return urls


def _family(service: str, url: str, index: int = 4) -> dict[str, list[dict[str, Any]]]:
    """The records of the family of the ``index``-th person (not a professional)."""
    cat = CATALOG[service]
    smap = StoreMap(cat)
    subj = cat.subject
    engine = engine_for_url(url)
    with engine.connect() as conn:
        person = smap.t(subj.collection)
        q = select(person.c[subj.key]).order_by(person.c[subj.key])
        if subj.professional_field:
            q = q.where(person.c[subj.professional_field] != 1)
        keys = [r[0] for r in conn.execute(q)]
        _, members = household_members(conn, cat, smap, [keys[index * 3]])
    return family_records(cat, engine, members)


def _record(service: str, records: dict[str, list[dict[str, Any]]], tid: str) -> dict[str, Any]:
    return export_record(
        CATALOG[service],
        records,
        catalog_dir=CATALOG.folder,
        transfer_id=tid,
        transfer_date=AS_OF.isoformat(),
    )


def _bag(service: str, records: dict[str, list[dict[str, Any]]], record: dict[str, Any], tid: str) -> bytes:
    counts = {k: len(v) for k, v in records.items()}
    from activities.transfer import MANIFEST_VERSION, manifest_for

    manifest = manifest_for(CATALOG[service], counts)
    manifest.update(
        {"transfer_id": tid, "canonical_record": {"file": RECORD_FILE, "schema_version": SCHEMA_VERSION}}
    )
    files = payload_files(manifest, records)
    files[RECORD_FILE] = json.dumps(record, indent=2, sort_keys=True).encode()
    assert manifest["manifest_version"] == MANIFEST_VERSION
    body, _, _ = build_bag_zip(tid, files, {"External-Identifier": tid})
    return body


def _validate(body: bytes) -> tuple[list[str], dict[str, Any] | None, dict[str, Any] | None]:
    from activities.transfer import _safe_extract

    with tempfile.TemporaryDirectory() as tmp:
        root = _safe_extract(body, Path(tmp))
        reasons, manifest = validate_bag_dir(root, None)
        record = json.loads((root / "data" / RECORD_FILE).read_text()) if not reasons else None
    return reasons, manifest, record


def _whole_store(service: str, url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of a receiver's store (it holds the one imported family)."""
    engine = engine_for_url(url)
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for c in CATALOG[service].dataset.collections:
            t = Table(c.name, MetaData(), autoload_with=conn)
            out[c.name] = [dict(r._mapping) for r in conn.execute(select(t))]
    return out


def _texts(record: dict[str, Any]) -> set[str]:
    """Every case note text, and every text filed as a note or attachment, of a canonical record."""
    texts = {n["text"] for n in record["case_notes"] if n.get("text")}
    return texts | {str(a.get("value")) for a in record["additional_information"]}


@pytest.mark.parametrize(("sender", "receiver"), PAIRS, ids=[f"{s}->{r}" for s, r in PAIRS])
def test_a_family_moves_between_different_case_systems(
    sender: str, receiver: str, senders: dict[str, str], tmp_path: Path
) -> None:
    tid = f"tr_{sender[:6]}_{receiver[:6]}"
    records = _family(sender, senders[sender])
    body = _bag(sender, records, _record(sender, records, tid), tid)
    reasons, _, record = _validate(body)
    assert reasons == [] and record is not None
    assert record["people"] and record["case_notes"] and record["contacts"]

    url = f"sqlite:///{tmp_path / receiver}.db"
    SCHEMAS[receiver].create_all(engine_for_url(url))
    rcat = CATALOG[receiver]
    with engine_for_url(url).begin() as conn:
        out = import_record(
            rcat, conn, record, transfer_id=tid, transfer_date=AS_OF, catalog_dir=CATALOG.folder
        )
    assert out.people_new == len(record["people"]) and out.people_matched == 0

    # every person findable at the receiver by NHS number, exactly once
    smap, engine = StoreMap(rcat), engine_for_url(url)
    for p in record["people"]:
        if p.get("nhs_number"):
            found = find_in_store(smap, engine, SubjectIdentifiers.parse(nhs_number=p["nhs_number"]))
            assert [m.strength for m in found if m.strength == EXACT] == [EXACT]

    # the receiver's own records, read back through its catalogue, say what the sender's said
    back = export_record(rcat, _whole_store(receiver, url), catalog_dir=CATALOG.folder)
    dob = {p["nhs_number"]: p.get("person_birth_date") for p in record["people"] if p.get("nhs_number")}
    assert {p["nhs_number"]: p.get("person_birth_date") for p in back["people"] if p.get("nhs_number")} == dob
    assert {n["text"] for n in record["case_notes"] if n.get("text")} <= _texts(back)
    sent_dates = {c["contact_date"][:10] for c in record["contacts"] if c.get("contact_date")}
    assert sent_dates <= {c["contact_date"][:10] for c in back["contacts"] if c.get("contact_date")}

    # nothing dropped without being listed: each sent attribute has a field, or its label is listed
    targets = _targets(rcat, canonical_map(rcat))
    listed = {n["label"] for n in out.not_placed}
    assert all(n["filed_as"] != "nowhere" for n in out.not_placed)
    for entity, plural in (
        ("person", "people"),
        ("contact", "contacts"),
        ("case_note", "case_notes"),
        ("plan", "plans"),
        ("referral", "referrals"),
        ("episode", "episodes"),
        ("flag", "flags"),
        ("share", "sharing_log"),
    ):
        for item in record[plural]:
            for attr, value in item.items():
                if attr in ("id", "person_id", "household_id", "related_person_id") or value in (None, ""):
                    continue
                placed = entity in targets and attr in targets[entity].fields
                assert placed or label(entity, attr) in listed or label(entity) in listed, (entity, attr)
    for item in record["additional_information"]:
        assert item["label"] in listed


def test_importing_the_same_record_twice_inserts_nothing_more(
    senders: dict[str, str], tmp_path: Path
) -> None:
    receiver = "camden_family_support"  # text keys: a re-run finds every row it wrote
    records = _family("lewisham_childrens_social_care", senders["lewisham_childrens_social_care"])
    record = _record("lewisham_childrens_social_care", records, "tr_twice")
    url = f"sqlite:///{tmp_path / receiver}.db"
    SCHEMAS[receiver].create_all(engine_for_url(url))
    runs = []
    for _ in range(2):
        with engine_for_url(url).begin() as conn:
            runs.append(
                import_record(
                    CATALOG[receiver],
                    conn,
                    record,
                    transfer_id="tr_twice",
                    transfer_date=AS_OF,
                    catalog_dir=CATALOG.folder,
                )
            )
    assert sum(runs[0].inserted.values()) > 0
    assert runs[1].inserted == {} or runs[1].people_matched == len(record["people"])
    assert sum(runs[1].inserted.values()) == 0


def test_a_known_person_is_matched_not_duplicated_and_a_name_match_is_offered(
    senders: dict[str, str], tmp_path: Path
) -> None:
    """Camden already knows one member by NHS number and another by name and date of birth only."""
    receiver = "camden_family_support"
    records = _family("westminster_family_hub", senders["westminster_family_hub"])
    record = _record("westminster_family_hub", records, "tr_known")
    known, namesake = [p for p in record["people"] if p.get("nhs_number")][:2]
    url = f"sqlite:///{tmp_path / receiver}.db"
    SCHEMAS[receiver].create_all(engine_for_url(url))
    person = SCHEMAS[receiver].tables["cfs_person"]
    with engine_for_url(url).begin() as conn:
        for uid, p, nhs in (("CF9000001-01", known, known["nhs_number"]), ("CF9000002-01", namesake, None)):
            conn.execute(
                person.insert().values(
                    person_uid=uid,
                    nhs_number=nhs,
                    given_names=p["forename"],
                    surname=p["surname"],
                    birth_date=date.fromisoformat(p["person_birth_date"]),
                )
            )
    with engine_for_url(url).begin() as conn:
        out = import_record(
            CATALOG[receiver],
            conn,
            record,
            transfer_id="tr_known",
            transfer_date=AS_OF,
            catalog_dir=CATALOG.folder,
        )
    assert out.people_matched == 1 and out.people_new == len(record["people"]) - 1
    assert out.people[known["id"]] == "CF9000001-01"
    assert [c["existing_key"] for c in out.candidates] == ["CF9000002-01"]
    with engine_for_url(url).connect() as conn:
        n = conn.execute(select(person.c.person_uid).where(person.c.nhs_number == known["nhs_number"])).all()
    assert len(n) == 1


def test_a_tampered_or_malformed_bag_is_rejected_with_its_reason(senders: dict[str, str]) -> None:
    import io
    import zipfile

    sender = "manchester_thriving_families"
    records = _family(sender, senders[sender])
    record = _record(sender, records, "tr_bad")
    body = _bag(sender, records, record, "tr_bad")

    # a changed byte in the canonical record: its checksum no longer matches the manifest
    src = zipfile.ZipFile(io.BytesIO(body))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(RECORD_FILE):
                data = data.replace(b'"people"', b'"peoplf"', 1)
            zf.writestr(info, data)
    reasons, _, got = _validate(buf.getvalue())
    assert got is None and any("checksum" in r or "Payload-Oxum" in r or "bag invalid" in r for r in reasons)

    # a record that is checksummed but not a canonical record (an NHS number of the wrong shape)
    broken = json.loads(json.dumps(record))
    broken["people"][0]["nhs_number"] = "12345"
    reasons, _, got = _validate(_bag(sender, records, broken, "tr_bad"))
    assert got is None and any(r.startswith("canonical record people/0/nhs_number") for r in reasons)
    assert all("12345" not in r for r in reasons)  # reasons never echo a value

    # no canonical record at all
    counts = {k: len(v) for k, v in records.items()}
    from activities.transfer import manifest_for

    manifest = manifest_for(CATALOG[sender], counts) | {"transfer_id": "tr_bad"}
    bare, _, _ = build_bag_zip("tr_bad", payload_files(manifest, records), {})
    reasons, _, got = _validate(bare)
    assert got is None and any("canonical family record" in r for r in reasons)


def test_catalog_check_names_fields_with_no_canonical_meaning() -> None:
    from rightsflow.cli.catalog import no_canonical_meaning

    found = no_canonical_meaning(CATALOG)
    assert found["camden_family_support"] == [] and found["westminster_family_hub"] == []
    social_care = " ".join(found["lewisham_childrens_social_care"])
    assert "School (lcs_person.school_name)" in social_care and "labelled note" in social_care
    # a bookkeeping field marked internal is deliberately not carried, and not reported
    assert "restricted_on" not in social_care


def test_catalog_json_lists_each_service_with_its_authority_code() -> None:
    from typer.testing import CliRunner

    from rightsflow.cli import app

    result = CliRunner().invoke(app, ["catalog", "--json"])
    assert result.exit_code == 0
    codes = {s["service"]: s["authority_code"] for s in json.loads(result.stdout)}
    assert codes["camden_family_support"] == "camden" and codes["westminster_family_hub"] == "westminster"


def test_store_init_creates_an_empty_store_for_any_catalogued_service(
    senders: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A demo service gets its schema; a service with no schema in rightsflow gets its catalogue's
    shape, and a canonical record imports into it."""
    import shutil

    from typer.testing import CliRunner

    from rightsflow.cli.store import catalogue_schema, store_app

    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG.folder, folder)
    text = (folder / "westminster_family_hub.yaml").read_text(encoding="utf-8")
    (folder / "newham_family_hub.yaml").write_text(
        text.replace("westminster_family_hub", "newham_family_hub")
        .replace("WESTMINSTER_FAMILY_HUB", "NEWHAM_FAMILY_HUB")
        .replace("authority_code: westminster", "authority_code: newham"),
        encoding="utf-8",
    )
    monkeypatch.setenv("RIGHTSFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RIGHTSFLOW_CATALOG", str(folder))
    (tmp_path / "home" / "stores").mkdir(parents=True)
    runner = CliRunner()
    cases = (
        ("camden_family_support", "its own schema", "cfs_person"),
        ("newham_family_hub", "the catalogue's shape", "household_member"),
    )
    for service, shape, table in cases:
        result = runner.invoke(store_app, ["init", service, "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["schema"] == shape and table in out["created"]
        again = json.loads(runner.invoke(store_app, ["init", service, "--json"]).stdout)
        assert again["created"] == [] and sorted(again["already_there"]) == sorted(out["created"])
    bad = runner.invoke(store_app, ["init", "atlantis_hub"])
    assert bad.exit_code == 2 and "no service 'atlantis_hub'" in bad.output

    newham = load_catalog(folder)["newham_family_hub"]
    url = f"sqlite:///{tmp_path / 'newham.db'}"
    catalogue_schema(newham).create_all(engine_for_url(url))
    record = _record(
        "lewisham_early_help", _family("lewisham_early_help", senders["lewisham_early_help"]), "tr_nh"
    )
    with engine_for_url(url).begin() as conn:
        out = import_record(
            newham, conn, record, transfer_id="tr_nh", transfer_date=AS_OF, catalog_dir=folder
        )
    assert out.people_new == len(record["people"])
