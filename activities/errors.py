"""Errors retrying cannot fix, raised as non-retryable application errors.

An activity decorated with :func:`fails_fast` turns a missing catalogue entry, an invalid value or a
store whose schema differs from its catalogue entry into a non-retryable ``ApplicationError`` whose
type is a key of ``rightsflow.contracts.attention.ERROR_TYPES``; the workflow then records the
request as needing attention instead of retrying without end. The message names the step and the
kind of problem only: the original exception text can hold a value (a date of birth, an NHS
number), so it goes nowhere, not even the log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import NoSuchColumnError, NoSuchTableError, ProgrammingError
from sqlalchemy.exc import OperationalError as SqlOperationalError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from rightsflow.catalog import Catalog, ServiceCatalog

log = logging.getLogger("rightsflow.activities")

F = TypeVar("F", bound=Callable[..., Any])

# Store errors that mean "the table or column is not there", by dialect (SQLite, PostgreSQL, MariaDB).
_SCHEMA_MARKERS = ("no such table", "no such column", "does not exist", "unknown column", "doesn't exist")


def fail(kind: str, what: str) -> ApplicationError:
    return ApplicationError(what, type=kind, non_retryable=True)


def service_entry(catalog: Catalog, service: str) -> ServiceCatalog:
    """The catalogue entry of ``service``, or a non-retryable ``UnknownService``."""
    if service not in catalog.services:
        raise fail("UnknownService", "the request names a service that is not in the catalogue")
    return catalog[service]


def _classify(exc: BaseException) -> str | None:
    if isinstance(exc, NoSuchTableError | NoSuchColumnError):
        return "SchemaMismatch"
    if isinstance(exc, ProgrammingError | SqlOperationalError):
        text = str(getattr(exc, "orig", exc)).lower()
        return "SchemaMismatch" if any(m in text for m in _SCHEMA_MARKERS) else None
    if isinstance(exc, KeyError):
        return "MissingCatalogueEntry"
    if isinstance(exc, ValueError):
        return "InvalidValue"
    return None


def fails_fast(fn: F) -> F:
    """Raise errors that retrying cannot fix as non-retryable (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ApplicationError:
            raise
        except Exception as exc:
            kind = _classify(exc)
            if kind is None:
                raise  # a store or S3 outage: Temporal retries it
            name = activity.info().activity_type if activity.in_activity() else fn.__name__
            log.warning("%s cannot be retried: %s (%s)", name, kind, type(exc).__name__)
            raise fail(kind, f"{name}: {kind}") from None

    return wrapper  # type: ignore[return-value]
