from __future__ import annotations

from .common import fail


def worker() -> None:
    """Run the worker against TEMPORAL_ADDRESS (same as ``python worker.py``)."""
    from rightsflow.keys import KeyMaterialError
    from rightsflow.worker import main

    try:
        main()
    except KeyMaterialError as exc:  # production keys not provided: say which and how
        fail(str(exc), code=1)
