"""``rightsflow up`` / ``rightsflow down``: the embedded stack (Temporal dev server, SeaweedFS S3,
codec endpoint, worker) under RIGHTSFLOW_HOME."""

from __future__ import annotations

from typing import Annotated

import typer

from rightsflow.config import Settings, load_settings


def up(
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", "-d", help="Start everything in the background and return; stop with `down`."
        ),
    ] = False,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Also start the rightsflow worker.")
    ] = True,
    seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Seed the demo data if empty.")] = True,
    codec_port: Annotated[
        int, typer.Option("--codec-port", help="Port of the codec endpoint the Web UI decodes through.")
    ] = 8081,
    demo: Annotated[
        bool,
        typer.Option("--demo/--no-demo", help="Once up, take a demo SAR from filing to a delivered pack."),
    ] = True,
) -> None:
    """Start the embedded stack: Temporal dev server, SeaweedFS S3, codec endpoint and worker.

    Once everything answers it registers the daily retention sweep schedule and (unless
    --no-demo) runs the main job: a subject access request for a demo child known to two
    services, from filing to a delivered pack.
    """
    from rightsflow.keys import KeyMaterialError
    from rightsflow.migrations import RegisterMigrationError
    from rightsflow.s3 import ArchiveBucketError
    from rightsflow.stack import StackError, start_stack

    _default_council_for_the_demo()
    settings = load_settings()
    try:
        stack = start_stack(
            settings,
            foreground=not detach,
            with_worker=worker,
            codec_port=codec_port,
            seed=seed,
            on_ready=lambda ready: _when_ready(ready, demo=demo and worker and seed),
        )
    except (StackError, ArchiveBucketError, KeyMaterialError, RegisterMigrationError) as exc:
        typer.echo(f"rightsflow: {exc}", err=True)
        raise typer.Exit(1) from None
    if stack.failed:
        raise typer.Exit(1)
    if detach:
        typer.echo("running in the background; stop it with `rightsflow down`")


# The council the demo data is mostly for: requests filed on the laptop stack (the console's form,
# a command without --controller) go to it unless RIGHTSFLOW_DEFAULT_CONTROLLER says otherwise.
DEMO_COUNCIL = "lewisham"


def _default_council_for_the_demo() -> None:
    """Set RIGHTSFLOW_DEFAULT_CONTROLLER for this process and the stack's children (they inherit
    the environment) when it is unset and the catalogue has the demo council."""
    import os

    from rightsflow.catalog import CatalogError, load_catalog

    if os.environ.get("RIGHTSFLOW_DEFAULT_CONTROLLER"):
        return
    try:
        catalog = load_catalog(load_settings().catalog_dir)
    except CatalogError:
        return  # the stack names the broken file when it loads it
    if len(catalog.controllers) > 1 and DEMO_COUNCIL in catalog.controllers:
        os.environ["RIGHTSFLOW_DEFAULT_CONTROLLER"] = DEMO_COUNCIL


def _when_ready(settings: Settings, *, demo: bool) -> None:
    """Register the retention schedule, then run the demo SAR; a failure here is reported, not fatal."""
    import asyncio

    from rightsflow.codec import connect_client

    from .sweep import ensure_retention_schedule

    async def schedule() -> str:
        return await ensure_retention_schedule(await connect_client(settings), settings)

    try:
        typer.echo(f"retention sweep schedule registered: {asyncio.run(schedule())} (daily, 02:30 London)")
    except Exception as exc:  # the stack stays up; the operator can run `rightsflow schedule`
        typer.echo(f"rightsflow: could not register the retention schedule: {type(exc).__name__}", err=True)
    if not demo:
        return
    from .sar import run_sar_demo

    try:
        run_sar_demo(settings, echo=typer.echo)
    except Exception as exc:
        typer.echo(f"rightsflow: the demo SAR did not complete: {type(exc).__name__}: {exc}", err=True)


def down() -> None:
    """Stop the embedded stack started by `rightsflow up` (reads <home>/run/stack.json)."""
    from rightsflow.stack import stop_stack

    settings = load_settings()
    stopped = stop_stack(settings)
    if stopped:
        typer.echo(f"stopped: {', '.join(stopped)}")
    else:
        typer.echo(f"no rightsflow stack is running under {settings.home}")


def codec_server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    cors_origin: Annotated[
        str, typer.Option(help="Comma-separated Web UI origins allowed to call it.")
    ] = "http://localhost:8233,http://127.0.0.1:8233",
) -> None:
    """Serve the remote codec endpoint alone (for a Web UI in front of a production cluster).

    It decodes only for callers showing RIGHTSFLOW_CODEC_TOKEN (else the token generated under
    RIGHTSFLOW_HOME/keys) as a bearer token or its sign-in cookie; others get 401.
    """
    from rightsflow.codec import main

    raise typer.Exit(main(["--host", host, "--port", str(port), "--cors-origin", cors_origin]))
