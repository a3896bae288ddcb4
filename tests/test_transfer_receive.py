"""What a receiving authority accepts as a delivered family package, checked without Temporal or S3:
Westminster's bag of one family, as the sender builds it, arriving at Camden."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest

from activities.transfer import family_records
from rightsflow.catalog import load_catalog
from rightsflow.contracts.transfer import AckInput, FamilyCheck, ImportResult
from rightsflow.db import engine_for_url
from rightsflow.seed import seed_stores
from rightsflow.storemap import StoreMap
from rightsflow.transfer_family import household_members
from rightsflow.transfer_package import transfer_bag
from rightsflow.transfer_receive import acknowledgement, canonical_record, check_bag, target_service

CATALOG = load_catalog(Path("catalog"))
WFH = "westminster_family_hub"
AS_OF = date(2026, 11, 2)


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    url = f"sqlite:///{tmp_path_factory.mktemp('wfh') / WFH}.db"
    seed_stores({WFH: url}, families=3, seed=11, as_of=AS_OF, progress=False)
    cat = CATALOG[WFH]
    smap = StoreMap(cat)
    engine = engine_for_url(url)
    link = cat.subject.household
    with engine.connect() as conn:
        first = conn.execute(smap.t(link.collection).select().limit(1)).first()
        assert first is not None
        groups, members = household_members(conn, cat, smap, [first._mapping[link.person_column]])
    records = family_records(cat, engine, members)
    check = FamilyCheck(
        service=WFH,
        group_keys=[str(g) for g in groups],
        member_keys=[str(m) for m in members],
        restricted=0,
        holds=[],
        consents_active=1,
        consents_withdrawn=0,
        consent_based=True,
    )
    body, _, _ = transfer_bag(
        cat,
        records,
        check=check,
        transfer_id="tr-1",
        reason="moved-area",
        to_authority="camden",
        transfer_date=AS_OF.isoformat(),
        acknowledge_by="2026-11-23",
        catalog_dir=CATALOG.folder,
    )
    return body


def _sha(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


def test_the_bag_the_sender_builds_is_accepted_by_the_receivers_service(bag: bytes) -> None:
    check = check_bag(
        bag,
        announced_sha256=_sha(bag),
        catalog=CATALOG,
        to_authority="camden",
        wanted=None,
        transfer_id="tr-1",
    )
    assert check.ok, check.reasons
    assert check.target is not None and check.target.authority_code == "camden"
    assert check.collections and all(n >= 0 for n in check.collections.values())
    record = canonical_record(bag)
    assert record["source"]["transfer_id"] == "tr-1"


def test_a_package_that_is_not_the_announced_one_or_not_this_transfers_is_refused(bag: bytes) -> None:
    other = check_bag(
        bag,
        announced_sha256="0" * 64,
        catalog=CATALOG,
        to_authority="camden",
        wanted=None,
        transfer_id="tr-2",
    )
    assert not other.ok
    assert "the package's SHA-256 differs from the digest the sender announced" in other.reasons
    assert "the bag belongs to another transfer" in other.reasons
    nowhere = check_bag(
        bag,
        announced_sha256=_sha(bag),
        catalog=CATALOG,
        to_authority="islington",
        wanted=None,
        transfer_id="tr-1",
    )
    assert any("no service of authority islington" in r for r in nowhere.reasons)


def test_a_tampered_or_unreadable_package_is_refused_naming_files_not_values(bag: bytes) -> None:
    broken = check_bag(
        b"not a zip",
        announced_sha256=_sha(bag),
        catalog=CATALOG,
        to_authority="camden",
        wanted=None,
        transfer_id="tr-1",
    )
    assert not broken.ok and any("not a readable zip bag" in r for r in broken.reasons)
    # one record file changed after bagging: its checksum no longer matches
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bag)) as src, zipfile.ZipFile(out, "w") as dst:
        names = src.namelist()
        victim = next(n for n in names if n.endswith(".csv") and "/data/" in n)
        for n in names:
            dst.writestr(n, src.read(n) + (b"x,y\n" if n == victim else b""))
    tampered = out.getvalue()
    check = check_bag(
        tampered,
        announced_sha256=_sha(tampered),
        catalog=CATALOG,
        to_authority="camden",
        wanted=None,
        transfer_id="tr-1",
    )
    assert not check.ok
    assert any(victim.split("/", 1)[1] in r for r in check.reasons), check.reasons


def test_the_receiving_service_is_the_one_asked_for_or_the_authoritys_first() -> None:
    assert target_service(CATALOG, "camden", None) is CATALOG["camden_family_support"]
    assert target_service(CATALOG, "lewisham", "lewisham_early_help") is CATALOG["lewisham_early_help"]
    assert target_service(CATALOG, "lewisham", "no_such_service") is None


def test_the_acknowledgement_states_who_takes_responsibility_with_counts_only() -> None:
    imported = ImportResult(
        people_new=2,
        people_matched=1,
        inserted={"contact": 3, "note": 4},
        already_present={},
        labelled={"Contacts": 3},
    )
    doc = acknowledgement(
        AckInput(
            transfer_id="tr-1",
            from_authority="westminster",
            to_authority="camden",
            attempt=2,
            sha256="a" * 64,
            imported=imported,
        ),
        date(2026, 11, 5),
    )
    assert doc["accepted_on"] == "2026-11-05" and doc["rows_inserted"] == 7 and doc["attempt"] == 2
    assert (
        doc["statement"] == "camden accepts responsibility for the records of transfer tr-1 from westminster."
    )
    assert doc["package_sha256"] == "a" * 64 and doc["imported"] == {"Contacts": 3}
