"""Serve the console with uvicorn (``rightsflow console`` and ``python -m rightsflow.console``)."""

from __future__ import annotations

import argparse
import logging

from rightsflow.config import Settings, load_settings

DEFAULT_PORT = 8080


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    import uvicorn

    from .app import create_app

    settings = settings or load_settings()
    app = create_app(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"Console  http://{host}:{port}", flush=True)
    # proxy_headers: behind the council's reverse proxy, the client address (for the sign-in
    # rate limit) and the scheme come from X-Forwarded-* sent by the addresses it trusts.
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True, server_header=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rightsflow.console", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    serve(host=args.host, port=args.port)
