"""The receiving store's own record of the transfers imported into it.

A store whose keys the database assigns (integer identity columns) cannot recognise a row it has
already inserted: a second run of an import would insert the family again. The register's audit
entry cannot guard it alone, because a worker may die after the store's transaction commits and
before the audit entry is written. So the import writes one row to this table in the same store
transaction as the family's rows: either both are there or neither, and a re-run that finds the
row returns the first run's outcome instead of importing again.

The table belongs to rightsflow, not to the council's case system: it holds the transfer id, when,
and the import's counts and labels (what the acknowledgement letter reports), and any candidate
matches by name and date of birth, which are keys of rows of this same store.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, Text, select

from rightsflow.contracts.transfer import ImportResult

LEDGER = "rightsflow_transfer_import"

_metadata = MetaData()
ledger = Table(
    LEDGER,
    _metadata,
    Column("transfer_id", String(40), primary_key=True),
    Column("imported_at", DateTime, nullable=False),
    Column("outcome", Text, nullable=False),  # the ImportResult as JSON
)


def ensure_ledger(engine: Engine) -> None:
    """Create the ledger in the store if it is not there (before the import's transaction: some
    databases commit a CREATE TABLE on their own)."""
    ledger.create(engine, checkfirst=True)


def imported_before(conn: Any, transfer_id: str) -> ImportResult | None:
    """The outcome of an earlier, committed import of this transfer into the store, if any."""
    row = conn.execute(select(ledger.c.outcome).where(ledger.c.transfer_id == transfer_id)).first()
    return ImportResult(**json.loads(row[0])) if row else None


def record_import(conn: Any, transfer_id: str, outcome: ImportResult) -> None:
    """Record the import on the import's own connection, inside its transaction."""
    conn.execute(
        ledger.insert().values(
            transfer_id=transfer_id,
            imported_at=datetime.now(UTC).replace(tzinfo=None),
            outcome=json.dumps(asdict(outcome), sort_keys=True, default=str),
        )
    )
