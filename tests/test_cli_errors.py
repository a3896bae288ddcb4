"""Errors that say what is wrong and what to do: dates only as YYYY-MM-DD, and missing production keys
named (never blamed on Temporal or the worker)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from rightsflow.cli import rights, sar
from rightsflow.cli.sweep import sweep


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("sweep")(sweep)
    app.command("sar")(sar.sar)
    app.command("erase")(rights.erase)
    return app


def test_sweep_as_of_takes_only_yyyy_mm_dd(settings):
    for as_of in ("20261121", "2026-W47-5", "2026-02-30"):
        out = CliRunner().invoke(_app(), ["sweep", "--as-of", as_of, "--dry-run"])
        assert out.exit_code == 2, out.output
        assert out.output.startswith("rightsflow: --as-of") and "YYYY-MM-DD" in out.output


def test_missing_production_keys_are_named_with_how_to_provide_them(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSFLOW_REQUIRE_KEYS", "1")
    monkeypatch.setenv("RIGHTSFLOW_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    for args in (
        ["sar", "--nhs-number", "943 476 5919", "--received", "2026-11-21"],
        ["erase", "--nhs-number", "943 476 5919", "--received", "2026-11-21"],
        ["sweep", "--as-of", "2026-11-21", "--dry-run"],
    ):
        out = CliRunner().invoke(_app(), args)
        assert out.exit_code == 1, (args, out.output)
        assert "Temporal" not in out.output and "worker" not in out.output, out.output
        assert "key" in out.output and "RIGHTSFLOW_" in out.output, out.output
        assert "Traceback" not in out.output
