"""What a sender and a receiver accept from each other's documents in the exchange bucket, checked
without Temporal or S3: a delivery notice must agree with where it lies, an acknowledgement must be
of this very package, a rejection of this very delivery."""

from __future__ import annotations

from typing import Any

from rightsflow.transfer_exchange import (
    ack_notice,
    ack_problems,
    exchange_ack_key,
    exchange_rejection_key,
    inbox_key,
    notice_problem,
    rejection_reasons,
)

SHA = "a" * 64


def _notice(tid: str = "tr-1", attempt: int = 1, **changes: Any) -> tuple[dict[str, Any], str]:
    key = inbox_key("camden", tid, attempt, "notice.json")
    doc = {
        "transfer_id": tid,
        "to_authority": "camden",
        "from_authority": "westminster",
        "attempt": attempt,
        "bucket": "wcc",
        "key": inbox_key("camden", tid, attempt, "package.zip"),
        "sha256": SHA,
        "sender_workflow_id": f"transfer-{tid}",
        **changes,
    }
    return doc, key


def test_a_notice_that_agrees_with_its_place_is_taken() -> None:
    doc, key = _notice()
    assert notice_problem(doc, key, "camden", "wcc") is None


def test_a_notice_is_refused_on_the_first_field_that_disagrees_and_names_only_the_field() -> None:
    cases = {
        "transfer_id": _notice(transfer_id="tr-2"),
        "to_authority": _notice(to_authority="islington"),
        "attempt": ({**_notice()[0], "attempt": 2}, _notice()[1]),
        "package location": _notice(key="elsewhere/package.zip"),
        "sha256": _notice(sha256="not-a-digest"),
        "from_authority": _notice(from_authority="west minster; drop"),
        "sender_workflow_id": _notice(sender_workflow_id="transfer/../x"),
    }
    for field, (doc, key) in cases.items():
        problem = notice_problem(doc, key, "camden", "wcc")
        assert problem == field, (field, problem)
        assert "west minster" not in problem and ".." not in problem
    doc, key = _notice()
    assert notice_problem(doc, key, "islington", "wcc") == "key"  # another authority's inbox
    assert notice_problem(doc, key, "camden", "other-bucket") == "package location"


def test_a_transfer_id_that_could_not_be_a_workflow_id_is_refused() -> None:
    # it becomes the intake's workflow id (intake-<id>): only short opaque ids pass
    doc, key = _notice(tid="x" * 65)
    assert notice_problem(doc, key, "camden", "wcc") == "transfer_id"


def test_an_acknowledgement_of_another_package_acknowledges_nothing() -> None:
    good = {
        "transfer_id": "tr-1",
        "to_authority": "camden",
        "package_sha256": SHA,
        "accepted_on": "2026-11-03",
    }
    assert ack_problems(good, "tr-1", "camden", SHA) == []
    assert ack_problems({**good, "package_sha256": "0" * 64}, "tr-1", "camden", SHA) == ["package_sha256"]
    assert ack_problems({**good, "transfer_id": "tr-2"}, "tr-1", "camden", SHA) == ["transfer_id"]
    assert set(ack_problems({}, "tr-1", "camden", SHA)) == {
        "transfer_id",
        "to_authority",
        "package_sha256",
        "accepted_on",
    }
    key = exchange_ack_key("camden", "tr-1")
    notice = ack_notice({**good, "people_new": "3", "imported": {"contact": 2}}, key, SHA)
    assert notice.ack_key == key and notice.people_new == 3 and notice.imported == {"contact": 2}
    assert notice.attempt == 0 and notice.not_placed == []


def test_a_rejection_counts_only_for_its_own_delivery_and_its_reasons_are_bounded() -> None:
    doc = {"transfer_id": "tr-1", "to_authority": "camden", "attempt": 2, "reasons": ["bad digest"]}
    assert rejection_reasons(doc, "tr-1", "camden", 2) == ["bad digest"]
    assert rejection_reasons(doc, "tr-1", "camden", 1) is None  # another attempt's
    assert rejection_reasons({**doc, "reasons": "bad"}, "tr-1", "camden", 2) is None
    many = rejection_reasons({**doc, "reasons": ["x" * 1000] * 80}, "tr-1", "camden", 2)
    assert many is not None and len(many) == 50 and all(len(r) == 300 for r in many)
    assert exchange_rejection_key("camden", "tr-1", 2) == inbox_key("camden", "tr-1", 2, "rejection.json")
