"""Controllers and labels in the catalogue: every service belongs to a council with the details
letters need; every mapped collection and field has a label a person can read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rightsflow.catalog import CatalogError, load_catalog
from rightsflow.cli import app

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "catalog"


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    return folder


def _edit(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_every_service_has_a_controller_with_the_details_a_letter_needs():
    cat = load_catalog(CATALOG)
    assert {"lewisham", "manchester", "westminster"} <= set(cat.controllers)
    assert all(not found for found in cat.controller_problems().values())
    lewisham = cat.controller("lewisham")
    assert lewisham.legal_name == "London Borough of Lewisham"
    assert "@" in lewisham.dpo.email and lewisham.dpo.phone and lewisham.ico_registration
    assert lewisham.internal_review and lewisham.signature.name
    assert lewisham.demo  # invented contact details are marked as such
    assert cat.services_of("lewisham") == [
        "lewisham_childrens_social_care",
        "lewisham_early_help",
        "lewisham_family_thrive",
    ]
    assert cat.services_of("westminster") == ["westminster_family_hub"]
    assert cat.default_controller is None  # three councils: filing must say which


def test_every_mapped_collection_and_field_has_a_plain_english_label():
    cat = load_catalog(CATALOG)
    for svc in cat:
        for c in svc.dataset.collections:
            assert c.label and c.label != c.name, (svc.service, c.name)
            for f in c.fields:
                assert f.label and "_" not in f.label, (svc.service, c.name, f.name)
    csc = cat["lewisham_childrens_social_care"]
    assert csc.collection_label("lcs_person") == "Person"
    assert csc.field_label("lcs_person", "is_professional") == "Recorded as a professional"


def test_a_field_without_a_label_is_refused_naming_file_collection_and_field(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "westminster_family_hub.yaml"
    def drop_label(data):
        member = next(c for c in data["dataset"]["collections"] if c["name"] == "household_member")
        next(f for f in member["fields"] if f["name"] == "given_name").pop("label")

    _edit(path, drop_label)
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    where = "westminster_family_hub.yaml: dataset.collections[household_member].fields[given_name].label"
    assert where in str(err.value)


def test_a_catalogue_file_that_is_not_utf8_is_named(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "controllers" / "lewisham.yaml"
    path.write_bytes(path.read_bytes().replace(b"Laurence House", "Laurence Hôuse".encode("latin-1")))
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    assert f"{path}: not UTF-8 text" in str(err.value)


def test_a_broken_controller_file_is_refused_naming_file_and_field(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder / "controllers" / "manchester.yaml", lambda d: d["dpo"].update(email="not an address"))
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    assert "manchester.yaml: dpo.email: Value error, is not an email address" in str(err.value)


def test_catalog_check_fails_a_service_with_no_controller(tmp_path, monkeypatch, settings):
    folder = _copy(tmp_path)
    (folder / "controllers" / "manchester.yaml").unlink()
    monkeypatch.setenv("RIGHTSFLOW_CATALOG", str(folder))
    result = CliRunner().invoke(app, ["catalog", "--check", "--json"])
    assert result.exit_code == 1, result.output
    by_service = {s["service"]: s for s in json.loads(result.output)}
    assert by_service["manchester_thriving_families"]["problems"][0].startswith("no controller: add ")
    assert not any("no controller" in p for p in by_service["lewisham_early_help"]["problems"])


def test_a_joint_arrangement_extends_a_controllers_requests_to_the_declared_services(tmp_path):
    folder = _copy(tmp_path)
    joint = {
        "name": "Shared early help panel",
        "purpose": "Joint early help panel under a data sharing agreement",
        "controllers": ["westminster"],
        "services": ["westminster_family_hub"],
    }
    _edit(folder / "controllers" / "lewisham.yaml", lambda d: d.update(joint_arrangements=[joint]))
    cat = load_catalog(folder)
    assert cat.services_of("lewisham")[-1] == "westminster_family_hub"
    assert "lewisham_family_thrive" not in cat.services_of("westminster")  # declared one way only

    joint["controllers"] = ["manchester"]  # the service is Westminster's, not Manchester's
    _edit(folder / "controllers" / "lewisham.yaml", lambda d: d.update(joint_arrangements=[joint]))
    with pytest.raises(CatalogError, match="belongs to 'westminster', which is not among its controllers"):
        load_catalog(folder)
