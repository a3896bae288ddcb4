"""What the request service raises: one line a person can act on, and the exit code the CLI
gives it (2 for a refusal of the input, 1 for a service that could not be reached)."""

from __future__ import annotations


class RequestError(Exception):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refused(RequestError):
    """The input was refused, or the workflow refused the decision; nothing was written."""

    exit_code = 2


class NotFound(RequestError):
    exit_code = 2


class Unavailable(RequestError):
    """Temporal, the register or the archive could not be reached."""


class KeysMissing(RequestError):
    """Production mode and a key is not provided (the message says which and how)."""
