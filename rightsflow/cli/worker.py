from __future__ import annotations


def worker() -> None:
    """Run the worker against TEMPORAL_ADDRESS (same as ``python worker.py``)."""
    from rightsflow.worker import main

    main()
