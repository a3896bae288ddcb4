"""The console as one of the processes ``rightsflow up`` starts on a laptop."""

from __future__ import annotations

import sys

from rightsflow.embedded.extras import ExtraProcess, http_ready

CONSOLE = ExtraProcess(
    name="console",
    label="Console",
    port=8080,
    port_env="RIGHTSFLOW_CONSOLE_PORT",
    argv=lambda ctx: [sys.executable, "-m", "rightsflow.console", "--port", str(ctx.port)],
    ready=http_ready("/health"),
)
