"""The ``rightsflow`` command. Each command lives in a small module beside this one."""

from __future__ import annotations

import typer

from . import console, intake, portability, rights, sar, transfer, users
from .audit import audit_app
from .catalog import catalog
from .common import OneLineErrors, exit_process
from .deadline import deadline
from .letters import letters, print_batch
from .review import review_app
from .search import search
from .seed import seed
from .stack import down, up
from .store import store_app
from .sweep import schedule, sweep
from .worker import worker

app = typer.Typer(
    name="rightsflow",
    help="Retention and subject-rights workflows for council children's and family services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=OneLineErrors,
)

# the system
app.command()(up)
app.command()(down)
app.command()(worker)
app.command()(seed)
app.command()(catalog)
app.command()(search)
app.command("deadline")(deadline)
# correspondence: a request's letters, and the day's postal letters in one PDF
app.command()(letters)
app.command("print-batch")(print_batch)
# subject access requests
for command in (
    sar.sar,
    sar.verify,
    sar.extend,
    sar.clarify,
    sar.redactions,
    sar.release,
    sar.withhold,
    sar.approve,
    sar.reject,
    sar.status,
    sar.requests,
    sar.demo,
):
    app.command()(command)
# erasure, restriction, objection, rectification
for command in (rights.erase, rights.restrict, rights.rectify, rights.decide, rights.lift, rights.shorten):
    app.command()(command)
app.command("object")(rights.object_)
app.command("withdraw-consent")(rights.withdraw_consent)
app.command("rights-status")(rights.rights_status)
# inter-authority transfer
app.command("transfer")(transfer.transfer)
app.command("transfer-approve")(transfer.transfer_approve)
app.command("transfer-refuse")(transfer.transfer_refuse)
app.command("transfer-status")(transfer.transfer_status)
app.command("intake-schedule")(intake.intake_schedule)
# Article 20 portability to the person
app.command("portability")(portability.portability)
app.command("portability-approve")(portability.portability_approve)
app.command("portability-refuse")(portability.portability_refuse)
app.command("portability-status")(portability.portability_status)
# retention
app.command()(sweep)
app.command()(schedule)
app.add_typer(review_app, name="review")
# the casework console and its accounts
app.command()(console.console)
app.add_typer(users.users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(store_app, name="store")  # rightsflow store init SERVICE
# the casework console and its accounts
app.command()(console.console)
app.add_typer(users.users_app, name="users")


def main() -> None:
    from rightsflow.permissions import private_umask

    private_umask()  # files a command creates under the home (register, stores, keys): 0600/0700
    from rightsflow.keys import KeyMaterialError

    try:
        app()
        code = 0
    except KeyMaterialError as exc:  # production keys not provided: say which and how
        typer.echo(f"rightsflow: {exc}", err=True)
        code = 1
    except SystemExit as exc:  # click ends every command this way, success included
        if isinstance(exc.code, str):
            typer.echo(exc.code, err=True)
            code = 1
        else:
            code = exc.code or 0
    exit_process(code)
