"""The embedded (laptop) stack now lives in :mod:`rightsflow.embedded`; this module keeps the names
that callers import from ``rightsflow.stack`` working."""

from __future__ import annotations

from rightsflow.embedded import *  # noqa: F403 - re-export the public names
from rightsflow.embedded import __all__  # noqa: F401
