"""Filing names the council and the requester: mistakes are refused in one line, nothing filed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rightsflow.cli import app

BASE = ["sar", "--received", "2026-11-21", "--nhs-number", "943 476 5919"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--controller", "narnia"], "--controller: no controller 'narnia' in the catalogue (known: "),
        (["--controller", "lewisham", "--requester", "aunt"], "--requester must be one of self, parent"),
        (["--controller", "lewisham", "--requester", "parent"], "--requester-name is needed"),
        (
            [
                "--controller",
                "lewisham",
                "--requester",
                "parent",
                "--requester-name",
                "Grace Okafor",
                "--requester-email",
                "grace at example",
            ],
            "--requester-email is not an email address",
        ),
        (
            [
                "--controller",
                "lewisham",
                "--requester",
                "solicitor",
                "--requester-name",
                "Patel & Co",
                "--requester-address",
                "1 High Street",
            ],
            "--requester-address needs at least two lines",
        ),
    ],
)
def test_filing_refuses_a_bad_controller_or_requester(settings, extra, expected):
    result = CliRunner().invoke(app, [*BASE, *extra])
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_a_rights_request_cannot_reach_another_councils_service(settings):
    result = CliRunner().invoke(
        app,
        ["erase", *BASE[1:], "--controller", "lewisham", "--service", "westminster_family_hub"],
    )
    assert result.exit_code == 2, result.output
    assert (
        "--service westminster_family_hub is not one of the services of controller lewisham" in result.output
    )


def _register_rows(settings) -> int:  # type: ignore[no-untyped-def]
    from rightsflow.register import Register

    if not (settings.home / "register.db").exists():
        return 0
    return len(Register(settings).open_requests())


@pytest.mark.parametrize("command", ["sar", "erase", "restrict", "object", "withdraw-consent"])
def test_filing_without_a_council_among_several_is_refused_naming_them_and_writes_nothing(
    settings, monkeypatch, command
):
    monkeypatch.delenv("RIGHTSFLOW_DEFAULT_CONTROLLER", raising=False)
    result = CliRunner().invoke(app, [command, *BASE[1:]])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("rightsflow: the catalogue has several councils (")
    for code in ("lewisham", "manchester", "westminster"):
        assert code in line
    assert "--controller CODE" in line and "RIGHTSFLOW_DEFAULT_CONTROLLER" in line
    assert _register_rows(settings) == 0


def test_a_default_council_that_is_not_in_the_catalogue_is_refused(settings, monkeypatch):
    monkeypatch.setenv("RIGHTSFLOW_DEFAULT_CONTROLLER", "narnia")
    result = CliRunner().invoke(app, ["erase", *BASE[1:]])
    assert result.exit_code == 2, result.output
    assert "rightsflow: RIGHTSFLOW_DEFAULT_CONTROLLER names no council in the catalogue" in result.output
    assert _register_rows(settings) == 0


class _Client:
    """Stands in for Temporal's client: records what a filing would start."""

    def __init__(self) -> None:
        self.started: list[object] = []

    async def start_workflow(self, workflow, arg, **kwargs):  # type: ignore[no-untyped-def]
        self.started.append(arg)


async def test_the_request_service_refuses_a_filing_naming_no_council_among_several(settings, monkeypatch):
    from rightsflow.request_service import Refused, RequestService

    monkeypatch.delenv("RIGHTSFLOW_DEFAULT_CONTROLLER", raising=False)
    from rightsflow.config import load_settings

    client = _Client()
    service = RequestService(load_settings(), client=client)
    for filing in (service.file_sar, service.file_erasure, service.file_objection):
        with pytest.raises(Refused, match="several councils"):
            await filing(
                actor="console:dpo", subject={"nhs_number": "943 476 5919"}, received_on="2026-11-21"
            )
    assert client.started == [] and _register_rows(settings) == 0


async def test_the_default_council_scopes_a_filing_to_its_services_and_is_recorded(settings, monkeypatch):
    from rightsflow.catalog import load_catalog
    from rightsflow.config import load_settings
    from rightsflow.register import Register
    from rightsflow.request_service import Refused, RequestService

    monkeypatch.setenv("RIGHTSFLOW_DEFAULT_CONTROLLER", "westminster")
    s = load_settings()
    client = _Client()
    service = RequestService(s, client=client)
    filed = await service.file_erasure(
        actor="console:dpo", subject={"nhs_number": "943 476 5919"}, received_on="2026-11-21"
    )
    [inp] = client.started
    assert inp.services == load_catalog(s.catalog_dir).services_of("westminster")  # not Lewisham's
    assert Register(s).get_request(filed.request_id).controller == "westminster"
    with pytest.raises(Refused, match="not one of the services of controller westminster"):
        await service.file_erasure(
            actor="console:dpo",
            subject={"nhs_number": "943 476 5919"},
            received_on="2026-11-21",
            services=["lewisham_family_thrive"],
        )
    assert len(client.started) == 1


def test_the_laptop_stack_files_to_the_demo_council_unless_told_otherwise(settings, monkeypatch):
    import os

    from rightsflow.cli.stack import _default_council_for_the_demo

    monkeypatch.delenv("RIGHTSFLOW_DEFAULT_CONTROLLER", raising=False)
    _default_council_for_the_demo()
    assert os.environ["RIGHTSFLOW_DEFAULT_CONTROLLER"] == "lewisham"  # inherited by the worker, console
    monkeypatch.setenv("RIGHTSFLOW_DEFAULT_CONTROLLER", "westminster")
    _default_council_for_the_demo()
    assert os.environ["RIGHTSFLOW_DEFAULT_CONTROLLER"] == "westminster"


async def test_a_portability_request_is_made_to_the_council_running_the_service(settings):
    from rightsflow.catalog import load_catalog
    from rightsflow.cli.portability import start_portability
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.register import Register

    client = _Client()
    rid, _ = await start_portability(
        client,
        settings,
        load_catalog(settings.catalog_dir),
        service="westminster_family_hub",
        ids=SubjectIdentifiers.parse(nhs_number="943 476 5919"),
    )
    # its acknowledgement and every other letter carry Westminster's letterhead, not the default's
    assert Register(settings).get_request(rid).controller == "westminster"
    assert len(client.started) == 1
