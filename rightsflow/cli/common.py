"""Helpers shared by the commands: settings, catalogue, clear errors instead of tracebacks."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from rightsflow.catalog import Catalog, CatalogError, load_catalog
from rightsflow.config import Settings, load_settings


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"rightsflow: {message}", err=True)
    raise typer.Exit(code)


def settings_and_catalog() -> tuple[Settings, Catalog]:
    settings = load_settings()
    try:
        return settings, load_catalog(settings.catalog_dir)
    except CatalogError as exc:
        typer.echo("rightsflow: the catalogue is invalid:", err=True)
        typer.echo(str(exc), err=True)
        raise typer.Exit(3) from None


def is_terminal() -> bool:
    return sys.stdout.isatty()
