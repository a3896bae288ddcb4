"""Writing one batch of seeded rows: COPY on PostgreSQL, executemany elsewhere.

Core ``insert()`` with a list of dicts sends one parameter set per row; on PostgreSQL each is an
INSERT the server parses and executes (500,000 families took 14 minutes). COPY streams a table's
whole batch as one command: 1.3 to 2.4 times the rows per second at 2,000 and 20,000 families per
store, depending on how busy the machine was (bench/seed_speed.py). What is left is mostly Python
building the rows (about 100,000 rows a second on one core). On MariaDB, PyMySQL's executemany
already folds the rows into multi-row ``INSERT ... VALUES (...), (...)`` statements of up to about
1 MB, and a hand-built version of the same measured no faster, so it keeps executemany; so does
SQLite, a local file with no round trip.

The rows written are the same whichever way: every column a row leaves out gets the column's
Python-side default (as Core ``insert()`` would) and otherwise NULL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import Column, Connection, MetaData, Table

Method = Literal["bulk", "executemany"]


def _columns(table: Table, batch: Sequence[Mapping[str, Any]]) -> list[Column]:
    """The columns a batch sets, in table order: those its rows name plus those with a default."""
    named: set[str] = set()
    for row in batch:
        named.update(row)
    return [c for c in table.columns if c.name in named or _scalar_default(c) is not _NONE]


_NONE = object()


def _scalar_default(column: Column) -> Any:
    default = column.default
    if default is None or not getattr(default, "is_scalar", False):
        return _NONE
    return default.arg


def _values(columns: list[Column], batch: Sequence[Mapping[str, Any]]) -> list[tuple]:
    fill = [(c.name, None if (d := _scalar_default(c)) is _NONE else d) for c in columns]
    return [tuple([row.get(name, default) for name, default in fill]) for row in batch]


def _copy(conn: Connection, table: Table, batch: Sequence[Mapping[str, Any]]) -> None:
    from psycopg import sql

    columns = _columns(table, batch)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    # The DBAPI connection under this SQLAlchemy connection: COPY joins the batch's transaction.
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for values in _values(columns, batch):
            copy.write_row(values)


def write_batch(conn: Connection, metadata: MetaData, rows: Mapping[str, list[dict]], method: Method) -> None:
    """Insert one batch (table name -> rows), parents before children, in the caller's transaction."""
    dialect = conn.dialect.name
    driver = conn.dialect.driver
    for table in metadata.sorted_tables:
        batch = rows.get(table.name)
        if not batch:
            continue
        if method == "bulk" and dialect == "postgresql" and driver == "psycopg":
            _copy(conn, table, batch)
        else:
            conn.execute(table.insert(), batch)
