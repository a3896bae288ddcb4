"""The local mail catcher as one of the processes ``rightsflow up`` starts on a laptop.

Every letter and staff reminder the worker emails lands in ``<home>/mail/`` as an ``.eml`` file
(the worker is given ``RIGHTSFLOW_SMTP_URL`` pointing at it). Skipped when RIGHTSFLOW_SMTP_URL is
already set: then mail goes to the relay it names.
"""

from __future__ import annotations

import sys

from rightsflow.embedded.extras import ExtraProcess

MAILCATCHER = ExtraProcess(
    name="mail",
    label="Mail catcher",
    port=8025,
    port_env="RIGHTSFLOW_MAILCATCHER_PORT",
    argv=lambda ctx: [
        sys.executable,
        "-m",
        "rightsflow.mailcatcher",
        "--port",
        str(ctx.port),
        "--folder",
        str(ctx.home / "mail"),
    ],
    exports=lambda ctx: {"RIGHTSFLOW_SMTP_URL": f"smtp://127.0.0.1:{ctx.port}"},
    address=lambda ctx: f"smtp://127.0.0.1:{ctx.port}  (messages in {ctx.home / 'mail'})",
    enabled=lambda ctx: not ctx.env.get("RIGHTSFLOW_SMTP_URL"),
    before_worker=True,
)
