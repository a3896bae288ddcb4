"""The console in a real browser: Debian's Chromium driven by Playwright against the console server,
the worker (both in their own processes), the Temporal dev server, moto S3 and seeded demo stores.

axe-core (from node_modules) checks every page visited: no serious or critical violation of WCAG
2.2 AA. Set RIGHTSFLOW_CONSOLE_SCREENSHOT=docs/console-queue.png to save the queue as it looks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from rightsflow.config import REPO_ROOT, load_settings
from tests.support import free_port, seed_demo, store_urls

CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a long enough passphrase"
HUB = "westminster_family_hub"

pytestmark = [
    pytest.mark.devserver,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"),
    pytest.mark.skipif(not AXE.exists(), reason="needs the npm assets (npm ci)"),
]


class Console:
    """The running system as the browser tests see it."""

    def __init__(self, url: str, env: dict[str, str], home: Path) -> None:
        self.url, self.env, self.home = url, env, home
        self.axe_checked: list[str] = []

    def settings(self) -> Any:
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = log.open("wb")
    return subprocess.Popen(args, env=env, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the console exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the console did not answer:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, dev_server_env: Any, s3_endpoint: str
) -> Iterator[Console]:
    from rightsflow.keys import ensure_codec_key_file, ensure_hash_key_file
    from rightsflow.register import Register
    from rightsflow.s3 import ensure_archive_bucket, s3_client

    home = tmp_path_factory.mktemp("console") / "home"
    suffix = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIGHTSFLOW_", "TEMPORAL_", "AWS_"))} | {
        "RIGHTSFLOW_HOME": str(home),
        "TEMPORAL_ADDRESS": dev_server_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": "default",
        "RIGHTSFLOW_TASK_QUEUE": f"console-{suffix}",
        "RIGHTSFLOW_S3_ENDPOINT": s3_endpoint,
        "RIGHTSFLOW_S3_BUCKET": f"console-{suffix}",
        "RIGHTSFLOW_S3_ACCESS_KEY": "testing",
        "RIGHTSFLOW_S3_SECRET_KEY": "testing",
        "PYTHONUNBUFFERED": "1",
    }
    console = Console("", env, home)
    settings = console.settings()
    ensure_codec_key_file(settings)
    ensure_hash_key_file(settings)
    seed_demo(store_urls(settings))
    ensure_archive_bucket(s3_client(settings), settings.s3_bucket)
    Register(settings).create_schema()
    # accounts through the command a council's IT would use
    for name, role, service in (
        ("dana", "dpo", None),
        ("rita", "records_manager", None),
        ("audrey", "auditor", None),
        ("hugh", "service_lead", HUB),
    ):
        extra = ["--service", service] if service else []
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "rightsflow"),
                "users",
                "add",
                name,
                "--role",
                role,
                *extra,
                "--password-stdin",
            ],
            input=PASSWORD + "\n",
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    port = free_port()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    worker = _spawn([sys.executable, "worker.py"], env, logs / "worker.log")
    server = _spawn(
        [sys.executable, "-m", "rightsflow.console", "--port", str(port)], env, logs / "console.log"
    )
    try:
        console.url = f"http://127.0.0.1:{port}"
        _wait_http(console.url + "/health", server, logs / "console.log")
        yield console
    finally:
        _stop(server)
        _stop(worker)


@pytest.fixture(scope="module")
def browser(system: Console) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield b
        finally:
            b.close()


def check_axe(page: Any, system: Console) -> None:
    """axe-core on the page as it is: no serious or critical WCAG 2.2 AA violation."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    bad = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"accessibility violations on {page.url}: {json.dumps(bad)}"
    system.axe_checked.append(page.url)


def visit(page: Any, system: Console, path: str) -> Any:
    response = page.goto(system.url + path)
    check_axe(page, system)
    return response


def sign_in(browser: Any, system: Console, name: str) -> Any:
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(90_000)  # an update waits for the worker, on a busy two-core machine
    page = context.new_page()
    visit(page, system, "/sign-in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "Signed in as" in page.content()
    check_axe(page, system)
    return page


def csrf(page: Any) -> str:
    return page.locator('input[name="csrf_token"]').first.get_attribute("value")


def reload_until(page: Any, system: Console, text: str, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while text not in page.content():
        if time.monotonic() > end:
            raise AssertionError(f"{text!r} did not appear on {page.url}")
        time.sleep(1)
        page.reload()


def test_a_dpo_takes_a_sar_from_filing_to_a_downloaded_pack(browser: Any, system: Console) -> None:
    from rightsflow.seed import shared_child_example

    child = shared_child_example(store_urls(system.settings()))
    page = sign_in(browser, system, "dana")

    # the new request form checks the NHS number and the date (GOV.UK error summary)
    visit(page, system, "/requests/new")
    page.get_by_label("NHS number").fill("943 476 5918")
    page.get_by_label("Date the request was received").fill((date.today() + timedelta(days=3)).isoformat())
    page.get_by_role("button", name="File the request").click()
    summary = page.locator(".govuk-error-summary")
    assert "check digit" in summary.inner_text() and "today or in the past" in summary.inner_text()
    assert "943 476 5918" not in summary.inner_text()  # never echoes the identifier
    assert "Choose the council the request is made to" in summary.inner_text()  # several councils
    check_axe(page, system)

    page.get_by_label("The council the request is made to").select_option("lewisham")
    page.get_by_label("NHS number").fill(child.nhs_number)
    page.get_by_label("Date the request was received").fill(date.today().isoformat())
    page.get_by_role("button", name="File the request").click()
    page.wait_for_url(re.compile(r"/requests/rq_"))
    request_id = page.url.rsplit("/", 1)[1].split("?")[0]
    check_axe(page, system)
    assert child.nhs_number[-4:] in page.locator("#subject").inner_text()
    assert child.nhs_number not in page.content()  # masked

    # identity evidence today: the clock starts and the workflow gathers and redacts
    page.get_by_text("Record identity, authority or fee evidence").click()
    page.get_by_role("button", name="Record evidence").click()
    reload_until(page, system, "Redaction review</dd>")
    check_axe(page, system)

    # the queue shows it with its statutory deadline
    visit(page, system, "/requests")
    row = page.locator(f'tr[data-request="{request_id}"]')
    deadline = row.locator(".rf-deadline").inner_text()
    assert re.match(r"\d{1,2} \w+ \d{4}", deadline), deadline
    assert "On track" in row.inner_text()
    shot = os.environ.get("RIGHTSFLOW_CONSOLE_SCREENSHOT")
    if shot:
        page.set_viewport_size({"width": 1440, "height": 720})
        page.screenshot(path=shot, full_page=True)

    # redaction review: release one withheld piece of text
    visit(page, system, f"/requests/{request_id}/redactions")
    marks = page.locator("mark.rf-withheld")
    assert marks.count() > 0
    first = page.locator('input[name="release"]:not([disabled])').first
    first.check()
    page.get_by_role("button", name="Save redaction decisions").click()
    page.wait_for_url(re.compile(r"done=review"))
    assert page.locator("mark.rf-released").count() >= 1
    check_axe(page, system)

    # approve; the pack is built and downloadable by a short-lived link
    visit(page, system, f"/requests/{request_id}")
    page.get_by_role("button", name="Approve the response").click()
    page.wait_for_url(re.compile(r"done=approve"))
    reload_until(page, system, "Download the response pack")
    check_axe(page, system)
    link = page.locator("#download-pack")
    response = page.request.get(system.url + link.get_attribute("href"))
    assert response.ok and len(response.body()) > 1000

    from rightsflow.register import Register

    trail = Register(system.settings()).audit_trail(request_id)
    assert any(e.action == "console.pack.downloaded" and e.actor == "dana" for e in trail)
    assert any(e.actor == "console:dana" and e.action.endswith("approved") for e in trail)


def test_a_records_manager_approves_a_review_item(browser: Any, system: Console) -> None:
    from rightsflow.register import Register
    from rightsflow.retention import RetentionReview

    register = Register(system.settings())
    ref = "rh" + uuid.uuid4().hex[:22]
    with register.session() as s:
        s.add(
            RetentionReview(
                service="lewisham_childrens_social_care",
                household_ref=ref,
                rule_id="child_in_need_case_file",
                household_keys=json.dumps({"people": [], "groups": []}),
                stages=1,
                stage=1,
                due_on=date.today() - timedelta(days=3),
                status="open",
                opened_sweep="sweep-test",
                opened_on=date.today() - timedelta(days=3),
            )
        )
    page = sign_in(browser, system, "rita")
    visit(page, system, "/retention")
    row = page.locator(f'tr[data-ref="{ref}"]')
    assert "Children" in row.inner_text() or "social care" in row.inner_text().lower()
    row.get_by_role("button", name="Approve disposal").click()
    page.wait_for_url(re.compile(r"done=decided"))
    check_axe(page, system)
    with register.session() as s:
        item = s.get(RetentionReview, ("lewisham_childrens_social_care", ref, "child_in_need_case_file"))
        assert item.status == "approved"
        assert json.loads(item.approvals)[0]["by"] == "rita"


def test_an_auditor_cannot_approve_and_a_post_without_csrf_token_is_refused(
    browser: Any, system: Console
) -> None:
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.register import Register

    register = Register(system.settings())
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number="9434765919"))
    request_id = register.create_request("subject_access", ref, received_on=date.today()).request_id

    auditor = sign_in(browser, system, "audrey")
    visit(auditor, system, f"/requests/{request_id}")
    assert auditor.get_by_role("button", name="Approve the response").count() == 0
    r = auditor.request.post(
        f"{system.url}/requests/{request_id}/actions/approve", form={"csrf_token": csrf(auditor)}
    )
    assert r.status == 403

    dpo = sign_in(browser, system, "dana")
    visit(dpo, system, "/reports")
    assert "Audit log verified" in dpo.content()
    r = dpo.request.post(f"{system.url}/requests/{request_id}/actions/approve", form={"reason": "x"})
    assert r.status == 403
    assert not any(e.action.endswith("approved") for e in register.audit_trail(request_id))


def test_a_service_lead_sees_only_their_service(browser: Any, system: Console) -> None:
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.register import Register

    register = Register(system.settings())
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number="9434765870"))
    theirs = register.create_request("subject_access", ref, received_on=date.today()).request_id
    other = register.create_request("subject_access", ref, received_on=date.today()).request_id
    register.record_matches(theirs, HUB, [("HH-1", "name_dob_candidate")])
    register.record_matches(other, "lewisham_family_thrive", [("FT-1", "exact_identifier")])

    lead = sign_in(browser, system, "hugh")
    visit(lead, system, "/requests")
    assert theirs in lead.content() and other not in lead.content()
    assert lead.goto(f"{system.url}/requests/{other}").status == 403
    visit(lead, system, f"/requests/{theirs}")
    matches = lead.locator("table").first.inner_text()
    assert "Bessborough Family Hub" in matches and "Possible: same name and date of birth" in matches
    assert lead.goto(f"{system.url}/retention").status == 403
    assert len(system.axe_checked) >= 10


def test_a_dpo_files_an_erasure_and_decides_it_service_by_service(browser: Any, system: Console) -> None:
    """The erasure's stage actions in the browser against the real workflow: the form's choices
    reach its decide update, and its validators' refusals come back as the page's error."""
    from rightsflow.catalog import load_catalog
    from rightsflow.register import Decision, Register
    from rightsflow.seed import shared_child_example

    settings = system.settings()
    catalog = load_catalog(settings.catalog_dir)
    child = shared_child_example(store_urls(settings))
    council = catalog[child.services[0]].controller
    page = sign_in(browser, system, "dana")
    visit(page, system, "/requests/new")
    page.get_by_label("Kind of request").select_option("erasure")
    page.get_by_label("The council the request is made to").select_option(council)
    page.get_by_label("NHS number").fill(child.nhs_number)
    page.get_by_label("Date the request was received").fill(date.today().isoformat())
    page.get_by_label("Ground for erasure (erasure requests only)").select_option("no-longer-needed")
    page.get_by_role("button", name="File the request").click()
    page.wait_for_url(re.compile(r"/requests/rq_"))
    request_id = page.url.rsplit("/", 1)[1].split("?")[0]
    reload_until(page, system, "Decide the erasure, service by service", timeout=120)
    check_axe(page, system)

    # nothing chosen: the GOV.UK error summary, nothing sent to the workflow
    page.get_by_role("button", name="Record the erasure decisions").click()
    assert "at least one service" in page.locator(".govuk-error-summary").inner_text()
    check_axe(page, system)

    # every service takes its proposal (erase where the ground applies, refuse with its exemption)
    page.get_by_label("Every service not decided above takes its proposed decision").check()
    page.get_by_role("button", name="Record the erasure decisions").click()
    page.wait_for_url(re.compile(r"done=decide_erasure"))
    assert "The erasure decisions have been recorded" in page.content()
    reload_until(page, system, "Completed", timeout=120)
    check_axe(page, system)
    register = Register(settings)
    with register.session() as s:
        decided = {d.decided_by for d in s.query(Decision).filter_by(request_id=request_id)}
    assert decided == {"console:dana"}
