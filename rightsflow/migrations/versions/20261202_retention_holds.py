"""Holds placed from the console: who placed a legal hold or an inquiry hold on a family's records,
when and why, and who lifted it. The hold itself is the row in the service's own store that the
retention sweep honours; this table is the council's record of the decision.

Revision ID: retention_holds
Revises: request_assignee
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "retention_holds"
down_revision = "request_assignee"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    if "retention_hold" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "retention_hold",
        sa.Column("hold_id", sa.String(40), primary_key=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(64), nullable=False),
        sa.Column("hold_kind", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(80), nullable=False),
        sa.Column("placed_at", Timestamp, nullable=False),
        sa.Column("lifted_by", sa.String(80), nullable=True),
        sa.Column("lifted_at", Timestamp, nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_retention_hold_service", "retention_hold", ["service"])


def downgrade() -> None:
    op.drop_index("ix_retention_hold_service", table_name="retention_hold")
    op.drop_table("retention_hold")
