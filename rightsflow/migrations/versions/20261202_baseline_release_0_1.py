"""Baseline: the register as the first release left it (tables created by create_all).

A register made by an earlier release has these tables but no ``alembic_version``, and may lack
whole tables (the retention tables were only created once a sweep had run) or columns added to
a model after its tables were first created (the review reminders). So this revision creates
what is missing and leaves what is there: a fresh register gets every table, an old one gets
only its gaps. The definitions are a frozen copy, never the live models.

Revision ID: baseline
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "baseline"
down_revision = None
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _tables(md: sa.MetaData) -> list[sa.Table]:
    return [
        sa.Table(
            "register_subject",
            md,
            sa.Column("subject_ref", sa.String(40), primary_key=True),
            sa.Column("nhs_index", sa.String(64), nullable=True, index=True),
            sa.Column("upn_index", sa.String(64), nullable=True, index=True),
            sa.Column("name_dob_index", sa.String(64), nullable=True, index=True),
            sa.Column("sealed_identifiers", sa.LargeBinary(), nullable=False),
            sa.Column("key_id", sa.String(64), nullable=False),
            sa.Column("created_at", Timestamp, nullable=False),
        ),
        sa.Table(
            "rights_request",
            md,
            sa.Column("request_id", sa.String(40), primary_key=True),
            sa.Column("request_type", sa.String(30), nullable=False),
            sa.Column(
                "subject_ref",
                sa.String(40),
                sa.ForeignKey("register_subject.subject_ref"),
                nullable=False,
                index=True,
            ),
            sa.Column("requester", sa.String(30), nullable=False),
            sa.Column("received_on", sa.Date(), nullable=True),
            sa.Column("clock_start", sa.Date(), nullable=True),
            sa.Column("deadline", sa.Date(), nullable=True),
            sa.Column("status", sa.String(40), nullable=False),
            sa.Column("stage", sa.String(60), nullable=True),
            sa.Column("workflow_id", sa.String(80), nullable=True),
            sa.Column("created_at", Timestamp, nullable=False),
            sa.Column("updated_at", Timestamp, nullable=False),
            sa.Column("closed_at", Timestamp, nullable=True),
            sa.Index("ix_rights_request_open", "status", "deadline"),
        ),
        sa.Table(
            "request_match",
            md,
            sa.Column(
                "request_id", sa.String(40), sa.ForeignKey("rights_request.request_id"), primary_key=True
            ),
            sa.Column("service", sa.String(64), primary_key=True),
            sa.Column("record_key", sa.String(64), primary_key=True),
            sa.Column("strength", sa.String(30), nullable=False),
            sa.Column("confirmed", sa.Boolean(), nullable=False),
            sa.Index("ix_request_match_service_key", "service", "record_key"),
        ),
        sa.Table(
            "request_decision",
            md,
            sa.Column("decision_id", sa.String(60), primary_key=True),
            sa.Column(
                "request_id",
                sa.String(40),
                sa.ForeignKey("rights_request.request_id"),
                nullable=False,
                index=True,
            ),
            sa.Column("service", sa.String(64), nullable=True),
            sa.Column("decision", sa.String(40), nullable=False),
            sa.Column("legal_basis", sa.String(200), nullable=True),
            sa.Column("decided_by", sa.String(80), nullable=False),
            sa.Column("decided_at", Timestamp, nullable=False),
        ),
        sa.Table(
            "audit_entry",
            md,
            sa.Column("entry_id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
            sa.Column("at", Timestamp, nullable=False),
            sa.Column("actor", sa.String(80), nullable=False),
            sa.Column("action", sa.String(80), nullable=False),
            sa.Column("request_id", sa.String(40), nullable=True, index=True),
            sa.Column("subject_ref", sa.String(40), nullable=True),
            sa.Column("service", sa.String(64), nullable=True),
            sa.Column("legal_basis", sa.String(200), nullable=True),
            sa.Column("detail", sa.Text(), nullable=False),
            sa.Column("previous_hash", sa.String(64), nullable=False),
            sa.Column("entry_hash", sa.String(64), nullable=False),
        ),
        sa.Table(
            "retention_disposal",
            md,
            sa.Column("service", sa.String(64), primary_key=True),
            sa.Column("household_ref", sa.String(64), primary_key=True),
            sa.Column("sweep_id", sa.String(80), nullable=False),
            sa.Column("rule_id", sa.String(64), nullable=False),
            sa.Column("action", sa.String(30), nullable=False),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("due_on", sa.Date(), nullable=False),
            sa.Column("disposed_on", sa.Date(), nullable=False),
            sa.Column("people", sa.Integer(), nullable=False),
            sa.Column("rows", sa.Integer(), nullable=False),
            sa.Column("household_key", sa.String(64), nullable=True),
            sa.Column("archive_key", sa.String(300), nullable=True),
            sa.Column("archive_until", sa.Date(), nullable=True),
            sa.Column("archive_purged_on", sa.Date(), nullable=True),
            sa.Column("recorded_at", Timestamp, nullable=False),
            sa.Index("ix_retention_disposal_sweep", "sweep_id", "service", "status"),
            sa.Index("ix_retention_disposal_archive", "service", "action", "archive_until"),
        ),
        sa.Table(
            "retention_progress",
            md,
            sa.Column("progress_key", sa.String(300), primary_key=True),
            sa.Column("service", sa.String(64), nullable=False),
            sa.Column("sweep_id", sa.String(80), nullable=False),
            sa.Column("state", sa.Text(), nullable=False),
            sa.Column("updated_at", Timestamp, nullable=False, index=True),
        ),
        sa.Table(
            "retention_review",
            md,
            sa.Column("service", sa.String(64), primary_key=True),
            sa.Column("household_ref", sa.String(64), primary_key=True),
            sa.Column("rule_id", sa.String(64), primary_key=True),
            sa.Column("household_keys", sa.Text(), nullable=False),
            sa.Column("stages", sa.Integer(), nullable=False),
            sa.Column("stage", sa.Integer(), nullable=False),
            sa.Column("due_on", sa.Date(), nullable=False),
            sa.Column("status", sa.String(12), nullable=False),
            sa.Column("decision", sa.String(20), nullable=True),
            sa.Column("decided_by", sa.String(120), nullable=True),
            sa.Column("decided_at", Timestamp, nullable=True),
            sa.Column("extended_to", sa.Date(), nullable=True),
            sa.Column("moved_to", sa.String(64), nullable=True),
            sa.Column("hold_kind", sa.String(40), nullable=True),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("approvals", sa.Text(), nullable=False),
            sa.Column("opened_sweep", sa.String(80), nullable=False),
            sa.Column("opened_on", sa.Date(), nullable=False),
            sa.Column("updated_at", Timestamp, nullable=False),
            sa.Column("waiting_since", sa.Date(), nullable=True),
            sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("last_reminded_on", sa.Date(), nullable=True),
            sa.Index("ix_retention_review_status", "service", "status"),
        ),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    md = sa.MetaData()
    tables = _tables(md)
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    for table in tables:  # parents first, as listed
        if table.name not in existing:
            table.create(bind)
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable and column.server_default is None:
                raise RuntimeError(
                    f"the register's {table.name} table lacks {column.name}, which has no default to fill it"
                )
            server_default = column.server_default.arg if column.server_default is not None else None
            op.add_column(
                table.name,
                sa.Column(column.name, column.type, nullable=column.nullable, server_default=server_default),
            )
        indexes = {ix["name"] for ix in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    raise NotImplementedError("the register is never downgraded below its first release")
