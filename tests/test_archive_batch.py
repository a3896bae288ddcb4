"""The sweep's set-based reads on every backend: a batch of households' rows for their archives, and
store keys sent as one parameter."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.retention import build_plan, households_rows
from rightsflow.retention.households import Household, _keyset
from rightsflow.stores import SCHEMAS
from rightsflow.stores import children_social_care as csc

REPO = Path(__file__).resolve().parent.parent
CSC = "lewisham_childrens_social_care"


def _person(pid: int, surname: str) -> csc.Person:
    return csc.Person(person_id=pid, forename="Test", surname=surname, date_of_birth=date(1990, 1, pid))


def _note(nid: int, pid: int, text: str) -> csc.CaseNote:
    return csc.CaseNote(
        note_id=nid,
        person_id=pid,
        recorded_at=datetime(2001, 1, 1),
        author_name="A",
        author_role="SW",
        note_text=text,
    )


def test_a_batch_of_households_is_read_at_once_each_with_only_its_own_rows(database_url: str) -> None:
    engine = engine_for_url(database_url)
    SCHEMAS[CSC].create_all(engine)
    with Session(engine) as s, s.begin():
        s.add_all([_person(1, "Alpha"), _person(2, "Alpha"), _person(3, "Beta"), _person(4, "Gamma")])
        s.flush()
        link = csc.Relationship(relationship_id=1, person_id=2, related_person_id=1, relationship_type="mum")
        s.add(link)
        s.add_all([_note(1, 1, "first"), _note(2, 2, "second"), _note(3, 3, "third"), _note(4, 4, "kept")])
        s.add(csc.Episode(episode_id=1, person_id=1, episode_type="LAC", start_date=date(2000, 1, 1)))
    plan = build_plan(load_catalog(REPO / "catalog")[CSC])
    first, second = Household([1, 2], []), Household([3], [])
    with engine.connect() as conn:
        both = households_rows(conn, plan, [first, second])
        alone = [households_rows(conn, plan, [hh])[0] for hh in (first, second)]
    assert both == alone  # read together or one by one: the same rows for each household
    assert [n["note_text"] for n in both[0]["lcs_case_note"]] == ["first", "second"]
    assert [r["relationship_id"] for r in both[0]["lcs_relationship"]] == [1]
    assert [e["episode_id"] for e in both[0]["lcs_episode"]] == [1]
    assert [n["note_text"] for n in both[1]["lcs_case_note"]] == ["third"]
    assert both[1]["lcs_relationship"] == [] and both[1]["lcs_episode"] == []
    assert {p["person_id"] for hh in both for p in hh["lcs_person"]} == {1, 2, 3}  # not person 4


@pytest.mark.parametrize(
    "keys",
    [
        [3, 1, 2, 10**12],
        ["plain", 'with "quotes"', "back\\slash", "a,b", "{braces}", " spaced ", "", "NULL", "café"],
    ],
)
def test_store_keys_sent_as_one_parameter_arrive_unchanged(database_url: str, keys: list) -> None:
    engine = engine_for_url(database_url)
    with engine.connect() as conn:
        keyset = _keyset(conn, keys)
        if isinstance(keyset, list):  # MariaDB: a plain IN list, nothing to decode
            assert keyset == keys
            return
        got = list(conn.execute(select(keyset.subquery().c[0])).scalars())
    assert sorted(map(str, got)) == sorted(map(str, keys))
    assert {type(v) for v in got} == {type(v) for v in keys}
