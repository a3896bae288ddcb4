"""The demo receiving authority's intake worker, as one of the processes ``rightsflow up`` starts.

A transfer needs a second authority to hand the family to. On a laptop that is Camden Family
Support (``catalog/camden_family_support.yaml``, its own store and schema): the worker that runs
Camden's TransferIntake workflows is a second ``rightsflow.worker`` on Camden's intake task queue,
``rightsflow-intake-camden``. It shares the stack's register, bucket and codec key (one laptop,
one Temporal namespace); a real receiving authority runs its own (see the README).

So, with ``rightsflow up`` running::

    rightsflow transfer --family WH0000004 --from westminster_family_hub --to camden --wait --json
"""

from __future__ import annotations

import signal
import sys

from rightsflow.embedded.extras import ExtraProcess

DEMO_RECEIVER = "camden_family_support"


def _queue(code: str) -> str:
    from rightsflow.transfer_exchange import intake_task_queue

    return intake_task_queue(code)


def demo_intake() -> ExtraProcess | None:
    """Camden's intake worker, or None where the catalogue has no demo receiver."""
    from rightsflow.catalog import CatalogError, load_catalog
    from rightsflow.config import load_settings

    try:
        catalog = load_catalog(load_settings().catalog_dir)
    except CatalogError:
        return None  # `up` reports the catalogue's errors itself
    if DEMO_RECEIVER not in catalog.ids:
        return None
    cat = catalog[DEMO_RECEIVER]
    queue = _queue(cat.authority_code)
    return ExtraProcess(
        name=f"intake-{cat.authority_code}",
        label=f"Intake ({cat.authority})",
        argv=lambda ctx: [sys.executable, "-m", "rightsflow.worker"],
        env=lambda ctx: {"RIGHTSFLOW_TASK_QUEUE": queue},
        address=lambda ctx: f"task queue {queue} ({cat.name}, the demo receiving authority)",
        info={"service": DEMO_RECEIVER, "task_queue": queue},
        stop_signal=signal.SIGINT,  # the worker shuts down gracefully on KeyboardInterrupt
    )
