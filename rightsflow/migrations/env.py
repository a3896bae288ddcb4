"""Alembic's environment for the register: run on the connection rightsflow.migrations hands it."""

from __future__ import annotations

from alembic import context

from rightsflow.migrations import register_metadata

connection = context.config.attributes["connection"]
# The models are only needed to compare (autogenerate, check); an upgrade runs the scripts alone.
comparing = bool(context.config.attributes.get("compare"))
context.configure(
    connection=connection,
    target_metadata=register_metadata() if comparing else None,
    # SQLite cannot ALTER most things in place: batch mode copies the table, on SQLite only.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=False,
)
with context.begin_transaction():
    context.run_migrations()
