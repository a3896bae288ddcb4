"""Requests assigned to a caseworker: the console user name a request is assigned to.

A user name of the council's own staff (a console account), never personal data of the person
the request is about. Empty for every request filed before this revision: nobody is assigned.

Revision ID: request_assignee
Revises: 0d1643a491b2
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "request_assignee"
down_revision = "0d1643a491b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("rights_request")}
    if "assignee" not in columns:
        with op.batch_alter_table("rights_request") as batch:
            batch.add_column(sa.Column("assignee", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rights_request") as batch:
        batch.drop_column("assignee")
