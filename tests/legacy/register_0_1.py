"""The register's tables as release 0.1.0 created them (``create_all`` of its models, frozen here
from ``rightsflow/register.py`` and ``rightsflow/retention.py`` of that release), to build a
register "made by the previous release" that the migrations must upgrade in place."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql

Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

metadata = MetaData()

register_subject = Table(
    "register_subject",
    metadata,
    Column("subject_ref", String(40), primary_key=True),
    Column("nhs_index", String(64), index=True),
    Column("upn_index", String(64), index=True),
    Column("name_dob_index", String(64), index=True),
    Column("sealed_identifiers", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)
rights_request = Table(
    "rights_request",
    metadata,
    Column("request_id", String(40), primary_key=True),
    Column("request_type", String(30), nullable=False),
    Column("subject_ref", ForeignKey("register_subject.subject_ref"), nullable=False, index=True),
    Column("requester", String(30), nullable=False),
    Column("received_on", Date),
    Column("clock_start", Date),
    Column("deadline", Date),
    Column("status", String(40), nullable=False),
    Column("stage", String(60)),
    Column("workflow_id", String(80)),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("closed_at", Timestamp),
    Index("ix_rights_request_open", "status", "deadline"),
)
request_match = Table(
    "request_match",
    metadata,
    Column("request_id", ForeignKey("rights_request.request_id"), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("record_key", String(64), primary_key=True),
    Column("strength", String(30), nullable=False),
    Column("confirmed", Boolean, nullable=False),
    Index("ix_request_match_service_key", "service", "record_key"),
)
request_decision = Table(
    "request_decision",
    metadata,
    Column("decision_id", String(60), primary_key=True),
    Column("request_id", ForeignKey("rights_request.request_id"), nullable=False, index=True),
    Column("service", String(64)),
    Column("decision", String(40), nullable=False),
    Column("legal_basis", String(200)),
    Column("decided_by", String(80), nullable=False),
    Column("decided_at", Timestamp, nullable=False),
)
audit_entry = Table(
    "audit_entry",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(120), unique=True, nullable=False),
    Column("at", Timestamp, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(80), nullable=False),
    Column("request_id", String(40), index=True),
    Column("subject_ref", String(40)),
    Column("service", String(64)),
    Column("legal_basis", String(200)),
    Column("detail", Text, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)
retention_disposal = Table(
    "retention_disposal",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("household_ref", String(64), primary_key=True),
    Column("sweep_id", String(80), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("action", String(30), nullable=False),
    Column("status", String(10), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("disposed_on", Date, nullable=False),
    Column("people", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("household_key", String(64)),
    Column("archive_key", String(300)),
    Column("archive_until", Date),
    Column("archive_purged_on", Date),
    Column("recorded_at", Timestamp, nullable=False),
    Index("ix_retention_disposal_sweep", "sweep_id", "service", "status"),
    Index("ix_retention_disposal_archive", "service", "action", "archive_until"),
)
retention_progress = Table(
    "retention_progress",
    metadata,
    Column("progress_key", String(300), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("sweep_id", String(80), nullable=False),
    Column("state", Text, nullable=False),
    Column("updated_at", Timestamp, nullable=False, index=True),
)
retention_review = Table(
    "retention_review",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("household_ref", String(64), primary_key=True),
    Column("rule_id", String(64), primary_key=True),
    Column("household_keys", Text, nullable=False),
    Column("stages", Integer, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", String(12), nullable=False),
    Column("decision", String(20)),
    Column("decided_by", String(120)),
    Column("decided_at", Timestamp),
    Column("extended_to", Date),
    Column("moved_to", String(64)),
    Column("hold_kind", String(40)),
    Column("reason", Text),
    Column("approvals", Text, nullable=False),
    Column("opened_sweep", String(80), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("waiting_since", Date),
    Column("reminders_sent", Integer, nullable=False, server_default="0"),
    Column("last_reminded_on", Date),
    Index("ix_retention_review_status", "service", "status"),
)
