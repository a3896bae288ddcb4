"""Deletes run children first and inserts parents first, whatever order a catalogue file lists its
collections in: a council's catalogue is written by hand, and a wrong order is a foreign-key
failure in the middle of an erasure or a sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightsflow.catalog import load_catalog
from rightsflow.erasure import erasure_plan
from rightsflow.retention.plan import build_plan
from rightsflow.storemap import references

CATALOG = load_catalog(Path(__file__).resolve().parent.parent / "catalog")


def _listed_backwards(service: str):
    cat = CATALOG[service]
    dataset = cat.dataset.model_copy(update={"collections": list(reversed(cat.dataset.collections))})
    return cat.model_copy(update={"dataset": dataset})


def _children_before_parents(cat, order: list[str]) -> None:
    refs = references(cat)
    for i, name in enumerate(order):
        for _, parent, _ in refs.get(name, []):
            if parent in order:
                assert order.index(parent) > i, f"{parent} deleted before {name}, which references it"


@pytest.mark.parametrize("service", sorted(CATALOG.ids))
def test_erasure_deletes_children_first_in_any_listing_order(service: str) -> None:
    for cat in (CATALOG[service], _listed_backwards(service)):
        plan = erasure_plan(cat)
        _children_before_parents(cat, [c for c in plan.delete_order])


@pytest.mark.parametrize("service", sorted(CATALOG.ids))
def test_the_sweep_deletes_children_first_in_any_listing_order(service: str) -> None:
    for cat in (CATALOG[service], _listed_backwards(service)):
        _children_before_parents(cat, build_plan(cat).delete_order)


def test_a_record_referencing_two_others_comes_after_both() -> None:
    from rightsflow.storemap import parents_first

    # a flag on a member and on the member's household, listed before the household table
    order = parents_first(
        ["member", "flag", "household_note", "household"],
        {"flag": ["member", "household"], "member": ["household"], "household_note": ["household"]},
    )
    assert order.index("household") < order.index("member") < order.index("flag")
    assert order.index("household") < order.index("household_note")
    with pytest.raises(ValueError, match="cycle"):
        parents_first(["a", "b"], {"a": ["b"], "b": ["a"]})
