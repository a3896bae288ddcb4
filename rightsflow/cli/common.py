"""Helpers shared by the commands: settings, catalogue, one async runner, clear errors instead of
tracebacks, and a clean end of the process for every command that talked to Temporal."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from rightsflow.catalog import Catalog, CatalogError, load_catalog
from rightsflow.config import Settings, load_settings

T = TypeVar("T")
# How long a finished command waits for the Temporal core's threads to end before it leaves anyway.
CORE_THREADS_GRACE_SECONDS = 2.0


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr starting ``rightsflow: `` and the exit code (2: the input was refused)."""
    typer.echo(f"rightsflow: {message}", err=True)
    raise typer.Exit(code)


class OneLineErrors(TyperGroup):
    """The command group: a usage error (a bad option value, an unknown option or command) is one
    line on stderr starting ``rightsflow: ``, exit 2, instead of Typer's framed usage box, so a
    script or log reader sees a refusal the same way as every other."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: typer.Context) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as exc:  # the base of Typer's (vendored click's) usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise  # no arguments at all: the help text is the answer
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo(f"rightsflow: {one_line(message)}{hint}", err=True)
        raise typer.Exit(getattr(exc, "exit_code", 2)) from None


def settings_and_catalog() -> tuple[Settings, Catalog]:
    settings = load_settings()
    try:
        return settings, load_catalog(settings.catalog_dir)
    except CatalogError as exc:
        # One line, naming the file: scripts and log viewers read an error per line.
        fail(f"the catalogue is invalid: {one_line(str(exc))}", 3)


def council(settings: Settings, catalog: Catalog, controller: str | None) -> str:
    """The council a filing is made to (``--controller``, the only one, or
    RIGHTSFLOW_DEFAULT_CONTROLLER); with several and none chosen, one line and exit 2."""
    from rightsflow.request_checks import check_controller
    from rightsflow.request_service import Refused

    if controller:
        return controller  # a code named is checked with the requester's details (resolve_parties)
    try:
        return check_controller(catalog, controller, settings.default_controller)
    except Refused as exc:
        fail(exc.message, exc.exit_code)


def one_line(message: str) -> str:
    """A message folded onto one line (click and validation messages may run over several)."""
    return " ".join(message.split())


def is_terminal() -> bool:
    return sys.stdout.isatty()


def operator() -> str:
    """Who runs this command, for the audit log: ``cli:<operating-system user>``."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container with an arbitrary uid)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}"


def actor(by: str | None) -> str:
    """Who decides, for the audit log: the operating-system user, or whom ``--by`` names (kept for
    scripts that pass it; ``dpo``, the old default, means the operator)."""
    return f"cli:{by.strip()}" if by and by.strip() and by.strip() != "dpo" else operator()


def run(awaitable: Awaitable[T]) -> T:
    """Run one coroutine of the request service (or any Temporal call) to completion."""

    async def go() -> T:
        return await awaitable

    return asyncio.run(go())


def call(awaitable: Awaitable[T]) -> T:
    """Run a request-service call; its refusals and failures become one line and an exit code."""
    from rightsflow.keys import KeyMaterialError
    from rightsflow.request_service import RequestError

    try:
        return run(awaitable)
    except RequestError as exc:
        fail(exc.message, exc.exit_code)
    except KeyMaterialError as exc:
        fail(str(exc), 1)


def temporal_call(settings: Settings, make: Callable[[], Awaitable[T]], *, missing: str) -> T:
    """Run a direct Temporal call (a start, update or query); a refused update, a workflow that is
    not there (``missing`` says which) or an unreachable server becomes one line and an exit code."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    try:
        return asyncio.run(make())
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        fail(f"refused: {getattr(cause, 'message', None) or str(cause or exc)}")
    except RPCError as exc:
        if "not found" in str(exc).lower():
            fail(missing)
        fail(f"Temporal at {settings.temporal_address} did not answer ({type(exc).__name__})", code=1)
    except (OSError, RuntimeError) as exc:
        fail(f"cannot reach Temporal at {settings.temporal_address} ({type(exc).__name__})", code=1)


def env_number(name: str, default: float) -> float:
    """A numeric setting from the environment; a value that is not a number is a one-line error."""
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        fail(f"{name} must be a number")


async def temporal_client(settings: Settings) -> Any:
    """The encrypting Temporal client for these settings."""
    from rightsflow.codec import connect_client

    return await connect_client(settings)


def request_service(settings: Settings | None = None, catalog: Catalog | None = None) -> Any:
    """The request service on these settings (loaded from the environment when not given)."""
    from rightsflow.request_service import RequestService

    return RequestService(settings or load_settings(), catalog)


# -- the end of the process ---------------------------------------------------------------------------
#
# temporalio's client runs on a Rust (Tokio) thread pool, the "core runtime", created on first use
# and kept in a module global for the life of the process. If it is still alive when the
# interpreter finalises, one of its threads can take the GIL of a dying interpreter to complete a
# future or drop a Python object, and CPython aborts the process (exit 134, "PyGILState_Release:
# thread state ... must be current when releasing") after the command has done its work, so a
# script retrying on the exit code repeats it. The cure is to shut the runtime down while the
# interpreter is whole: drop the default runtime and every client that holds it, which joins the
# pool's threads (the SDK releases the GIL while it does), and only then let Python finalise.


def _core_threads() -> int:
    """How many of the Temporal core's threads are alive (Linux names them ``tokio-…``)."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return -1  # unknown on this platform
    alive = 0
    for task in tasks.iterdir():
        try:
            if (task / "comm").read_text().startswith("tokio-"):
                alive += 1
        except OSError:  # the thread ended while we looked
            continue
    return alive


def shut_down_temporal_runtime() -> bool:
    """Shut the Temporal core runtime down now; True when none of its threads is left."""
    module = sys.modules.get("temporalio.runtime")
    if module is None:
        return True  # this command never touched Temporal
    ref = getattr(module, "_runtime_ref", None)
    runtime = getattr(ref, "_default_runtime", None)
    if runtime is not None:
        import weakref

        gone = weakref.ref(runtime)
        del runtime
        # No public way to forget the default runtime; assigning the slot is what set_default does.
        ref._default_runtime = None  # type: ignore[union-attr]
        gc.collect()  # clients and handles left in finished coroutines' frames
        if gone() is not None:
            return False
    # Dropping the runtime asks its threads to stop; they end a moment later, not at once.
    deadline = time.monotonic() + CORE_THREADS_GRACE_SECONDS
    while _core_threads() > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    return _core_threads() <= 0


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` once the Temporal runtime is down.

    Should something still hold the runtime (a client kept in a global), the process leaves without
    finalising, after flushing its output: the command's work is done and its exit code stands.
    """
    if shut_down_temporal_runtime():
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
