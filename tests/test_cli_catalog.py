"""`rightsflow catalog` names each service's lawful basis as its catalogue entry states it."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from rightsflow.cli.catalog import catalog


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(catalog)
    app.command("noop")(lambda: None)
    return app


def test_manchester_is_public_task_only_and_lewisham_social_care_both(settings):
    out = CliRunner().invoke(_app(), ["catalog", "--json"])
    assert out.exit_code == 0, out.output
    basis = {s["service"]: s["basis"] for s in json.loads(out.output)}
    assert basis["manchester_thriving_families"] == "public task"
    assert basis["lewisham_childrens_social_care"] == "public task / legal obligation"
    assert basis["westminster_family_hub"] == "consent"
    table = CliRunner().invoke(_app(), ["catalog"], env={"COLUMNS": "250"})
    manchester = next(line for line in table.output.splitlines() if "manchester_thriving" in line)
    assert "public task" in manchester and "legal obligation" not in manchester
