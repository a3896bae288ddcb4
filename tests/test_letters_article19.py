"""A rectification at Lewisham sends one Article 19 notice per recipient in the sharing log, each a
PDF a recipient can act on (what changed and the corrected value), with its identification sheet
sent apart; recipients with an email address get both by email, the others are in the print batch."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.letters import Letters
from rightsflow.mail import Mailer
from rightsflow.mailcatcher import MailCatcher
from rightsflow.stores import SCHEMAS
from tests.support import AS_OF, CSC, FT, codec_client, file_request, running_worker, store_urls, wait_stage
from tests.test_erasure import _prepare
from workflows.rectification import Rectification, RectificationInput, RectifyDecision

NEW_DOB = date(2016, 2, 29)
RECIPIENTS = ("Lewisham and Greenwich NHS Trust", "Metropolitan Police")  # both in Lewisham's address book


def _text(pdf: bytes) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def catcher(monkeypatch):  # type: ignore[no-untyped-def]
    with MailCatcher() as c:
        monkeypatch.setenv("RIGHTSFLOW_SMTP_URL", c.url)
        yield c


async def test_rectification_sends_each_recipient_a_notice_it_can_act_on_with_its_identification_sheet(
    es, time_skipping_env, catcher
):
    s = es
    child = _prepare(s, recipients=RECIPIENTS)
    client = codec_client(time_skipping_env.client, s)
    register, ref, req = file_request(s, "rectification", child.nhs)
    register.update_request(req.request_id, controller="lewisham")
    async with running_worker(client, s):
        handle = await client.start_workflow(
            Rectification.run,
            RectificationInput(
                request_id=req.request_id,
                subject_ref=ref,
                received_on=AS_OF.isoformat(),
                field="date_of_birth",
                value=NEW_DOB.isoformat(),
                services=[FT, CSC],
            ),
            id=f"rectification-{req.request_id}",
            task_queue=s.task_queue,
        )
        await wait_stage(handle, Rectification.status, "awaiting_decision")
        await handle.execute_update(Rectification.decide, RectifyDecision(accept=True, decided_by="dpo-test"))
        result = await handle.result()

    urls = store_urls(s)
    lcs = SCHEMAS[CSC].tables["lcs_disclosure"]
    with engine_for_url(urls[CSC]).connect() as c:
        csc_recipients = set(
            c.execute(select(lcs.c.recipient).where(lcs.c.person_id == child.csc_person)).scalars()
        )
    expected = {(FT, r) for r in RECIPIENTS} | {(CSC, r) for r in csc_recipients}
    assert result.notices_sent == len(expected)

    letters = Letters(s, load_catalog(s.catalog_dir), register)
    views = letters.letters_of(req.request_id)
    notices = [v for v in views if v.kind == "article19"]
    sheets = [v for v in views if v.kind == "identification_sheet"]
    assert len(notices) == len(sheets) == len(expected)  # one of each per recipient per sharing log

    for notice in notices:
        text = _text(letters.read(notice.pdf_key))
        assert "29 February 2016" in text  # the corrected value ...
        assert (
            "date of birth" in text and "correct the copy we disclosed to you" in text
        )  # ... and what to do
        assert "London Borough of Lewisham" in text and "dpo@lewisham.example.org" in text
        assert child.nhs not in text.replace(" ", "")  # the notice alone identifies no one
        ref_line = text.split("Identification sheet", 1)[1].split()[0]
        [sheet] = [v for v in sheets if ref_line in _text(letters.read(v.pdf_key))]
        sheet_text = _text(letters.read(sheet.pdf_key))
        assert " ".join(child.nhs[i : i + 3] for i in (0, 3)) in sheet_text  # "943 476 ..." NHS number
    # recipients in Lewisham's address book are emailed, the notice and its sheet apart
    by_to: dict[str, list[str]] = {}
    for m in catcher.messages:
        by_to.setdefault(str(m["To"]), []).append(str(m["Subject"]).strip())
    nhs_trust = [subjects for to, subjects in by_to.items() if "lgt-nhs.example.org" in to]
    assert nhs_trust and any(s.startswith("Notice under Article 19") for s in nhs_trust[0])
    assert any(s.startswith("Identification sheet") for s in nhs_trust[0])
    # the others wait for the print batch, and are in it
    posted = [v for v in views if v.channel == "post"]
    if posted:
        key, count = Mailer(letters, config=None).print_batch(date.today())
        assert key and count == len(posted)
    # and the person is told the outcome in a letter from the council (no address given: not sent)
    [outcome] = [v for v in views if v.kind == "rectification"]
    text = _text(letters.read(outcome.pdf_key))
    assert "We have corrected the date of birth" in text and "London Borough of Lewisham" in text
    assert outcome.deliveries[0]["status"] == "not_sent"
