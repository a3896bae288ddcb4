"""Register migrations on SQLite, PostgreSQL and MariaDB: a register made by the previous release is
upgraded in place with nothing lost, and the models never drift from the newest revision."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import date, datetime

from sqlalchemy import create_engine, inspect

from rightsflow.identity import SubjectIdentifiers
from rightsflow.migrations import (
    current_revisions,
    head_revisions,
    schema_differences,
    upgrade_register,
)
from rightsflow.register import Register
from tests.legacy import register_0_1 as legacy

CHILD = SubjectIdentifiers.parse(nhs_number="943 476 5919", name="Amelia Okafor", dob="2015-03-14")
SERVICE = "westminster_family_hub"


def _release_0_1_hash(previous: str, row: dict) -> str:
    """The audit hash exactly as release 0.1.0 computed it."""
    body = json.dumps(
        [
            previous,
            row["idempotency_key"],
            row["at"].isoformat(),
            row["actor"],
            row["action"],
            row["request_id"],
            row["subject_ref"],
            row["service"],
            row["legal_basis"],
            row["detail"],
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _make_release_0_1_register(settings, url: str, *, tables=None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A register as release 0.1.0 left it: its tables, a subject, an open SAR with a match, a
    decision and two chained audit entries. Returns (request id, subject ref)."""
    engine = create_engine(url)
    legacy.metadata.create_all(engine, tables=tables)
    # Subjects are sealed the same way in both releases; the row goes into the old table.
    reg = Register(settings, url=url)
    subject_ref = reg.register_subject(CHILD)
    request_id = "rq_0123456789abcdef0123"
    now = datetime(2026, 11, 2, 9, 30, 0, 123456)
    with engine.begin() as conn:
        conn.execute(
            legacy.rights_request.insert(),
            {
                "request_id": request_id,
                "request_type": "subject_access",
                "subject_ref": subject_ref,
                "requester": "self",
                "received_on": date(2026, 11, 2),
                "clock_start": date(2026, 11, 2),
                "deadline": date(2026, 12, 2),
                "status": "open",
                "stage": "awaiting_approval",
                "workflow_id": f"sar-{request_id}",
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(
            legacy.request_match.insert(),
            {
                "request_id": request_id,
                "service": SERVICE,
                "record_key": "HH-000042",
                "strength": "exact_identifier",
                "confirmed": True,
            },
        )
        conn.execute(
            legacy.request_decision.insert(),
            {
                "decision_id": f"{request_id}:verified",
                "request_id": request_id,
                "decision": "identity_verified",
                "decided_by": "dpo",
                "decided_at": now,
            },
        )
        previous = "0" * 64
        for key, action in (("filed", "subject_access.filed"), ("verified", "subject_access.verified")):
            row = {
                "idempotency_key": f"{request_id}:{key}",
                "at": now,
                "actor": "dpo",
                "action": action,
                "request_id": request_id,
                "subject_ref": subject_ref,
                "service": None,
                "legal_basis": None,
                "detail": "{}",
            }
            row["previous_hash"] = previous
            row["entry_hash"] = previous = _release_0_1_hash(previous, row)
            conn.execute(legacy.audit_entry.insert(), row)
    engine.dispose()
    return request_id, subject_ref


def test_a_register_made_by_the_previous_release_is_upgraded_in_place_and_its_requests_answer(
    settings, database_url
) -> None:
    request_id, subject_ref = _make_release_0_1_register(settings, database_url)

    register = Register(settings, url=database_url)
    register.create_schema()  # what `up`, `worker` and every command do on opening it

    with register.engine.connect() as conn:
        assert current_revisions(conn) == head_revisions()
    request = register.get_request(request_id)
    assert (request.status, request.stage, request.deadline) == (
        "open",
        "awaiting_approval",
        date(2026, 12, 2),
    )
    assert [r.request_id for r in register.open_requests()] == [request_id]
    assert register.subject_identifiers(subject_ref) == CHILD
    assert register.open_request_keys(SERVICE) == {"HH-000042"}
    assert [e.action for e in register.audit_trail(request_id)] == [
        "subject_access.filed",
        "subject_access.verified",
    ]
    # The old chain still verifies, and a new entry continues it.
    assert register.verify_audit_chain() is None
    register.audit(
        f"{request_id}:approved", actor="dpo", action="subject_access.approved", request_id=request_id
    )
    assert register.verify_audit_chain() is None
    # A new request on the upgraded register works as on a fresh one.
    new = register.create_request("erasure", subject_ref, received_on=date(2026, 11, 20))
    assert register.get_request(new.request_id).status == "open"
    # Opening it again changes nothing.
    assert upgrade_register(register.engine) is False


def test_a_register_from_before_the_retention_tables_and_review_reminders_gains_them(
    settings, tmp_path
) -> None:
    """Earlier releases created tables only when first used, and added columns to models without
    altering existing tables: the upgrade fills both gaps and keeps the rows."""
    url = f"sqlite:///{tmp_path / 'register.db'}"
    old_review = legacy.retention_review.to_metadata(
        __import__("sqlalchemy").MetaData(), name="retention_review"
    )
    for column in ("waiting_since", "reminders_sent", "last_reminded_on"):
        old_review._columns.remove(old_review.c[column])
    base = [t for t in legacy.metadata.sorted_tables if not t.name.startswith("retention_")]
    request_id, _ = _make_release_0_1_register(settings, url, tables=base)
    engine = create_engine(url)
    old_review.create(engine)
    engine.dispose()

    register = Register(settings, url=url)
    register.create_schema()

    names = inspect(register.engine).get_table_names()
    assert {"retention_disposal", "retention_progress", "retention_review"} <= set(names)
    review_columns = {c["name"] for c in inspect(register.engine).get_columns("retention_review")}
    assert {"waiting_since", "reminders_sent", "last_reminded_on"} <= review_columns
    assert register.get_request(request_id).deadline == date(2026, 12, 2)


def test_the_models_and_the_newest_migration_agree(database_url) -> None:
    """Fails when a table or column is added to a model without a revision under
    rightsflow/migrations/versions/ (write one with `python -m rightsflow.migrations new "..."`)."""
    engine = create_engine(database_url)
    try:
        upgrade_register(engine)
        differences = schema_differences(engine)
    finally:
        engine.dispose()
    from rightsflow.migrations.__main__ import describe

    assert differences == [], "models differ from the newest register revision:\n" + "\n".join(
        describe(d) for d in differences
    )


def test_processes_opening_a_new_register_at_once_upgrade_it_once(database_url) -> None:
    """The worker and a command starting together must not both create the same tables."""
    errors: list[BaseException] = []
    ran: list[bool] = []
    barrier = threading.Barrier(4)

    def open_it() -> None:
        engine = create_engine(database_url)
        try:
            barrier.wait()
            ran.append(upgrade_register(engine))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ran.count(True) == 1
