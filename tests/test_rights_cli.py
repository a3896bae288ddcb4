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


class StartedWorkflows:
    """A Temporal client that records the workflows started, so the real request service runs."""

    def __init__(self) -> None:
        self.started: list[object] = []

    async def start_workflow(self, workflow: object, arg: object, *, id: str, task_queue: str) -> None:
        self.started.append(arg)


def test_a_request_filed_to_a_council_records_that_council_and_the_requester(settings, monkeypatch):
    """``--controller lewisham`` scopes the request to Lewisham's services, and the register
    records the controller and the requester's details (sealed), as letters need them."""
    from rightsflow.cli import rights
    from rightsflow.register import Register
    from rightsflow.request_service import RequestService

    temporal = StartedWorkflows()
    monkeypatch.setattr(rights, "request_service", lambda s, c: RequestService(s, c, client=temporal))
    runner = CliRunner()
    parent = [
        "--controller",
        "lewisham",
        "--requester",
        "parent",
        "--requester-name",
        "Grace Okafor",
        "--requester-email",
        "grace@example.org",
    ]
    day = ["--received", "2026-01-05", "--nhs-number", "9434765919"]
    r = runner.invoke(_app(), ["restrict", *day, *parent])
    assert r.exit_code == 0, r.output
    rid = r.output.strip()
    register = Register(settings)
    req = register.get_request(rid)
    assert (req.request_type, req.controller, req.requester) == ("restriction", "lewisham", "parent")
    details = register.requester_details(rid)
    assert details and details["name"] == "Grace Okafor" and details["email"] == "grace@example.org"
    [started] = temporal.started
    assert sorted(started.services) == [
        "lewisham_childrens_social_care",
        "lewisham_early_help",
        "lewisham_family_thrive",
    ]
    assert "Grace" not in r.output and "9434765919" not in r.output
    # a service of another council is refused in one line, and nothing more is filed
    r = runner.invoke(_app(), ["erase", *day, *parent, "--service", "westminster_family_hub"])
    assert r.exit_code == 2 and "not one of the services of controller lewisham" in r.output
    assert len(temporal.started) == 1
    # a withdrawal of consent to Lewisham reaches only Lewisham's consent-based services
    from rightsflow.cli.rights import withdraw_consent

    app = _app()
    app.command("withdraw-consent")(withdraw_consent)
    r = runner.invoke(app, ["withdraw-consent", *day, *parent])
    assert r.exit_code == 0, r.output
    assert register.get_request(r.output.splitlines()[0]).controller == "lewisham"
    assert sorted(temporal.started[-1].services) == ["lewisham_early_help", "lewisham_family_thrive"]
