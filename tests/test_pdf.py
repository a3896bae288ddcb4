"""Documents rendered from many activity threads at once take turns, and each comes out whole; each
activity's end is logged with its time and CPU, and nothing of what it was given."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.testing import ActivityEnvironment

from activities.heartbeat import heartbeats
from rightsflow import pdf

LETTER = "<html><body><h1>Our reference rq_{n}</h1><p>{text}</p></body></html>"


def test_documents_rendered_from_many_threads_take_turns_and_all_come_out(monkeypatch):
    import weasyprint

    inside, most = 0, 0
    count = threading.Lock()
    write_pdf = weasyprint.HTML.write_pdf

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.01)  # long enough for another thread to arrive, were it let in
            return write_pdf(self, *args, **kwargs)
        finally:
            with count:
                inside -= 1

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", counted)
    with ThreadPoolExecutor(max_workers=6) as pool:
        pdfs = list(pool.map(lambda n: pdf.render_pdf(LETTER.format(n=n, text="word " * 200)), range(12)))
    assert most == 1
    assert all(p.startswith(b"%PDF-") and p.rstrip().endswith(b"%%EOF") for p in pdfs)
    assert all(len(p) > 1000 for p in pdfs)


def test_a_rendering_that_fails_lets_the_next_one_render():
    with pytest.raises(TypeError):
        pdf.render_pdf(None)  # type: ignore[arg-type]
    assert pdf.render_pdf(LETTER.format(n=1, text="after")).startswith(b"%PDF-")


def test_an_activity_logs_its_end_with_its_time_and_cpu_and_not_its_input(caplog):
    @heartbeats
    def render_letter(name: str) -> int:
        return len(pdf.render_pdf(LETTER.format(n=7, text=f"Dear {name}")))

    @heartbeats
    def failing(name: str) -> None:
        raise ValueError("no")

    def env(name: str) -> ActivityEnvironment:
        environment = ActivityEnvironment()
        environment.info = dataclasses.replace(environment.info, activity_type=name)
        return environment

    caplog.set_level(logging.INFO, logger="rightsflow.activity")
    assert env("render_letter_for_test").run(render_letter, "Amelia Okafor") > 1000
    with pytest.raises(ValueError):
        env("failing_for_test").run(failing, "Amelia Okafor")
    lines = [r.getMessage() for r in caplog.records if r.name == "rightsflow.activity"]
    assert len(lines) == 2
    finished, failed = lines
    assert finished.startswith("render_letter_for_test finished in ") and " s CPU), attempt 1" in finished
    cpu = float(finished.split("(")[1].split(" s CPU")[0])
    assert cpu > 0  # a PDF takes measurable CPU
    assert failed.startswith("failing_for_test failed in ")
    assert all("Amelia" not in line and "Okafor" not in line for line in lines)
