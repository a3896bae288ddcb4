"""Requests that need attention: the reason code a request is waiting on the DPO for.

A request whose step failed in a way retrying cannot fix (a service not in the catalogue, a value
a store cannot hold, a store whose tables differ from its catalogue entry) has status
``needs_attention`` and its reason code here (rightsflow.contracts.attention.REASONS); never
personal data. Cleared when the DPO retries.

Revision ID: needs_attention
Revises: baseline
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "needs_attention"
down_revision = "baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("rights_request")}
    if "attention" not in columns:
        with op.batch_alter_table("rights_request") as batch:
            batch.add_column(sa.Column("attention", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rights_request") as batch:
        batch.drop_column("attention")
