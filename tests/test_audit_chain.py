"""The audit chain stays one line under any concurrency, on SQLite, PostgreSQL and MariaDB, and
`rightsflow audit verify` says whether it holds and where it breaks."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from rightsflow.config import Settings
from rightsflow.db import dispose_all
from rightsflow.register import AuditEntry, Register

THREADS, PROCESSES, PER_WRITER = 8, 4, 15


def _write(settings: Settings, url: str, writer: str, start: threading.Barrier | None = None) -> None:
    register = Register(settings, url=url)
    if start is not None:
        start.wait()
    for n in range(PER_WRITER):
        register.audit(f"{writer}:{n}", actor="worker", action="sar.discovery", request_id=f"rq_{writer}")
        # Every writer also retries a shared entry, as two attempts of one activity would.
        register.audit(f"shared:{n}", actor="worker", action="sar.stage", request_id="rq_shared")


def _process_writer(settings: Settings, url: str, writer: str, ready) -> None:  # type: ignore[no-untyped-def]
    dispose_all()  # never share the parent's pooled connections
    ready.wait()
    _write(settings, url, writer)


def test_parallel_threads_and_processes_leave_one_unbroken_chain(settings, database_url) -> None:
    register = Register(settings, url=database_url)
    register.create_schema()
    dispose_all()

    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    procs = [
        ctx.Process(target=_process_writer, args=(settings, database_url, f"p{i}", ready))
        for i in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def thread_writer(i: int) -> None:
        try:
            _write(settings, database_url, f"t{i}", start)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=thread_writer, args=(i,)) for i in range(THREADS)]
    ready.set()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=300)
    assert errors == []
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    with register.session() as s:
        previous = list(s.scalars(select(AuditEntry.previous_hash)))
    writers = THREADS + PROCESSES
    assert len(previous) == writers * PER_WRITER + PER_WRITER  # each shared entry written once
    assert max(Counter(previous).values()) == 1  # no two entries follow the same one: no fork
    report = register.audit_chain_report()
    assert report.holds, report
    assert report.entries == len(previous)


@pytest.fixture
def chained(settings, tmp_path) -> Register:
    register = Register(settings, url=f"sqlite:///{tmp_path / 'register.db'}")
    register.create_schema()
    for n in range(5):
        register.audit(f"k{n}", actor="dpo", action="request.noted", request_id="rq_1")
    return register


def _cli(register: Register, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    from rightsflow.cli import app

    monkeypatch.setenv("RIGHTSFLOW_REGISTER_URL", str(register.engine.url))
    return CliRunner().invoke(app, ["audit", "verify", *args])


def test_audit_verify_says_the_chain_holds(chained: Register, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(chained, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "chain holds: 5 entries" in result.output


def test_audit_verify_names_the_entry_where_an_edit_breaks_it(
    chained: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    with chained.engine.begin() as conn:  # someone edits the table behind the application's back
        conn.execute(text("UPDATE audit_entry SET actor = 'someone else' WHERE idempotency_key = 'k2'"))
    result = _cli(chained, monkeypatch)
    assert result.exit_code == 1
    assert "broken at entry 3 (request.noted" in result.output
    assert "contents were changed" in result.output
    assert _cli(chained, monkeypatch, "--json").output.count('"holds": false') == 1


def test_removing_the_newest_entries_is_noticed(chained: Register, monkeypatch: pytest.MonkeyPatch) -> None:
    with chained.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE entry_id > 3"))
    report = chained.audit_chain_report()
    assert not report.holds
    assert "newest entries were removed" in (report.reason or "")
    assert _cli(chained, monkeypatch).exit_code == 1


def test_a_forked_chain_from_before_is_reported_with_how_many_entries_share_a_link(
    chained: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    with chained.engine.begin() as conn:  # what concurrent appends used to leave behind
        conn.execute(
            text(
                "UPDATE audit_entry SET previous_hash = "
                "(SELECT previous_hash FROM audit_entry WHERE entry_id = 2) WHERE entry_id = 3"
            )
        )
    result = _cli(chained, monkeypatch)
    assert result.exit_code == 1
    assert "broken at entry 3" in result.output and "does not link to the entry before it" in result.output
    assert "1 entries link to an entry another entry already links to" in result.output
