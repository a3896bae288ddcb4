"""A batch's store keys travel to PostgreSQL as one array literal: every key must arrive as it
was, whatever characters a council's case system puts in its references."""

from __future__ import annotations

import pytest
from sqlalchemy import column, create_engine, select, table, text

from rightsflow.retention.households import _keyset

KEYS = ["H-0001", 'quote"d', "back\\slash", "comma,key", "brace{}", "sp ace", "", "NULL", "é-ü"]


@pytest.mark.postgres
@pytest.mark.parametrize("keys", [KEYS, ["H-0001", "H-0002"], ["only"]], ids=["awkward", "plain", "one"])
def test_every_key_reaches_postgresql_unchanged(postgres_url: str, keys: list[str]) -> None:
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        got = conn.execute(_keyset(conn, keys)).scalars().all()
        assert got == keys
        # and as the right-hand side of IN, as the sweep's lookups and deletes use it
        conn.execute(text("CREATE TEMP TABLE store_keys (k text)"))
        conn.execute(text("INSERT INTO store_keys VALUES (:k)"), [{"k": k} for k in [*keys, "not asked for"]])
        t = table("store_keys", column("k"))
        found = conn.execute(select(t.c.k).where(t.c.k.in_(_keyset(conn, keys)))).scalars().all()
        assert sorted(found) == sorted(keys)
    engine.dispose()
