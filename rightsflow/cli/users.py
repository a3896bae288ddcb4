"""``rightsflow users``: console accounts (local sign-in; OIDC accounts are made at first sign-in)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import fail, settings_and_catalog

users_app = typer.Typer(help="Console accounts: add one, list them.", no_args_is_help=True)


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user name they sign in with.")],
    role: Annotated[str, typer.Option("--role", help="dpo, records_manager, service_lead or auditor.")],
    service: Annotated[
        str | None, typer.Option("--service", help="The service a service lead leads (catalogue name).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (one line).")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Change an existing account.")] = False,
) -> None:
    """Create a console account; the password is read from standard input and stored as an argon2 hash."""
    from rightsflow.console.accounts import AccountError, add_user
    from rightsflow.register import Register

    if not password_stdin:
        fail("give --password-stdin and pipe the password in (it is never taken as an argument)")
    password = sys.stdin.readline().rstrip("\r\n")
    settings, catalog = settings_and_catalog()
    register = Register(settings)
    register.create_schema()
    try:
        user = add_user(
            register,
            name,
            role,
            password,
            service=service,
            known_services={s.service for s in catalog},
            replace=replace,
        )
    except AccountError as exc:
        fail(str(exc))
    where = f" for {service}" if service else ""
    typer.echo(f"added {user.username} as {user.role_label.lower()}{where}")


@users_app.command("list")
def list_() -> None:
    """Every console account: name, role, service, how they sign in."""
    from rightsflow.console.accounts import list_users
    from rightsflow.register import Register

    settings, _ = settings_and_catalog()
    register = Register(settings)
    register.create_schema()
    for u in list_users(register):
        state = " (disabled)" if u.disabled else ""
        typer.echo(f"{u.username}\t{u.role}\t{u.service or '-'}\t{u.source}{state}")
