"""The zipped BagIt bags rightsflow writes (archives, transfers, portable copies) are bags bagit
itself accepts: a records manager's preservation tools read them years later."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import bagit
import pytest

from rightsflow.bagging import build_bag_zip, safe_extract

FILES = {
    "lcs_person.json": b'[{"person_id": 1, "forename": "Amara"}]',
    "records/lcs_case_note.json": b'[{"note_text": "visit \\u00e9t\\u00e9"}]',
    "records/empty.json": b"",
}
INFO = {"External-Identifier": "ref-1", "Bagging-Date": "2026-11-01", "Source-Organization": "Lewisham"}


def _extract(body: bytes, dest: Path) -> Path:
    return safe_extract(body, dest)


def test_bagit_validates_the_bag_and_reads_its_info(tmp_path: Path) -> None:
    body, oxum, names = build_bag_zip("ref-1", FILES, INFO)
    root = _extract(body, tmp_path)
    bag = bagit.Bag(str(root))
    bag.validate(processes=1)  # checksums, completeness and Payload-Oxum
    assert bag.version_info == (0, 97) and bag.algorithms == ["sha256"]
    assert bag.info["External-Identifier"] == "ref-1" and bag.info["Bagging-Date"] == "2026-11-01"
    assert oxum == bag.info["Payload-Oxum"] == f"{sum(len(b) for b in FILES.values())}.{len(FILES)}"
    assert sorted(bag.payload_files()) == sorted(f"data/{n}" for n in FILES)
    assert set(names) == {n.filename for n in zipfile.ZipFile(io.BytesIO(body)).infolist()}
    assert (root / "data" / "records" / "lcs_case_note.json").read_bytes() == FILES[
        "records/lcs_case_note.json"
    ]


def test_the_same_records_give_the_same_bytes() -> None:
    assert (
        build_bag_zip("ref-1", FILES, INFO)[0]
        == build_bag_zip("ref-1", dict(reversed(FILES.items())), INFO)[0]
    )


@pytest.mark.parametrize("tamper", ["payload", "bag_info"])
def test_bagit_refuses_the_bag_once_a_file_changes(tmp_path: Path, tamper: str) -> None:
    root = _extract(build_bag_zip("ref-1", FILES, INFO)[0], tmp_path)
    if tamper == "payload":
        (root / "data" / "lcs_person.json").write_bytes(b'[{"person_id": 2, "forename": "Amara"}]')
    else:
        info = root / "bag-info.txt"
        info.write_text(info.read_text().replace("Lewisham", "Camden"))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(root)).validate(processes=1)


def test_an_info_value_with_a_line_break_stays_on_one_line(tmp_path: Path) -> None:
    root = _extract(build_bag_zip("ref-1", FILES, {**INFO, "External-Description": "a\nb"})[0], tmp_path)
    bag = bagit.Bag(str(root))
    bag.validate(processes=1)
    assert bag.info["External-Description"] == "ab"
