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
    assert r.exit_code == 2 and "the ground must be one of" in r.output
    r = runner.invoke(
        app, ["restrict", "--received", "2026-01-05", "--nhs-number", "9434765919", "--reason", "x"]
    )
    assert r.exit_code == 2 and "the reason must be one of" in r.output
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


def test_filing_refuses_what_would_fail_in_the_workflow_and_writes_nothing(settings):
    """A service not in the catalogue, an impossible corrected value, a date in another format or
    outside the calendar, a placeholder NHS number, a long value, a negative notice: each refused
    with one line and exit 2 before anything is written or started."""
    runner = CliRunner()
    app = _app()
    nhs = ["--nhs-number", "9434765919"]
    day = ["--received", "2026-01-05"]
    cases = [
        (["erase", *day, *nhs, "--service", "no_such_service"], "no service no_such_service"),
        (["restrict", *day, *nhs, "--service", "no_such_service"], "no service"),
        (["object", *day, *nhs, "--service", "no_such_service"], "no service"),
        (["rectify", *day, *nhs, "--field", "date_of_birth", "--value", "2015-02-30"], "not a real day"),
        (["rectify", *day, *nhs, "--field", "nhs_number", "--value", "9487103237"], "check digit"),
        (["rectify", *day, *nhs, "--field", "user.name.last", "--value", "x" * 10_000], "200 characters"),
        (
            [
                "rectify",
                *day,
                *nhs,
                "--field",
                "user.name.last",
                "--value",
                "Okafor",
                "--service",
                "atlantis",
            ],
            "no service",
        ),
        (["erase", "--received", "2026-W47-5", *nhs], "YYYY-MM-DD"),
        (["erase", "--received", "20261121", *nhs], "YYYY-MM-DD"),
        (["erase", "--received", "1900-01-01", *nhs], "2000-01-01"),
        (["erase", *day, "--nhs-number", "0000000000"], "placeholder"),
        (["erase", *day, "--name", "A " + "b" * 10_000, "--dob", "2015-01-01"], "200 characters"),
        (["restrict", *day, *nhs, "--notice-days", "-3"], "at least one day"),
        (["object", *day, *nhs, "--notice-days", "0"], "at least one day"),
    ]
    for args, message in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output, (args, r.output)
        assert r.output.startswith("rightsflow: ") and len(r.output.strip().splitlines()) == 1, r.output
        assert "9487103237" not in r.output and "2015-02-30" not in r.output
    assert not (settings.home / "register.db").exists()
