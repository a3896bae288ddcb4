"""A parent's subject access request for their child at Lewisham, end to end with a real SMTP
server: the acknowledgement names the deadline, the cover letter names the child, the parent and
Lewisham's DPO and carries the pack link; only Lewisham's stores are opened; the parent's own name
is not withheld from them as a third party's."""

from __future__ import annotations

import io
import re
import urllib.request
import zipfile
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, event, select

from activities.subject_access import gather_records, redact_dossiers, requester_own_names
from rightsflow.catalog import load_catalog
from rightsflow.clock import LONDON
from rightsflow.db import engine_for_url
from rightsflow.identity import SubjectIdentifiers
from rightsflow.letters import Letters
from rightsflow.mailcatcher import MailCatcher
from rightsflow.register import Register
from rightsflow.seed import shared_child_example
from rightsflow.stores import SCHEMAS
from tests.support import FT, codec_client, running_worker, store_urls, wait_stage
from workflows.subject_access import ApproveInput, SarInput, SubjectAccessRequest, VerifyInput

LEWISHAM = ("lewisham_family_thrive", "lewisham_childrens_social_care", "lewisham_early_help")


def _parent_of(url: str, child_nhs: str) -> tuple[str, str, str]:
    """(member id of the child, the parent's full name, the parent's given name) in Family Thrive."""
    t = SCHEMAS[FT].tables["ft_family_member"]
    with engine_for_url(url).connect() as conn:
        me = conn.execute(select(t).where(t.c.nhs_number == child_nhs)).mappings().one()
        parent = (
            conn.execute(
                select(t).where(
                    t.c.family_id == me["family_id"], t.c.relationship_to_lead.in_(["Self", "Partner"])
                )
            )
            .mappings()
            .first()
        )
    assert parent is not None
    return str(me["member_id"]), f"{parent['first_name']} {parent['last_name']}", parent["first_name"]


def _text(pdf: bytes) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages)


def _file(settings, child_nhs: str, parent: str, received: date) -> tuple[str, str, Register]:  # type: ignore[no-untyped-def]
    register = Register(settings)
    ref = register.register_subject(SubjectIdentifiers.parse(nhs_number=child_nhs))
    req = register.create_request(
        "subject_access",
        ref,
        received_on=received,
        requester="parent",
        controller="lewisham",
        requester_details={
            "kind": "parent",
            "name": parent,
            "email": "parent@example.com",
            "address": ["14 Brownhill Road", "London", "SE6 2AB"],
        },
    )
    return req.request_id, ref, register


@pytest.fixture
def catcher(monkeypatch):  # type: ignore[no-untyped-def]
    with MailCatcher() as c:
        monkeypatch.setenv("RIGHTSFLOW_SMTP_URL", c.url)
        yield c


async def test_a_parents_sar_at_lewisham_is_acknowledged_answered_and_searches_only_lewisham(
    sar_settings, time_skipping_env, catcher
):
    settings = sar_settings
    urls = store_urls(settings)
    cat = load_catalog(settings.catalog_dir)
    child = shared_child_example({s: urls[s] for s in LEWISHAM})
    _, parent, _ = _parent_of(urls[FT], child.nhs_number)
    opened: set[str] = set()

    def seen(conn) -> None:  # type: ignore[no-untyped-def]
        opened.add(str(conn.engine.url))

    client = codec_client(time_skipping_env.client, settings)
    today = (await time_skipping_env.get_current_time()).astimezone(LONDON).date()
    event.listen(Engine, "engine_connect", seen)
    try:
        async with running_worker(client, settings):
            rid, ref, register = _file(settings, child.nhs_number, parent, today)
            handle = await client.start_workflow(
                SubjectAccessRequest.run,
                SarInput(
                    request_id=rid,
                    subject_ref=ref,
                    received_on=today.isoformat(),
                    requester="parent",
                    services=cat.services_of("lewisham"),
                ),
                id=f"sar-{rid}",
                task_queue=settings.task_queue,
            )
            await handle.execute_update(
                SubjectAccessRequest.verify,
                VerifyInput(
                    identity_received=today.isoformat(),
                    authority_received=today.isoformat(),
                    parental_responsibility=True,
                ),
            )
            await wait_stage(handle, SubjectAccessRequest.status, "awaiting_review", timeout=120)
            await handle.execute_update(SubjectAccessRequest.approve, ApproveInput())
            result = await handle.result()
    finally:
        event.remove(Engine, "engine_connect", seen)
    assert result.outcome == "delivered"

    # only Lewisham's stores were opened: not Westminster's, Manchester's or Camden's
    store_of = {svc.store.resolved_url(settings.home): svc.service for svc in cat}
    touched = {store_of[u] for u in opened if u in store_of}
    assert touched and touched <= set(LEWISHAM), touched

    by_kind = {str(m["Subject"]).strip().partition(":")[0]: m for m in catcher.messages}
    ack = by_kind["Acknowledgement of your request"]
    cover = by_kind["Response to your subject access request"]
    assert ack["To"] == f"{parent} <parent@example.com>"
    letters = Letters(settings, cat, register)
    views = {v.kind: v for v in letters.letters_of(rid)}
    ack_text = _text(letters.read(views["acknowledgement"].pdf_key))
    one_month = register.get_request(rid).deadline
    assert one_month is not None
    assert f"{one_month.day} {one_month:%B %Y}" in ack_text
    assert parent in ack_text

    cover_text = _text(letters.read(views["sar_cover"].pdf_key))
    child_name = f"{child.given_name} {child.family_name}"
    for expected in (
        child_name,
        parent,
        "dpo@lewisham.example.org",
        "020 7946 0101",
        "London Borough of Lewisham",
    ):
        assert expected in cover_text, expected
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", re.sub(r"rq_[0-9a-f]+", "", cover_text)), "a raw code"
    for other in ("Westminster", "Manchester", "Camden"):
        assert other not in cover_text
    # the email carries the PDF and a working link to the pack
    body = cover.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+", body).group(0)  # type: ignore[union-attr]
    pack = zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(link).read()))  # noqa: S310 - local S3
    assert "records.pdf" in pack.namelist()
    records = pack.read("records.html").decode()
    assert "Family member" in records and "Date of birth" in records  # labels from the catalogue ...
    for name in ("ft_family_member", "birth_date", "lcs_person", "is_professional"):  # ... never names
        assert f">{name}<" not in records and f"{name.replace('_', ' ')}<" not in records, name
    assert any(p.get_content_type() == "application/pdf" for p in cover.iter_attachments())
    # every letter recorded as sent, with the message id the server received
    ids = {m["Message-ID"] for m in catcher.messages}
    for kind in ("acknowledgement", "sar_cover"):
        [d] = views[kind].deliveries
        assert d["status"] == "sent" and d["message_id"] in ids


def test_a_parent_requesters_own_name_is_not_withheld_as_a_third_partys(sar_settings):
    settings = sar_settings
    urls = store_urls(settings)
    cat = load_catalog(settings.catalog_dir)
    child = shared_child_example({s: urls[s] for s in LEWISHAM})
    member, parent, parent_given = _parent_of(urls[FT], child.nhs_number)
    dossier = gather_records(cat[FT], engine_for_url(urls[FT]), [member])
    rid, _, register = _file(settings, child.nhs_number, parent, date(2026, 11, 2))

    def withheld(names: set[str]) -> set[str]:
        _, found = redact_dossiers([dossier], set(), [], names)
        return {r.text.casefold() for r in found}

    as_third_party = withheld(set())
    assert parent.casefold() in as_third_party or parent_given.casefold() in as_third_party
    own = requester_own_names(register, rid)
    mine = withheld(own)
    assert parent.casefold() not in mine and parent_given.casefold() not in mine
    assert mine  # other family members are still withheld
