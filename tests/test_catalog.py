"""The catalogue: five services load; a broken file is refused with its name, field and problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rightsflow.catalog import CatalogError, load_catalog
from rightsflow.cli import app
from rightsflow.stores import SCHEMAS

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "catalog"


def test_the_five_services_load_and_map_every_table_and_column_of_their_store():
    cat = load_catalog(CATALOG)
    assert sorted(cat.ids) == sorted(SCHEMAS)
    for service, metadata in SCHEMAS.items():
        mapped = cat[service].columns
        for table in metadata.tables.values():
            assert set(mapped[table.name]) == {c.name for c in table.columns}, (service, table.name)


def test_identity_fields_use_only_the_agreed_names():
    cat = load_catalog(CATALOG)
    for svc in cat:
        assert svc.identity_fields("nhs_number"), svc.service
        assert len(svc.identity_fields("name")) == 2, svc.service  # given and family name
        assert svc.identity_fields("date_of_birth"), svc.service


def _copy_with(tmp_path: Path, service: str, edit) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    path = folder / f"{service}.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def test_a_broken_retention_rule_is_refused_naming_file_field_and_problem(tmp_path):
    def break_rule(data):
        data["retention"][0]["period"] = {"years": 0}
        data["retention"][0]["action"] = "shred"

    folder = _copy_with(tmp_path, "westminster_family_hub", break_rule)
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    message = str(err.value)
    assert "westminster_family_hub.yaml" in message
    assert "retention.0.action" in message
    assert "retention.0.period" in message and "longer than zero" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["dataset"]["collections"][1]["fields"][2]["fides_meta"].update(identity="email"),
            "fides_meta.identity: 'email' is not one of",
        ),
        (
            lambda d: d["dataset"]["collections"][0]["fields"][1].update(data_categories=["user.shoe_size"]),
            "unknown data category 'user.shoe_size'",
        ),
        (
            lambda d: d["roles"]["contacts"].update(date_field="visit_date"),
            "roles.contacts: field hub_session.visit_date is not mapped",
        ),
        (lambda d: d.pop("recipients"), "recipients: Field required"),
        (lambda d: d.update(service="other_name"), "must match the file name"),
    ],
)
def test_other_mistakes_are_named(tmp_path, edit, expected):
    folder = _copy_with(tmp_path, "westminster_family_hub", edit)
    with pytest.raises(CatalogError, match="westminster_family_hub.yaml") as err:
        load_catalog(folder)
    assert expected in str(err.value)


def test_rightsflow_catalog_points_at_another_folder(tmp_path, monkeypatch, settings):
    folder = tmp_path / "one_service"
    folder.mkdir()
    shutil.copy(CATALOG / "westminster_family_hub.yaml", folder)
    monkeypatch.setenv("RIGHTSFLOW_CATALOG", str(folder))
    result = CliRunner().invoke(app, ["catalog", "--json"])
    assert result.exit_code == 0, result.output
    assert [s["service"] for s in json.loads(result.output)] == ["westminster_family_hub"]


def test_the_command_refuses_a_broken_catalogue_with_the_file_name(tmp_path, monkeypatch, settings):
    folder = _copy_with(tmp_path, "lewisham_early_help", lambda d: d["retention"][0].pop("trigger"))
    monkeypatch.setenv("RIGHTSFLOW_CATALOG", str(folder))
    result = CliRunner().invoke(app, ["catalog"])
    assert result.exit_code == 3
    assert "lewisham_early_help.yaml: retention.0.trigger: Field required" in result.output


def test_check_passes_on_seeded_stores_and_fails_on_a_missing_column(settings, monkeypatch):
    from sqlalchemy import text

    from rightsflow.db import store_engine
    from rightsflow.seed import seed_stores

    cat = load_catalog(CATALOG)
    urls = {svc.service: svc.store.resolved_url(settings.home) for svc in cat}
    seed_stores(urls, families=5, seed=7, progress=False)
    runner = CliRunner()
    ok = runner.invoke(app, ["catalog", "--check"])
    assert ok.exit_code == 0, ok.output
    assert "has no index" not in ok.output

    engine = store_engine(cat["westminster_family_hub"], settings)
    with engine.begin() as conn:  # a store without the index the sweep deletes members by
        conn.execute(text("DROP INDEX ix_household_flag_member_ref"))
    slow = runner.invoke(app, ["catalog", "--check"])
    assert slow.exit_code == 0, slow.output  # a warning, not a mapping error
    assert "westminster_family_hub: household_flag.member_ref has no index" in slow.output
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE hub_session DROP COLUMN practitioner"))
    bad = runner.invoke(app, ["catalog", "--check"])
    assert bad.exit_code == 1
    assert "hub_session.practitioner is mapped but not in the store" in bad.output
