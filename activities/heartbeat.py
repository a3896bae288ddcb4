"""Heartbeats for long activities, so a worker that dies mid-activity is noticed in seconds.

Without a heartbeat Temporal waits out the whole start-to-close timeout (ten minutes) before it
gives a killed worker's activity to another worker. :func:`heartbeats` sends one every few seconds
from a helper thread for as long as the activity body runs, whatever it is doing (a store query
per collection, a PDF rendering, a batch of updates), and the workflow gives these activities a
heartbeat timeout of 20 seconds: a dead worker's activity is retried on a live one about twenty
seconds later. The helper thread stops with the activity; a killed process sends nothing. An
``async`` activity gets a task on its event loop instead of a thread.

Each synchronous activity's end is logged with its wall-clock and CPU seconds (the thread's own,
so a busy worker's other activities are not counted in it): an operator reads where a worker's
time goes from its log. The line names the activity type and its attempt, nothing of its input.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import activity

F = TypeVar("F", bound=Callable[..., Any])

INTERVAL_SECONDS = 5.0
log = logging.getLogger("rightsflow.activity")


def heartbeats(fn: F) -> F:
    """Heartbeat every ``INTERVAL_SECONDS`` while the activity runs."""
    if asyncio.iscoroutinefunction(fn):
        return _heartbeats_async(fn)  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not activity.in_activity():
            return fn(*args, **kwargs)
        done = threading.Event()
        context = contextvars.copy_context()  # the activity's context, for activity.heartbeat

        def beat() -> None:
            while not done.wait(INTERVAL_SECONDS):
                try:
                    activity.heartbeat()
                except Exception:  # noqa: BLE001 - a finished or cancelled activity: stop beating
                    return

        thread = threading.Thread(target=context.run, args=(beat,), name="heartbeat", daemon=True)
        activity.heartbeat()
        thread.start()
        started, cpu_started = time.monotonic(), time.thread_time()
        outcome = "failed"
        try:
            result = fn(*args, **kwargs)
            outcome = "finished"
            return result
        finally:
            done.set()
            thread.join(timeout=INTERVAL_SECONDS)
            info = activity.info()
            log.info(
                "%s %s in %.3f s (%.3f s CPU), attempt %d",
                info.activity_type,
                outcome,
                time.monotonic() - started,
                time.thread_time() - cpu_started,
                info.attempt,
            )

    return wrapper  # type: ignore[return-value]


def _heartbeats_async(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not activity.in_activity():
            return await fn(*args, **kwargs)

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(INTERVAL_SECONDS)

        beating = asyncio.create_task(beat())
        try:
            return await fn(*args, **kwargs)
        finally:
            beating.cancel()

    return wrapper
