"""``python -m rightsflow.migrations new "MESSAGE" | check | merge | upgrade``: register revisions.

``new`` upgrades a scratch SQLite register to the current head, lets Alembic's autogenerate
compare it with the models and writes the revision file under ``versions/``; ``check`` says whether
the models and the head agree (exit 1 if not); ``merge`` joins two heads; ``upgrade`` upgrades the
register of the current settings (``RIGHTSFLOW_REGISTER_URL``) in place.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from rightsflow.migrations import (
    alembic_config,
    head_revisions,
    register_metadata,
    schema_differences,
    upgrade_register,
)


def describe(diff: object) -> str:
    """One line for one autogenerate difference, e.g. ``rights_request: add column controller``."""
    if isinstance(diff, list):  # column modifications come as a list of tuples
        return "; ".join(describe(d) for d in diff)
    if not isinstance(diff, tuple) or not diff:
        return str(diff)
    kind = str(diff[0]).replace("_", " ")
    for item in diff[1:]:
        name = getattr(item, "name", None)
        table = getattr(item, "table", None)
        if name and table is not None and getattr(table, "name", None):
            return f"{table.name}: {kind} {name}"
        if name:
            return f"{kind} {name}"
    return f"{kind} {' '.join(str(x) for x in diff[1:] if isinstance(x, str))}"


def _scratch_at_head(folder: str):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{Path(folder) / 'register.db'}")
    upgrade_register(engine)
    return engine


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("new", "check", "merge", "upgrade"):
        print(__doc__.strip())
        return 2
    what = argv[0]
    if what == "upgrade":
        from rightsflow.config import load_settings
        from rightsflow.db import engine_for_url

        ran = upgrade_register(engine_for_url(load_settings().register_url))
        print("register upgraded to the current schema" if ran else "register already current")
        return 0
    if what == "merge":
        heads = head_revisions()
        if len(heads) < 2:
            print(f"one head ({', '.join(heads)}): nothing to merge")
            return 0
        command.merge(alembic_config(), list(heads), message="merge heads")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        engine = _scratch_at_head(folder)
        if what == "check":
            diffs = schema_differences(engine)
            for diff in diffs:
                print(f"  {describe(diff)}")
            if diffs:
                print('the models differ from the newest revision: python -m rightsflow.migrations new "..."')
            else:
                print("models and migrations agree")
            return 1 if diffs else 0
        if len(argv) < 2:
            print('usage: python -m rightsflow.migrations new "what changes"')
            return 2
        register_metadata()
        with engine.begin() as conn:
            cfg = alembic_config(conn)
            cfg.attributes["compare"] = True
            script = command.revision(cfg, message=argv[1], autogenerate=True)
        path = getattr(script, "path", None)
        print(f"wrote {path}" if path else "wrote the revision")
        return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
