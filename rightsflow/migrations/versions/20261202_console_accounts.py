"""Console accounts: who may sign in to the casework console, their role and (a service lead's)
service. Local accounts hold an argon2 hash; accounts from the council's identity provider none.

Revision ID: console_accounts
Revises: needs_attention
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "console_accounts"
down_revision = "needs_attention"
branch_labels = None
depends_on = None

Timestamp = (
    sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql")
)


def upgrade() -> None:
    if "console_user" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "console_user",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("console_user")
