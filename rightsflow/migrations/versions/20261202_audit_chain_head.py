"""The audit chain's head: one row every append locks first, so concurrent appends form one chain.

Started from the newest entry already in the register (a chain that forked before this revision
still shows its old break when verified; new entries continue from the newest one).

Revision ID: audit_chain_head
Revises: baseline
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "audit_chain_head"
down_revision = "baseline"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    head = op.create_table(
        "audit_chain_head",
        sa.Column("chain", sa.String(20), primary_key=True),
        sa.Column("last_entry_id", sa.Integer(), nullable=True),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    bind = op.get_bind()
    entry = sa.table("audit_entry", sa.column("entry_id"), sa.column("entry_hash"))
    newest = sa.select(entry.c.entry_id, entry.c.entry_hash).order_by(entry.c.entry_id.desc()).limit(1)
    last = bind.execute(newest).first()
    count = bind.execute(sa.select(sa.func.count()).select_from(entry)).scalar() or 0
    op.bulk_insert(
        head,
        [
            {
                "chain": "audit",
                "last_entry_id": last[0] if last else None,
                "last_hash": last[1] if last else "0" * 64,
                "entries": count,
                "updated_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("audit_chain_head")
