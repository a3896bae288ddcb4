"""The names a store holds, which redaction treats as private individuals in free text: read once
per worker, read again as soon as someone is added, and never kept longer than the limit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from rightsflow import gathering
from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.storemap import StoreMap
from rightsflow.stores import SCHEMAS
from rightsflow.stores import children_social_care as csc

REPO = Path(__file__).resolve().parent.parent
CSC = "lewisham_childrens_social_care"


def _names(engine) -> list[str]:  # type: ignore[no-untyped-def]
    smap = StoreMap(load_catalog(REPO / "catalog")[CSC])
    with engine.connect() as conn:
        return gathering.held_names(conn, smap, "lcs_person", "person_id", ["forename"])


def test_held_names_are_reused_until_someone_is_added_or_the_limit_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for_url(f"sqlite:///{tmp_path / 'csc.db'}")
    SCHEMAS[CSC].create_all(engine)
    with Session(engine) as s, s.begin():
        s.add(csc.Person(person_id=1, forename="Amara", surname="Okafor", date_of_birth=date(2015, 1, 1)))
    assert _names(engine) == ["Amara"]

    with engine.begin() as conn:  # a rename: no new key, so the kept list stands for now
        conn.execute(update(csc.Person).where(csc.Person.person_id == 1).values(forename="Ama"))
    assert _names(engine) == ["Amara"]

    with Session(engine) as s, s.begin():  # someone new: read again at once
        s.add(csc.Person(person_id=2, forename="Tobi", surname="Okafor", date_of_birth=date(2017, 1, 1)))
    assert _names(engine) == ["Ama", "Tobi"]

    with engine.begin() as conn:
        conn.execute(update(csc.Person).where(csc.Person.person_id == 2).values(forename="Tobias"))
    monkeypatch.setattr(gathering, "NAMES_KEPT_SECONDS", 0.0)  # the limit has passed
    assert _names(engine) == ["Ama", "Tobias"]
