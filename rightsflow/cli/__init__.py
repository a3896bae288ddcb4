"""The ``rightsflow`` command. Each command lives in a small module beside this one."""

from __future__ import annotations

import typer

from .catalog import catalog
from .deadline import deadline
from .search import search
from .seed import seed
from .stack import down, up
from .worker import worker

app = typer.Typer(
    name="rightsflow",
    help="Retention and subject-rights workflows for council children's and family services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(up)
app.command()(down)
app.command()(worker)
app.command()(seed)
app.command()(catalog)
app.command()(search)
app.command("deadline")(deadline)


def main() -> None:
    app()
