"""The register on SQLite, PostgreSQL and MariaDB: blind index, sealed identifiers, audit log."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import Register, RegisterBase

CHILD = SubjectIdentifiers.parse(nhs_number="943 476 5919", name="Amelia Okafor", dob="2015-03-14")


@pytest.fixture
def register(settings, database_url):
    reg = Register(settings, url=database_url)
    RegisterBase.metadata.drop_all(reg.engine)
    reg.create_schema()
    yield reg
    RegisterBase.metadata.drop_all(reg.engine)


def _all_text(register: Register) -> str:
    """Every value in every register table, as text, to look for plain-text identifiers."""
    out = []
    with register.engine.connect() as conn:
        for table in RegisterBase.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                out.extend(str(v) for v in row)
    return " ".join(out)


def test_identifiers_are_sealed_and_indexed_not_stored_in_plain_text(register):
    ref = register.register_subject(CHILD)
    register.create_request("subject_access", ref, received_on=date(2026, 11, 2))
    dump = _all_text(register)
    for secret in ("9434765919", "943 476 5919", "Okafor", "okafor", "2015-03-14", "Amelia"):
        assert secret not in dump
    assert register.subject_identifiers(ref) == CHILD


def test_the_same_subject_is_found_again_through_the_blind_index(register):
    first = register.register_subject(CHILD)
    again = register.register_subject(
        SubjectIdentifiers.parse(nhs_number="9434765919", name="amelia  okafor", dob="2015-03-14")
    )
    other = register.register_subject(SubjectIdentifiers.parse(nhs_number="4010232137"))
    assert again == first
    assert other != first


def test_requests_list_soonest_deadline_first(register):
    ref = register.register_subject(CHILD)
    late = register.create_request("erasure", ref, received_on=date(2026, 11, 1))
    soon = register.create_request("subject_access", ref, received_on=date(2026, 10, 1))
    register.update_request(late.request_id, deadline=date(2026, 12, 1))
    register.update_request(soon.request_id, deadline=date(2026, 11, 2))
    assert [r.request_id for r in register.open_requests()] == [soon.request_id, late.request_id]


def test_audit_entries_are_written_once_and_the_log_is_append_only(register):
    ref = register.register_subject(CHILD)
    req = register.create_request("subject_access", ref, received_on=date(2026, 11, 2))
    assert register.audit(
        "k1",
        actor="dpo",
        action="identity.verified",
        request_id=req.request_id,
        legal_basis="UK GDPR Art 12(6)",
    )
    assert not register.audit("k1", actor="dpo", action="identity.verified", request_id=req.request_id)
    trail = register.audit_trail(req.request_id)
    assert [e.action for e in trail] == ["subject_access.filed", "identity.verified"]
    assert register.verify_audit_chain() is None

    from rightsflow.register import AuditEntry

    with register.session() as s, pytest.raises(PermissionError):
        entry = s.get(AuditEntry, 1)
        s.delete(entry)
        s.flush()


def test_a_tampered_audit_entry_breaks_the_chain(register):
    ref = register.register_subject(CHILD)
    req = register.create_request("subject_access", ref, received_on=date(2026, 11, 2))
    register.audit("k2", actor="dpo", action="request.approved", request_id=req.request_id)
    register.audit("k3", actor="dpo", action="pack.sent", request_id=req.request_id)
    with register.engine.begin() as conn:  # someone edits the table behind the application's back
        conn.execute(text("UPDATE audit_entry SET actor = 'someone else' WHERE idempotency_key = 'k2'"))
    broken = register.verify_audit_chain()
    assert broken is not None
