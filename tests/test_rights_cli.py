"""The rights commands, registered on a local Typer app: argument checks that need no servers."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from rightsflow.cli.rights import decide, erase, lift, object_, rectify, restrict


def _app() -> typer.Typer:
    app = typer.Typer()
    for fn, name in (
        (erase, "erase"),
        (restrict, "restrict"),
        (object_, "object"),
        (rectify, "rectify"),
        (decide, "decide"),
        (lift, "lift"),
    ):
        app.command(name)(fn)
    return app


def test_commands_check_their_arguments(settings):
    runner = CliRunner()
    app = _app()
    r = runner.invoke(
        app, ["erase", "--received", "2026-01-05", "--nhs-number", "9434765919", "--ground", "bored"]
    )
    assert r.exit_code == 2 and "--ground must be one of" in r.output
    r = runner.invoke(
        app, ["restrict", "--received", "2026-01-05", "--nhs-number", "9434765919", "--reason", "x"]
    )
    assert r.exit_code == 2 and "--reason must be one of" in r.output
    r = runner.invoke(
        app,
        [
            "rectify",
            "--received",
            "2026-01-05",
            "--nhs-number",
            "9434765919",
            "--field",
            "name",
            "--value",
            "X",
        ],
    )
    assert r.exit_code == 2 and "user.name.first" in r.output and "9434765919" not in r.output
    from rightsflow.register import Register

    Register(settings).create_schema()
    r = runner.invoke(app, ["decide", "rq_missing", "--confirm-proposals"])
    assert r.exit_code == 2 and "no request rq_missing" in r.output
