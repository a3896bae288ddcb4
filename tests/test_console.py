"""The casework console without a browser: sign-in, sessions, CSRF, roles, masking, the queue."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from datetime import date, timedelta

import pytest
from starlette.testclient import TestClient

from rightsflow.config import Settings
from rightsflow.console.accounts import AccountError, add_user, authenticate
from rightsflow.console.app import create_app
from rightsflow.console.queue import badge_for, working_days_between
from rightsflow.console.security import ConfigError, load_console_config, parse_role_map
from rightsflow.identity import SubjectIdentifiers
from rightsflow.register import AuditEntry, Register
from rightsflow.request_service import Filed

PASSWORD = "a long enough passphrase"
NHS = "9434765919"


class FakeService:
    """Stands in for the request service (RequestService's interface): records what the console
    asked of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []

    async def status(self, request_id: str) -> None:
        return None

    async def approve(self, request_id: str, *, actor: str) -> None:
        self.calls.append(("approve", request_id, {"actor": actor}))

    async def extend(self, request_id: str, *, reason: str, actor: str) -> None:
        self.calls.append(("extend", request_id, {"reason": reason, "actor": actor}))

    async def file_erasure(
        self, *, actor: str, subject: SubjectIdentifiers, ground: str, **kw: object
    ) -> Filed:
        self.calls.append(("file_erasure", subject.nhs_number, {"ground": ground, "actor": actor}))
        self.filed = kw
        return Filed(request_id="rq_fake", workflow_id="erasure-rq_fake", subject_ref="rs_fake")

    async def file_rectification(self, *, subject: SubjectIdentifiers, **kw: object) -> Filed:
        self.calls.append(("file_rectification", subject.nhs_number or "", kw))
        return Filed(request_id="rq_rect", workflow_id="rectification-rq_rect", subject_ref="rs_fake")

    async def refuse_transfer(self, request_id: str, *, reason: str, actor: str) -> None:
        self.calls.append(("refuse_transfer", request_id, {"reason": reason, "actor": actor}))

    async def redactions(self, request_id: str) -> dict:
        from rightsflow.redaction import MASK

        row = {
            "session_ref": "S1",
            "notes": f"Visit with {MASK} and Sam at home",
            "activity": "Stay and play",
        }
        where = {"service": HUB, "collection": "hub_session", "record_key": "S1", "field": "notes"}
        return {
            "services": [
                {
                    "service": HUB,
                    "name": "Bessborough Family Hub",
                    "authority": "Westminster",
                    "collections": [{"collection": "hub_session", "key_field": "session_ref", "rows": [row]}],
                }
            ],
            "redactions": [
                {**where, "text": "Kelly Brown", "released": False, "redaction_id": "r1", "legal_basis": "x"},
                {**where, "text": "Sam", "released": True, "redaction_id": "r2", "legal_basis": "x"},
            ],
        }

    async def decide_erasure(self, request_id: str, **kw: object) -> None:
        self.calls.append(("decide_erasure", request_id, kw))

    async def decide_objection(self, request_id: str, **kw: object) -> None:
        self.calls.append(("decide_objection", request_id, kw))

    async def decide_rectification(self, request_id: str, **kw: object) -> None:
        self.calls.append(("decide_rectification", request_id, kw))

    async def lift(self, request_id: str, **kw: object) -> None:
        self.calls.append(("lift", request_id, kw))

    async def resolve(self, request_id: str, **kw: object) -> None:
        self.calls.append(("resolve", request_id, kw))


@pytest.fixture
def console(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RIGHTSFLOW_CONSOLE_SIGNIN_LIMIT", "3/15minutes")
    register = Register(settings)
    register.create_schema()
    for name, role, service in (
        ("dana", "dpo", None),
        ("rita", "records_manager", None),
        ("audrey", "auditor", None),
        ("hugh", "service_lead", "westminster_family_hub"),
    ):
        add_user(register, name, role, PASSWORD, service=service)
    fake = FakeService()
    app = create_app(settings, register=register, service=fake)
    return app, register, fake


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def signed_in(app, name: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    token = csrf_of(client.get("/sign-in").text)
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "username": name, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def a_request(register: Register, received: date | None = None, deadline: date | None = None) -> str:
    ref = register.register_subject(
        SubjectIdentifiers.parse(nhs_number=NHS, name="Amelia Okafor", dob="2015-03-14")
    )
    req = register.create_request("subject_access", ref, received_on=received or date.today())
    if deadline:
        register.update_request(req.request_id, deadline=deadline, clock_start=received or date.today())
    return req.request_id


def test_every_page_needs_sign_in(console) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = console
    client = TestClient(app)
    for path in ("/requests", "/requests/new", "/retention", "/reports", "/requests.csv"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    assert client.post("/requests/new", data={}).status_code == 403


def test_session_cookie_is_httponly_and_samesite(console) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = console
    client = TestClient(app)
    token = csrf_of(client.get("/sign-in").text)
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "username": "dana", "password": PASSWORD, "next": "/requests"},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert r.headers["location"] == "/requests"


def test_session_cookie_is_secure_behind_https(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSFLOW_CONSOLE_URL", "https://casework.council.example")
    register = Register(settings)
    register.create_schema()
    add_user(register, "dana", "dpo", PASSWORD)
    app = create_app(settings, register=register)
    client = TestClient(app, base_url="https://testserver")
    token = csrf_of(client.get("/sign-in").text)
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "username": "dana", "password": PASSWORD},
        follow_redirects=False,
    )
    assert "secure" in r.headers["set-cookie"].lower()


def test_a_wrong_password_is_refused_and_sign_in_attempts_are_limited(console) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = console
    client = TestClient(app)
    token = csrf_of(client.get("/sign-in").text)
    for _ in range(3):
        r = client.post(
            "/sign-in", data={"csrf_token": token, "username": "dana", "password": "wrong password!"}
        )
        assert r.status_code == 400
        assert "govuk-error-summary" in r.text and "not right" in r.text
    # the right password no longer works until the window passes
    r = client.post("/sign-in", data={"csrf_token": token, "username": "dana", "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed sign-in attempts" in r.text


def test_post_without_csrf_token_is_403(console) -> None:  # type: ignore[no-untyped-def]
    app, register, fake = console
    rid = a_request(register)
    client = signed_in(app, "dana")
    assert client.post(f"/requests/{rid}/actions/approve", data={}).status_code == 403
    assert client.post(f"/requests/{rid}/actions/approve", data={"csrf_token": "forged"}).status_code == 403
    assert fake.calls == []
    assert (
        TestClient(app).post("/sign-in", data={"username": "dana", "password": PASSWORD}).status_code == 403
    )


def test_an_auditor_cannot_approve_on_the_server(console) -> None:  # type: ignore[no-untyped-def]
    app, register, fake = console
    rid = a_request(register)
    client = signed_in(app, "audrey")
    page = client.get(f"/requests/{rid}")
    assert page.status_code == 200 and "Approve the response" not in page.text
    r = client.post(f"/requests/{rid}/actions/approve", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 403
    assert fake.calls == []


def test_a_dpo_action_goes_to_the_service_under_their_name(console) -> None:  # type: ignore[no-untyped-def]
    app, register, fake = console
    rid = a_request(register)
    client = signed_in(app, "dana")
    token = csrf_of(client.get(f"/requests/{rid}").text)
    r = client.post(f"/requests/{rid}/actions/extend", data={"csrf_token": token, "reason": "short"})
    assert r.status_code == 400 and "govuk-error-summary" in r.text and 'href="#reason"' in r.text
    r = client.post(
        f"/requests/{rid}/actions/extend",
        data={"csrf_token": token, "reason": "numerous records across five services"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert fake.calls == [
        ("extend", rid, {"reason": "numerous records across five services", "actor": "console:dana"})
    ]


def test_subject_is_masked_until_revealed_and_each_reveal_is_audited(console) -> None:  # type: ignore[no-untyped-def]
    app, register, _ = console
    rid = a_request(register)
    client = signed_in(app, "dana")
    page = client.get(f"/requests/{rid}").text
    assert "Okafor" not in page and NHS not in page and "943 476 5919" not in page
    assert "5919" in page  # the last digits, to tell requests apart
    revealed = client.post(f"/requests/{rid}/reveal", data={"csrf_token": csrf_of(page)}).text
    assert "Amelia Okafor" in revealed and "943 476 5919" in revealed
    assert "Okafor" not in client.get(f"/requests/{rid}").text  # shown once, not remembered
    trail = [e for e in register.audit_trail(rid) if e.action == "console.subject.revealed"]
    assert [e.actor for e in trail] == ["dana"]
    # an auditor cannot reveal
    auditor = signed_in(app, "audrey")
    token = csrf_of(auditor.get(f"/requests/{rid}").text)
    assert auditor.post(f"/requests/{rid}/reveal", data={"csrf_token": token}).status_code == 403


def test_a_service_lead_sees_only_requests_about_their_service(console) -> None:  # type: ignore[no-untyped-def]
    app, register, _ = console
    theirs, other = a_request(register), a_request(register)
    register.record_matches(theirs, "westminster_family_hub", [("H1", "exact_identifier")])
    register.record_matches(other, "lewisham_family_thrive", [("F1", "exact_identifier")])
    client = signed_in(app, "hugh")
    queue = client.get("/requests").text
    assert theirs in queue and other not in queue
    assert client.get(f"/requests/{other}").status_code == 403
    assert client.get(f"/requests/{theirs}").status_code == 200
    assert client.get("/retention").status_code == 403


def test_queue_shows_deadline_badge_filters_and_csv(console) -> None:  # type: ignore[no-untyped-def]
    app, register, _ = console
    today = date.today()
    late = a_request(register, today - timedelta(days=40), today - timedelta(days=8))
    soon = a_request(register, today - timedelta(days=27), today + timedelta(days=2))
    closed = a_request(register, today - timedelta(days=20), today + timedelta(days=10))
    register.update_request(closed, status="closed")
    client = signed_in(app, "dana")
    page = client.get("/requests").text
    assert late in page and soon in page and closed not in page
    assert "Overdue" in page and "Due within 5 working days" in page
    assert page.index(late) < page.index(soon)  # soonest deadline first
    assert closed in client.get("/requests?show=closed").text
    csv_text = client.get("/requests.csv?show=all").text
    assert csv_text.splitlines()[0].startswith("Request,Type,Stage,Received")
    assert len(csv_text.splitlines()) == 4


def test_idle_sessions_expire(console, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = console
    client = signed_in(app, "dana")
    assert client.get("/requests", follow_redirects=False).status_code == 200
    idle = app.state.config.idle_seconds
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + idle + 5)
    r = client.get("/requests", follow_redirects=False)
    assert r.status_code == 303 and "expired=1" in r.headers["location"]


def test_govuk_styles_use_the_arial_stack(console) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = console
    css = TestClient(app).get("/assets/govuk-frontend.min.css").text
    assert "GDS Transport" not in css and "font-family:arial,sans-serif" in css


def test_accounts_hash_passwords_and_check_their_input(settings: Settings) -> None:
    register = Register(settings)
    register.create_schema()
    add_user(register, "dana", "dpo", PASSWORD)
    with register.session() as s:
        from rightsflow.console.accounts import ConsoleUser

        stored = s.get(ConsoleUser, "dana").password_hash
    assert stored.startswith("$argon2") and PASSWORD not in stored
    assert authenticate(register, "dana", PASSWORD).role == "dpo"
    assert authenticate(register, "dana", "not the password") is None
    assert authenticate(register, "nobody", PASSWORD) is None
    for args, message in (
        (("x y", "dpo", PASSWORD), "user name"),
        (("lead", "service_lead", PASSWORD), "needs --service"),
        (("boss", "admin", PASSWORD), "role must be one of"),
        (("short", "dpo", "tiny"), "at least 12"),
        (("dana", "dpo", PASSWORD), "already exists"),
    ):
        with pytest.raises(AccountError, match=message):
            add_user(register, *args)
    with register.session() as s:
        added = [json.loads(e.detail) for e in s.query(AuditEntry).filter_by(action="console.user.added")]
    assert added == [{"role": "dpo", "user": "dana"}]


def test_oidc_settings_and_role_mapping(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from rightsflow.console.oidc import role_from_claims

    monkeypatch.setenv("RIGHTSFLOW_OIDC_ISSUER", "https://login.microsoftonline.com/tenant/v2.0")
    with pytest.raises(ConfigError, match="CLIENT_ID"):
        load_console_config(settings)
    monkeypatch.setenv("RIGHTSFLOW_OIDC_CLIENT_ID", "client")
    monkeypatch.setenv("RIGHTSFLOW_OIDC_CLIENT_SECRET", "secret")
    monkeypatch.setenv("RIGHTSFLOW_OIDC_ROLE_MAP", "IG.DPO=dpo,Hub.Lead=service_lead:westminster_family_hub")
    config = load_console_config(settings).oidc
    assert config is not None
    assert (
        config.metadata_url
        == "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration"
    )
    assert role_from_claims(config, {"roles": ["Other", "Hub.Lead"]}) == (
        "service_lead",
        "westminster_family_hub",
    )
    assert role_from_claims(config, {"roles": "IG.DPO"}) == ("dpo", None)
    assert role_from_claims(config, {"roles": ["Other"]}) is None
    with pytest.raises(ConfigError):
        parse_role_map("Lead=service_lead")


def test_working_days_and_badges() -> None:
    friday = date(2026, 11, 27)
    assert working_days_between(friday, date(2026, 11, 30)) == 1  # the weekend does not count
    assert working_days_between(date(2026, 12, 1), date(2026, 11, 27)) == -2
    assert badge_for("open", date(2026, 12, 4), 5, False).text == "Due within 5 working days"
    assert badge_for("open", date(2026, 12, 4), 6, False).text == "On track"
    assert badge_for("open", date(2026, 12, 4), -1, False).text == "Overdue"
    assert badge_for("open", date(2026, 12, 4), 3, True).text == "Paused"


def test_reports_show_the_audit_chain_verified_a_chart_and_csv(console) -> None:  # type: ignore[no-untyped-def]
    app, register, _ = console
    today = date.today()
    a_request(register, today - timedelta(days=3), today + timedelta(days=25))
    client = signed_in(app, "rita")
    page = client.get("/reports").text
    assert "Audit log verified" in page and "<svg" in page and "Requests received and closed" in page
    csv_text = client.get("/reports.csv").text.splitlines()
    assert csv_text[0].startswith("Month,Type,Received,Closed")
    assert f"{(today - timedelta(days=3)):%Y-%m},Subject access,1,0" in csv_text[1]


def test_transfer_refusal_needs_a_reason_and_goes_to_the_service(console) -> None:  # type: ignore[no-untyped-def]
    app, register, fake = console
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=NHS))
    rid = register.create_request("transfer", ref, received_on=date.today()).request_id
    register.update_request(rid, stage="awaiting_approval")
    client = signed_in(app, "dana")
    page = client.get("/transfers").text
    assert rid in page and "Refuse" in page
    token = csrf_of(page)
    r = client.post(f"/transfers/{rid}", data={"csrf_token": token, "decision": "refuse"})
    assert r.status_code == 400 and "Enter why the transfer is refused" in r.text
    r = client.post(
        f"/transfers/{rid}",
        data={"csrf_token": token, "decision": "refuse", "reason": "the family has not moved"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    refused = {"reason": "the family has not moved", "actor": "console:dana"}
    assert fake.calls[-1] == ("refuse_transfer", rid, refused)
    auditor = signed_in(app, "audrey")
    r = auditor.post(f"/transfers/{rid}", data={"csrf_token": csrf_of(auditor.get("/transfers").text)})
    assert r.status_code == 403


def test_a_records_manager_decides_a_review_item_and_an_auditor_cannot(console) -> None:  # type: ignore[no-untyped-def]
    from rightsflow.retention import RetentionReview

    app, register, _ = console
    ref = "rh" + "0" * 22
    with register.session() as s:
        s.add(
            RetentionReview(
                service="lewisham_childrens_social_care",
                household_ref=ref,
                rule_id="child_in_need_case_file",
                household_keys=json.dumps({"people": [], "groups": []}),
                stages=1,
                stage=1,
                due_on=date.today(),
                status="open",
                opened_sweep="sweep-test",
                opened_on=date.today(),
            )
        )
    auditor = signed_in(app, "audrey")
    page = auditor.get("/retention").text
    assert ref[:12] in page and "Approve disposal" not in page
    r = auditor.post(f"/retention/reviews/{ref}", data={"csrf_token": csrf_of(page), "decision": "approve"})
    assert r.status_code == 403
    rita = signed_in(app, "rita")
    token = csrf_of(rita.get("/retention").text)
    r = rita.post(
        f"/retention/reviews/{ref}", data={"csrf_token": token, "decision": "extend", "extend_to": "soon"}
    )
    assert r.status_code == 400 and "govuk-error-summary" in r.text and "Enter the date" in r.text
    r = rita.post(
        f"/retention/reviews/{ref}",
        data={"csrf_token": token, "decision": "approve", "service": "lewisham_childrens_social_care"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with register.session() as s:
        item = s.get(RetentionReview, ("lewisham_childrens_social_care", ref, "child_in_need_case_file"))
        assert item.status == "approved" and json.loads(item.approvals)[0]["by"] == "rita"


def test_withheld_text_is_shown_highlighted_in_its_field() -> None:
    from rightsflow.console.actions import _highlight
    from rightsflow.redaction import MASK

    one = {"text": "Kelly Brown", "released": False}
    released = {"text": "Sam", "released": True}
    pieces = _highlight(f"Visit with {MASK} and Sam at home", [one, released])
    assert ("Kelly Brown", "rf-withheld", one) in pieces
    assert ("Sam", "rf-released", released) in pieces
    assert "".join(p[0] for p in pieces) == "Visit with Kelly Brown and Sam at home"


def test_new_request_form_checks_the_nhs_number_and_dates_and_files_by_kind(console) -> None:  # type: ignore[no-untyped-def]
    app, _, fake = console
    client = signed_in(app, "dana")
    token = csrf_of(client.get("/requests/new").text)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    r = client.post(
        "/requests/new",
        data={
            "csrf_token": token,
            "request_type": "erasure",
            "received": tomorrow,
            "nhs_number": "943 476 5918",
        },
    )
    assert r.status_code == 400
    start = r.text.index("govuk-error-summary__list")
    summary = r.text[start : r.text.index("</ul>", start)]
    assert 'href="#nhs_number"' in summary and "check digit" in summary
    assert 'href="#received"' in summary and "today or in the past" in summary
    assert "5918" not in summary  # the identifier is never echoed
    assert fake.calls == []
    r = client.post(
        "/requests/new",
        data={
            "csrf_token": token,
            "request_type": "erasure",
            "received": date.today().isoformat(),
            "nhs_number": "943 476 5919",
            "ground": "no-longer-needed",
            "controller": "lewisham",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/requests/rq_fake?done=filed", _summary(r.text)
    assert fake.calls == [("file_erasure", NHS, {"ground": "no-longer-needed", "actor": "console:dana"})]


class StartedWorkflows:
    """A Temporal client that records the workflows started, so the real request service runs."""

    def __init__(self) -> None:
        self.started: list[tuple[object, str]] = []

    async def start_workflow(self, workflow: object, arg: object, *, id: str, task_queue: str) -> None:
        self.started.append((arg, id))


def test_an_erasure_filed_in_the_console_goes_through_the_request_service(settings: Settings) -> None:
    from rightsflow.console.bridge import ConsoleService

    register = Register(settings)
    register.create_schema()
    add_user(register, "dana", "dpo", PASSWORD)
    temporal = StartedWorkflows()
    app = create_app(settings, register=register, service=ConsoleService(settings, client=temporal))
    client = signed_in(app, "dana")
    r = client.post(
        "/requests/new",
        data={
            "csrf_token": csrf_of(client.get("/requests/new").text),
            "request_type": "erasure",
            "received": date.today().isoformat(),
            "nhs_number": "943 476 5919",
            "ground": "no-longer-needed",
            "controller": "lewisham",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    rid = r.headers["location"].removeprefix("/requests/").split("?")[0]
    req = register.get_request(rid)
    assert req.request_type == "erasure" and req.workflow_id == f"erasure-{rid}"
    [(arg, wid)] = temporal.started
    assert wid == f"erasure-{rid}" and arg.ground == "no-longer-needed" and arg.subject_ref == req.subject_ref
    # the register records who filed it, through the console, once
    filed = [e for e in register.audit_trail(rid) if e.action.endswith("filed")]
    assert [(e.action, e.actor) for e in filed] == [("erasure.filed", "console:dana")]


HUB = "westminster_family_hub"
THRIVE = "lewisham_family_thrive"


def a_right(register: Register, kind: str, stage: str, services: tuple[str, ...] = ()) -> str:
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=NHS))
    rid = register.create_request(kind, ref, received_on=date.today()).request_id
    register.update_request(rid, stage=stage)
    for i, svc in enumerate(services):
        register.record_matches(rid, svc, [(f"K{i}", "exact_identifier")])
    return rid


def test_an_erasure_is_decided_per_service_in_the_console(console) -> None:  # type: ignore[no-untyped-def]
    app, register, fake = console
    rid = a_right(register, "erasure", "awaiting_decision", (HUB, THRIVE))
    client = signed_in(app, "dana")
    page = client.get(f"/requests/{rid}").text
    assert "Decide the erasure, service by service" in page and f'name="erasure:{HUB}"' in page
    token = csrf_of(page)
    # refusing without naming the exemption is refused on the form, nothing is sent
    r = client.post(
        f"/requests/{rid}/actions/decide_erasure", data={"csrf_token": token, f"erasure:{HUB}": "refuse"}
    )
    assert r.status_code == 400 and f'href="#exemption-{HUB}"' in r.text and fake.calls == []
    r = client.post(f"/requests/{rid}/actions/decide_erasure", data={"csrf_token": token})
    assert r.status_code == 400 and "at least one service" in r.text
    r = client.post(
        f"/requests/{rid}/actions/decide_erasure",
        data={
            "csrf_token": token,
            f"erasure:{HUB}": "refuse",
            f"exemption:{HUB}": "safeguarding_concern",
            f"erasure:{THRIVE}": "erase",
            "erasure_reason": "consent withdrawn at Family Thrive",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("done=decide_erasure")
    assert fake.calls == [
        (
            "decide_erasure",
            rid,
            {
                "actor": "console:dana",
                "erase": [THRIVE],
                "refuse": {HUB: "safeguarding_concern"},
                "confirm_proposals": False,
                "reason": "consent withdrawn at Family Thrive",
            },
        )
    ]
    assert "The erasure decisions have been recorded" in client.get(r.headers["location"]).text


def test_a_service_lead_answers_only_for_their_own_service(console) -> None:  # type: ignore[no-untyped-def]
    app, register, fake = console
    rid = a_right(register, "erasure", "awaiting_decision", (HUB, THRIVE))
    hugh = signed_in(app, "hugh")
    page = hugh.get(f"/requests/{rid}").text
    assert f'name="erasure:{HUB}"' in page and f'name="erasure:{THRIVE}"' not in page
    token = csrf_of(page)
    r = hugh.post(
        f"/requests/{rid}/actions/decide_erasure", data={"csrf_token": token, f"erasure:{THRIVE}": "erase"}
    )
    assert r.status_code == 403 and fake.calls == []
    # nor may a service lead take the DPO's decisions (every proposal, a lift)
    r = hugh.post(
        f"/requests/{rid}/actions/decide_erasure",
        data={"csrf_token": token, f"erasure:{HUB}": "erase", "confirm_proposals": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert fake.calls[-1][2]["erase"] == [HUB] and fake.calls[-1][2]["confirm_proposals"] is False
    assert fake.calls[-1][2]["actor"] == "console:hugh"
    restriction = a_right(register, "restriction", "restricted", (HUB,))
    r = hugh.post(
        f"/requests/{restriction}/actions/lift", data={"csrf_token": token, "lift_reason": "x" * 20}
    )
    assert r.status_code == 403 and len(fake.calls) == 1


def test_objection_rectification_restriction_and_attention_decisions(console) -> None:  # type: ignore[no-untyped-def]
    app, register, fake = console
    client = signed_in(app, "dana")
    objection = a_right(register, "objection", "awaiting_decision", (HUB, THRIVE))
    token = csrf_of(client.get(f"/requests/{objection}").text)
    r = client.post(
        f"/requests/{objection}/actions/decide_objection",
        data={"csrf_token": token, f"objection:{HUB}": "uphold", f"objection:{THRIVE}": "override"},
    )
    assert r.status_code == 400 and 'href="#objection_reason"' in r.text and fake.calls == []
    reason = "your interests outweigh the processing at the hub"
    r = client.post(
        f"/requests/{objection}/actions/decide_objection",
        data={
            "csrf_token": token,
            f"objection:{HUB}": "uphold",
            f"objection:{THRIVE}": "override",
            "objection_reason": reason,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert fake.calls == [
        (
            "decide_objection",
            objection,
            {"actor": "console:dana", "services": [HUB], "uphold": True, "reason": reason},
        ),
        (
            "decide_objection",
            objection,
            {"actor": "console:dana", "services": [THRIVE], "uphold": False, "reason": reason},
        ),
    ]
    fake.calls.clear()

    rect = a_right(register, "rectification", "awaiting_decision", (HUB,))
    page = client.get(f"/requests/{rect}").text
    assert "Decide the correction" in page
    r = client.post(
        f"/requests/{rect}/actions/decide_rectification", data={"csrf_token": token, "accept": "no"}
    )
    assert r.status_code == 400 and 'href="#rectify_reason"' in r.text and fake.calls == []
    r = client.post(
        f"/requests/{rect}/actions/decide_rectification",
        data={
            "csrf_token": token,
            "accept": "no",
            "rectify_reason": "the entry records the worker's opinion",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and fake.calls[-1][2]["accept"] is False

    restriction = a_right(register, "restriction", "restricted", (HUB,))
    page = client.get(f"/requests/{restriction}").text
    assert "Lift the restriction" in page and "Decide the correction" not in page
    r = client.post(f"/requests/{restriction}/actions/lift", data={"csrf_token": token, "lift_reason": ""})
    assert r.status_code == 400 and 'href="#lift_reason"' in r.text
    r = client.post(
        f"/requests/{restriction}/actions/lift",
        data={"csrf_token": token, "lift_reason": "the accuracy check is finished"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert fake.calls[-1] == (
        "lift",
        restriction,
        {"actor": "console:dana", "reason": "the accuracy check is finished"},
    )

    stuck = a_right(register, "erasure", "erasing", (HUB,))
    register.update_request(stuck, status="needs_attention", attention="store_schema")
    page = client.get(f"/requests/{stuck}").text
    assert "This request needs attention" in page and "Decide the erasure" not in page
    r = client.post(
        f"/requests/{stuck}/actions/resolve",
        data={"csrf_token": token, "resolve_action": "retry"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert fake.calls[-1] == ("resolve", stuck, {"actor": "console:dana", "action": "retry", "note": ""})
    # an auditor sees the request but none of these forms, and the server refuses the POST
    audrey = signed_in(app, "audrey")
    assert "Tell the person and lift" not in audrey.get(f"/requests/{restriction}").text
    r = audrey.post(
        f"/requests/{rect}/actions/decide_rectification",
        data={"csrf_token": csrf_of(audrey.get("/requests").text), "accept": "yes"},
    )
    assert r.status_code == 403


def _summary(page: str) -> str:
    start = page.index("govuk-error-summary__list")
    return page[start : page.index("</ul>", start)]


def test_new_request_form_offers_every_kind_and_the_council(console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app, _, fake = console
    # no council configured as the default: the DPO must choose one of the several
    monkeypatch.delenv("RIGHTSFLOW_DEFAULT_CONTROLLER", raising=False)
    if hasattr(app.state.settings, "default_controller"):
        app.state.settings = dataclasses.replace(app.state.settings, default_controller=None)
    client = signed_in(app, "dana")
    page = client.get("/requests/new").text
    for label in (
        "Rectification request",
        "Restriction request",
        "Objection",
        "Consent withdrawal",
        "Portability",
    ):
        assert label in page
    assert '<option value="westminster">' in page and '<option value="lewisham">' in page
    assert '<option value="" selected>Choose a council</option>' in page  # several: none preselected
    token = csrf_of(page)
    base = {"csrf_token": token, "received": date.today().isoformat(), "nhs_number": "943 476 5919"}
    # several councils and none chosen: the form says so, nothing is filed
    r = client.post("/requests/new", data={**base, "request_type": "rectification"})
    assert r.status_code == 400
    summary = _summary(r.text)
    assert 'href="#controller"' in summary and 'href="#field"' in summary and 'href="#value"' in summary
    # someone acting for the person must be named, and an email must look like one
    r = client.post(
        "/requests/new",
        data={
            **base,
            "request_type": "erasure",
            "controller": "lewisham",
            "requester": "solicitor",
            "requester_email": "not-an-email",
        },
    )
    assert 'href="#requester_name"' in _summary(r.text) and 'href="#requester_email"' in _summary(r.text)
    assert fake.calls == []
    r = client.post(
        "/requests/new",
        data={
            **base,
            "request_type": "rectification",
            "controller": "westminster",
            "field": "user.contact.phone_number",
            "value": "020 7946 0000",
            "requester": "parent",
            "requester_name": "Grace Okafor",
            "requester_address": "1 High Street\nLondon SW1A 1AA",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/requests/rq_rect?done=filed"
    [(what, nhs, kw)] = fake.calls
    assert what == "file_rectification" and nhs == NHS
    assert kw["controller"] == "westminster" and kw["field"] == "user.contact.phone_number"
    assert kw["value"] == "020 7946 0000" and kw["requester"] == "parent" and kw["actor"] == "console:dana"
    assert kw["requester_details"] == {
        "kind": "parent",
        "name": "Grace Okafor",
        "email": None,
        "address": ["1 High Street", "London SW1A 1AA"],
    }
    # the configured default council is preselected
    monkeypatch.setenv("RIGHTSFLOW_DEFAULT_CONTROLLER", "westminster")
    page = client.get("/requests/new").text
    assert '<option value="westminster" selected>' in page


def test_a_restriction_and_a_portability_request_are_filed_for_the_council_chosen(settings: Settings) -> None:
    from rightsflow.console.bridge import ConsoleService

    register = Register(settings)
    register.create_schema()
    add_user(register, "dana", "dpo", PASSWORD)
    temporal = StartedWorkflows()
    app = create_app(settings, register=register, service=ConsoleService(settings, client=temporal))
    client = signed_in(app, "dana")
    token = csrf_of(client.get("/requests/new").text)
    base = {"csrf_token": token, "received": date.today().isoformat(), "nhs_number": "943 476 5919"}
    r = client.post(
        "/requests/new",
        data={
            **base,
            "request_type": "restriction",
            "controller": "lewisham",
            "restriction_reason": "legal-claims",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    rid = r.headers["location"].removeprefix("/requests/").split("?")[0]
    req = register.get_request(rid)
    assert req.request_type == "restriction" and req.controller == "lewisham"
    (arg, wid) = temporal.started[-1]
    assert wid == f"restriction-{rid}" and arg.reason == "legal-claims"
    # portability: only from a service where Article 20 applies, else refused with nothing filed
    r = client.post(
        "/requests/new",
        data={
            **base,
            "request_type": "portability",
            "controller": "lewisham",
            "from_service": "lewisham_childrens_social_care",
        },
    )
    assert r.status_code == 400 and "Article 20 portability does not apply" in r.text
    assert len(temporal.started) == 1
    r = client.post(
        "/requests/new",
        data={
            **base,
            "request_type": "portability",
            "controller": "lewisham",
            "from_service": "lewisham_family_thrive",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    rid = r.headers["location"].removeprefix("/requests/").split("?")[0]
    (arg, wid) = temporal.started[-1]
    assert wid == f"portability-{rid}" and arg.service == "lewisham_family_thrive"
    filed = [e for e in register.audit_trail(rid) if e.action.endswith("filed")]
    assert [(e.action, e.actor) for e in filed] == [("portability.filed", "console:dana")]


def test_a_request_is_assigned_to_a_dpo_the_queue_filters_by_it_and_it_is_audited(console) -> None:  # type: ignore[no-untyped-def]
    app, register, _ = console
    add_user(register, "omar", "dpo", PASSWORD)
    today = date.today()
    mine = a_request(register, today - timedelta(days=3), today + timedelta(days=25))
    theirs = a_request(register, today - timedelta(days=2), today + timedelta(days=26))
    client = signed_in(app, "dana")
    page = client.get(f"/requests/{mine}").text
    assert "Nobody yet" in page and '<option value="omar">' in page
    assert '<option value="rita">' not in page  # only DPOs take requests
    token = csrf_of(page)
    r = client.post(f"/requests/{mine}/actions/assign", data={"csrf_token": token, "assignee": "rita"})
    assert r.status_code == 400 and 'href="#assignee"' in r.text
    assert register.get_request(mine).assignee is None
    r = client.post(
        f"/requests/{mine}/actions/assign",
        data={"csrf_token": token, "assignee": "dana"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and register.get_request(mine).assignee == "dana"
    client.post(f"/requests/{theirs}/actions/assign", data={"csrf_token": token, "assignee": "omar"})
    queue = client.get("/requests").text
    assert "Assignee" in queue and mine in queue and theirs in queue
    row = queue[queue.index(f'data-request="{mine}"') :]
    assert '<td class="govuk-table__cell rf-assignee">dana</td>' in row[: row.index("</tr>")]
    only_mine = client.get("/requests?mine=1").text
    assert mine in only_mine and theirs not in only_mine
    assert client.get("/requests.csv?mine=1").text.splitlines()[1].endswith(",dana")
    trail = [(e.actor, e.action, e.detail) for e in register.audit_trail(mine) if "assigned" in e.action]
    assert trail == [("console:dana", "console.request.assigned", {"assignee": "dana", "previous": None})]
    # an auditor or a service lead cannot assign
    audrey = signed_in(app, "audrey")
    r = audrey.post(
        f"/requests/{mine}/actions/assign",
        data={"csrf_token": csrf_of(audrey.get("/requests").text), "assignee": "audrey"},
    )
    assert r.status_code == 403 and register.get_request(mine).assignee == "dana"


def test_a_records_manager_places_and_lifts_a_legal_hold_by_case_reference(console) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text

    from tests.support import seed_demo, store_urls

    app, register, _ = console
    settings = app.state.settings
    urls = store_urls(settings, (HUB, THRIVE))
    seed_demo(urls, families=6)
    hub = create_engine(urls[HUB])
    with hub.connect() as conn:
        case = conn.execute(
            text(
                "SELECT household_ref FROM household_member WHERE household_ref NOT IN "
                "(SELECT household_ref FROM household_flag "
                "WHERE kind = 'legal_hold' AND household_ref IS NOT NULL)"
            )
        ).scalar()
    assert case
    rita = signed_in(app, "rita")
    page = rita.get("/retention").text
    assert "Place a hold on a family" in page
    token = csrf_of(page)
    # a case reference the service does not have is refused, nothing is written
    r = rita.post(
        "/retention/holds",
        data={
            "csrf_token": token,
            "hold_service": HUB,
            "case_ref": "NO-SUCH-CASE",
            "hold_kind": "legal_hold",
            "hold_reason": "claim against the council",
        },
    )
    assert (
        r.status_code == 400
        and 'href="#case_ref"' in r.text
        and "no family with this case reference" in r.text
    )
    r = rita.post(
        "/retention/holds",
        data={
            "csrf_token": token,
            "hold_service": HUB,
            "case_ref": case,
            "hold_kind": "legal_hold",
            "hold_reason": "claim against the council",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with hub.connect() as conn:
        active = conn.execute(
            text(
                "SELECT count(*) FROM household_flag WHERE household_ref = :c "
                "AND kind = 'legal_hold' AND cleared_on IS NULL"
            ),
            {"c": case},
        ).scalar()
    assert active == 1  # the row the sweep honours
    page = rita.get("/retention").text
    row = page[page.index(f'data-hold="{HUB}/{case}/legal_hold"') :]
    row = row[: row.index("</tr>")]
    assert "Legal hold" in row and "claim against the council" in row and "console:rita" in row
    # an auditor sees the hold but cannot place or lift one
    audrey = signed_in(app, "audrey")
    seen = audrey.get("/retention").text
    assert f'data-hold="{HUB}/{case}/legal_hold"' in seen and "Place a hold on a family" not in seen
    r = audrey.post(
        "/retention/holds/lift",
        data={
            "csrf_token": csrf_of(seen),
            "service": HUB,
            "case_ref": case,
            "hold_kind": "legal_hold",
            "lift_reason": "claim settled",
        },
    )
    assert r.status_code == 403
    r = rita.post(
        "/retention/holds/lift",
        data={
            "csrf_token": token,
            "service": HUB,
            "case_ref": case,
            "hold_kind": "legal_hold",
            "lift_reason": "claim settled",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with hub.connect() as conn:
        ended = conn.execute(
            text("SELECT cleared_on FROM household_flag WHERE household_ref = :c AND kind = 'legal_hold'"),
            {"c": case},
        ).scalar()
    assert ended is not None
    assert f'data-hold="{HUB}/{case}/legal_hold"' not in rita.get("/retention").text
    with register.session() as s:
        actions = [
            (e.actor, e.action, e.detail)
            for e in s.query(AuditEntry).filter(AuditEntry.action.like("retention.hold.%"))
        ]
    assert [(a, b) for a, b, _ in actions] == [
        ("console:rita", "retention.hold.placed"),
        ("console:rita", "retention.hold.lifted"),
    ]
    assert all(
        case not in d and "claim" not in d for _, _, d in actions
    )  # no case reference or reason in the log


def test_review_items_show_the_case_reference_and_can_move_to_another_rule(console) -> None:  # type: ignore[no-untyped-def]
    from rightsflow.retention import RetentionReview

    app, register, _ = console
    svc = app.state.catalog["lewisham_childrens_social_care"]
    rules = [r.rule_id for r in svc.retention]
    assert len(rules) > 1
    ref = "rh" + "1" * 22
    with register.session() as s:
        s.add(
            RetentionReview(
                service=svc.service,
                household_ref=ref,
                rule_id=rules[0],
                household_keys=json.dumps({"people": ["P-0042", "P-0043"], "groups": []}),
                stages=1,
                stage=1,
                due_on=date.today(),
                status="open",
                opened_sweep="sweep-test",
                opened_on=date.today(),
            )
        )
    rita = signed_in(app, "rita")
    page = rita.get("/retention").text
    row = page[page.index(f'data-ref="{ref}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="govuk-table__cell rf-case-ref">P-0042</td>' in row
    assert (
        f'<option value="{rules[1]}">' in row
        and f'<option value="{rules[0]}">' not in row.split('name="move_to"')[1]
    )
    r = rita.post(
        f"/retention/reviews/{ref}",
        data={
            "csrf_token": csrf_of(page),
            "decision": "move",
            "move_to": rules[1],
            "service": svc.service,
            "rule": rules[0],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with register.session() as s:
        item = s.get(RetentionReview, (svc.service, ref, rules[0]))
        assert item.status == "moved" and item.moved_to == rules[1]


def test_the_pack_preview_shows_the_records_as_the_pack_will_with_withheld_text_replaced(console) -> None:  # type: ignore[no-untyped-def]
    app, register, _ = console
    rid = a_request(register)
    register.update_request(rid, stage="awaiting_review")
    client = signed_in(app, "dana")
    assert f'href="/requests/{rid}/redactions/preview"' in client.get(f"/requests/{rid}/redactions").text
    preview = client.get(f"/requests/{rid}/redactions/preview")
    assert preview.status_code == 200 and preview.headers["cache-control"] == "no-store"
    page = preview.text
    assert (
        "Preview: not sent" in page and "Session at the hub" in page and "Notes" in page
    )  # the pack's labels
    assert "Visit with [withheld: third party] and Sam at home" in page  # released text back in
    assert "Kelly Brown" not in page and "notes" not in page and "hub_session" not in page
    assert "Okafor" not in page  # the person's name is not shown by a preview
    # a service lead has no pack to look at; an erasure has none at all
    hugh = signed_in(app, "hugh")
    register.record_matches(rid, HUB, [("H1", "exact_identifier")])
    assert hugh.get(f"/requests/{rid}/redactions/preview").status_code == 403
    erasure = a_right(register, "erasure", "awaiting_decision")
    assert client.get(f"/requests/{erasure}/redactions/preview").status_code == 404


def test_a_transfer_is_filed_to_the_council_the_family_moved_to(settings: Settings) -> None:
    from rightsflow.console.bridge import ConsoleService

    register = Register(settings)
    register.create_schema()
    add_user(register, "dana", "dpo", PASSWORD)
    temporal = StartedWorkflows()
    app = create_app(settings, register=register, service=ConsoleService(settings, client=temporal))
    client = signed_in(app, "dana")
    token = csrf_of(client.get("/requests/new").text)
    base = {
        "csrf_token": token,
        "received": date.today().isoformat(),
        "nhs_number": "943 476 5919",
        "request_type": "transfer",
        "controller": "lewisham",
        "from_service": THRIVE,
    }
    r = client.post("/requests/new", data={**base, "to_authority": "lewisham"})
    assert r.status_code == 400 and 'href="#to_authority"' in _summary(r.text) and temporal.started == []
    r = client.post("/requests/new", data={**base, "from_service": HUB, "to_authority": "camden"})
    assert 'href="#from_service"' in _summary(r.text)  # not one of Lewisham's services
    r = client.post("/requests/new", data={**base, "to_authority": "camden"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    rid = r.headers["location"].removeprefix("/requests/").split("?")[0]
    [(arg, wid)] = temporal.started
    assert wid == f"transfer-{rid}" and arg.transfer_id == rid and arg.service == THRIVE
    assert arg.from_authority == "lewisham" and arg.to_authority == "camden" and arg.to_task_queue
    req = register.get_request(rid)
    assert req.request_type == "transfer" and req.controller == "lewisham"
    assert rid in client.get("/transfers").text
