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
