"""``rightsflow console``: the casework console in a browser."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import fail, settings_and_catalog


def console(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
) -> None:
    """Serve the casework console (sign in with an account made by `rightsflow users add`)."""
    from rightsflow.console.app import AssetsMissing
    from rightsflow.console.security import ConfigError
    from rightsflow.console.server import serve

    settings, _ = settings_and_catalog()
    try:
        serve(settings, host=host, port=port)
    except (AssetsMissing, ConfigError) as exc:
        fail(str(exc))
