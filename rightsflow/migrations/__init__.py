"""Migrations of the register's schema (Alembic), run in place by ``up``, ``worker`` and the CLI.

The register (requests, subjects, decisions, the audit log, retention's disposal, progress and
review tables, console accounts, ...) is upgraded to the newest revision whenever rightsflow opens
it (:meth:`rightsflow.register.Register.create_schema` calls :func:`upgrade_register`), on SQLite,
PostgreSQL and MariaDB alike. A register made by an earlier release, which had its tables created
by ``create_all`` and no ``alembic_version`` table, is brought up to date the same way: the baseline
revision creates what it lacks and the later revisions run after it. Nothing is dropped.

Changing the register's schema (a new table or column):

1. change the model (``rightsflow/register.py``, or your module's model on ``RegisterBase``); if
   the model lives in a new module, add that module to :data:`MODEL_MODULES` below;
2. ``python -m rightsflow.migrations new "console accounts"`` writes
   ``versions/<date>_<rev>_console_accounts.py`` chained after the current head, with the
   operations Alembic's autogenerate finds (review them: a new NOT NULL column on a table that
   has rows needs a ``server_default``);
3. ``python -m rightsflow.migrations check`` (and ``tests/test_migrations.py``) fails while the
   models and the newest revision disagree, so a column added without a revision is caught.

Revisions are plain Alembic scripts (``op.add_column``, ``op.create_table``; on SQLite, ALTERs
other than adding a column go through ``op.batch_alter_table``). If two revisions end up with the
same ``down_revision`` (two heads), ``python -m rightsflow.migrations merge`` joins them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
BASELINE = "baseline"

#: Modules whose models live on the register's metadata (imported before autogenerate compares).
MODEL_MODULES: list[str] = [
    "rightsflow.register",
    "rightsflow.retention",
    "rightsflow.console.accounts",
    "rightsflow.console.holds",
]


class RegisterMigrationError(RuntimeError):
    """The register could not be brought to the current schema."""


def register_metadata() -> MetaData:
    """The register's metadata with every model module imported (what the newest revision must match)."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A module named here but not (yet) in this checkout holds no tables to compare.
            if exc.name != name:
                raise
    from rightsflow.register import RegisterBase

    return RegisterBase.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


_heads: tuple[str, ...] | None = None
_heads_lock = threading.Lock()


def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) of the shipped scripts (read once per process)."""
    global _heads
    with _heads_lock:
        if _heads is None:
            _heads = tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))
        return _heads


def current_revisions(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        return current_revisions(conn) == head_revisions()


def _safe_url(engine: Engine) -> str:
    return make_url(str(engine.url)).render_as_string(hide_password=True)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection holding the register's migration lock: two processes starting together (the
    worker and a CLI command) must not both create the same table. PostgreSQL: an advisory lock in
    the migration's transaction (its DDL is transactional); MariaDB: a named lock; SQLite: a lock
    file beside the database."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(7262601)"))
            yield conn
    elif dialect in ("mysql", "mariadb"):
        with engine.connect() as conn:
            got = conn.execute(text("SELECT GET_LOCK('rightsflow_register_migrations', 300)")).scalar()
            if got != 1:
                raise RegisterMigrationError("another process has been upgrading the register for 5 minutes")
            try:
                yield conn
                conn.commit()
            finally:
                conn.execute(text("SELECT RELEASE_LOCK('rightsflow_register_migrations')"))
    else:
        database = make_url(str(engine.url)).database
        if not database or database == ":memory:":
            with engine.begin() as conn:
                yield conn
            return
        import fcntl

        lock_path = Path(database).with_name(Path(database).name + ".migrating")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with engine.begin() as conn:
                yield conn
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def upgrade_register(engine: Engine) -> bool:
    """Bring the register at ``engine`` to the newest revision. True if anything ran.

    Cheap when the register is already current (one query), so every opening can call it.
    """
    try:
        if is_current(engine):
            return False
        with _migration_lock(engine) as conn:
            if current_revisions(conn) == head_revisions():
                return False  # another process did it while we waited for the lock
            command.upgrade(alembic_config(conn), "heads")
        return True
    except RegisterMigrationError:
        raise
    except Exception as exc:
        raise RegisterMigrationError(
            f"the register at {_safe_url(engine)} could not be upgraded to the current schema "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else 'no detail'})"
        ) from exc


def schema_differences(engine: Engine) -> list[object]:
    """What Alembic's autogenerate finds between the models and the register at ``engine``."""
    from alembic.autogenerate import compare_metadata

    metadata = register_metadata()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))
