"""Controllers, requesters and letters: the council a request was made to, who asks (sealed),
every letter rendered for a request and every delivery of it (email, post, or why not sent).

References only: letters and deliveries hold opaque ids, S3 keys and message ids; the requester's
name, email and address are AES-GCM sealed like a subject's identifiers.

Revision ID: letters_and_requester
Revises: baseline
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "letters_and_requester"
down_revision = "baseline"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    columns = {c["name"] for c in insp.get_columns("rights_request")}
    wanted = [
        sa.Column("controller", sa.String(40), nullable=True),
        sa.Column("requester_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("requester_key_id", sa.String(64), nullable=True),
    ]
    missing = [c for c in wanted if c.name not in columns]
    if missing:
        with op.batch_alter_table("rights_request") as batch:
            for col in missing:
                batch.add_column(col)
    tables = set(insp.get_table_names())
    if "letter" not in tables:
        op.create_table(
            "letter",
            sa.Column("letter_id", sa.String(40), primary_key=True),
            sa.Column("request_id", sa.String(40), nullable=False),
            sa.Column("kind", sa.String(40), nullable=False),
            sa.Column("addressee", sa.String(20), nullable=False),
            sa.Column("recipient", sa.String(200), nullable=True),
            sa.Column("channel", sa.String(10), nullable=False),
            sa.Column("html_key", sa.String(300), nullable=False),
            sa.Column("pdf_key", sa.String(300), nullable=False),
            sa.Column("pdf_sha256", sa.String(64), nullable=False),
            sa.Column("attachments", sa.Text(), nullable=False),
            sa.Column("created_at", Timestamp, nullable=False),
        )
        op.create_index("ix_letter_request_id", "letter", ["request_id"])
    if "letter_delivery" not in tables:
        op.create_table(
            "letter_delivery",
            sa.Column("delivery_id", sa.String(60), primary_key=True),
            sa.Column("letter_id", sa.String(40), sa.ForeignKey("letter.letter_id"), nullable=False),
            sa.Column("channel", sa.String(10), nullable=False),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("at", Timestamp, nullable=False),
            sa.Column("message_id", sa.String(200), nullable=True),
            sa.Column("batch_key", sa.String(300), nullable=True),
            sa.Column("note", sa.String(200), nullable=True),
        )
        op.create_index("ix_letter_delivery_letter_id", "letter_delivery", ["letter_id"])


def downgrade() -> None:
    op.drop_index("ix_letter_delivery_letter_id", table_name="letter_delivery")
    op.drop_table("letter_delivery")
    op.drop_index("ix_letter_request_id", table_name="letter")
    op.drop_table("letter")
    with op.batch_alter_table("rights_request") as batch:
        for name in ("requester_key_id", "requester_sealed", "controller"):
            batch.drop_column(name)
