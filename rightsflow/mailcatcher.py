"""A local SMTP server that keeps every message instead of delivering it (aiosmtpd).

The embedded stack runs it so letters and staff reminders can be read on a laptop: each message
is written to a Maildir-style folder (one ``.eml`` file each, readable by its owner only) and kept
in memory for tests. Nothing leaves the machine.

    python -m rightsflow.mailcatcher --port 8025 --folder .rightsflow/mail
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw: bytes = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            n = len(self.messages)
        if self.folder is not None:
            path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{n:05d}.eml"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
        return "250 Message accepted for delivery"


class MailCatcher:
    """Start with ``start()``; ``url`` is what RIGHTSFLOW_SMTP_URL should be; ``messages`` the mail."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, folder: Path | None = None) -> None:
        self.handler = _Keep(folder)
        if port == 0:
            from socket import socket

            with socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.controller = Controller(self.handler, hostname=host, port=port)
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> MailCatcher:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Keep every message sent to this SMTP server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    catcher = MailCatcher(args.host, args.port, args.folder).start()
    print(f"mail catcher on {catcher.url}: messages in {args.folder}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()


if __name__ == "__main__":
    main()
