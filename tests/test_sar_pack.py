"""The pack's machine-readable records speak the catalogue's words, as its readable copy does:
services by name, record types and fields by label, yes/no fields as Yes/No (true/false in JSON)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from rightsflow.catalog import load_catalog
from rightsflow.contracts.subject_access import PackInput
from rightsflow.redaction import Redaction
from rightsflow.sar_pack import pack_files

FT = "lewisham_family_thrive"
ROWS = [
    {"share_id": 7, "shared_with": "Metropolitan Police", "shared_on": "2026-03-01", "with_consent": 1},
    {"share_id": 8, "shared_with": "Early Help panel", "shared_on": "2026-03-02", "with_consent": 0},
]


def _pack(settings):  # type: ignore[no-untyped-def]
    catalog = load_catalog(settings.catalog_dir)
    services = [
        {
            "service": FT,
            "name": catalog[FT].name,
            "authority": catalog[FT].authority,
            "collections": [
                {"collection": "ft_share", "level": "person", "key_field": "share_id", "rows": ROWS},
            ],
        }
    ]
    withheld = Redaction(
        "rd_1", FT, "ft_share", "8", "shared_with", "third_party", "DPA 2018 Sch 2 para 16", "x"
    )
    inp = PackInput(
        request_id="rq_test",
        subject_ref="sr_test",
        redacted_key="unused",
        services_searched=[FT],
        received_on="2026-11-02",
        clock_start="2026-11-02",
        deadline="2026-12-02",
    )
    subject = {"name": "Amelia Okafor", "date_of_birth": "2015-03-14"}
    return catalog, pack_files(settings, catalog, subject, inp, services, [withheld], date(2026, 12, 1))


def test_records_json_and_csv_use_labels_and_yes_no_not_table_and_column_names(settings):
    catalog, files = _pack(settings)
    cat = catalog[FT]
    export = json.loads(files["records.json"])
    assert export["format"] == "rightsflow-sar-records/2"  # a reader can tell this layout from the first
    [service] = export["services"]
    assert service["service"] == cat.name and service["authority"] == cat.authority
    [coll] = service["collections"]
    assert coll["collection"] == "Information shared with other organisations"
    consent = cat.field_label("ft_share", "with_consent")
    assert consent == "Shared with consent"
    assert [r[consent] for r in coll["records"]] == [True, False]  # not 1 and 0
    assert coll["records"][0][cat.field_label("ft_share", "shared_with")] == "Metropolitan Police"
    [why] = export["withheld"]
    assert why["service"] == cat.name and why["field"] == cat.field_label("ft_share", "shared_with")

    rows = list(csv.reader(io.StringIO(files["records.csv"].decode())))
    assert rows[0] == ["Service", "Record type", "Record", "Field", "Value"]
    consent_rows = [r for r in rows[1:] if r[3] == consent]
    assert [(r[2], r[4]) for r in consent_rows] == [("7", "Yes"), ("8", "No")]
    assert {r[1] for r in rows[1:]} == {"Information shared with other organisations"}

    for name in ("records.json", "records.csv", "records.html"):
        text = files[name].decode()
        for raw in ("ft_share", "with_consent", "shared_with", "share_id", FT):
            assert raw not in text, (name, raw)


def test_the_readable_records_show_yes_and_no(settings):
    _, files = _pack(settings)
    html = files["records.html"].decode()
    assert "<th>Shared with consent</th><td>Yes</td>" in html
    assert "<th>Shared with consent</th><td>No</td>" in html
    assert files["records.pdf"].startswith(b"%PDF")


def test_the_packs_cover_letter_is_the_councils_signed_letter_with_the_article_15_information(settings):
    from functools import partial

    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.letters import Letters
    from rightsflow.register import Register

    catalog = load_catalog(settings.catalog_dir)
    register = Register(settings)
    register.create_schema()
    ref = register.register_subject(
        SubjectIdentifiers(nhs_number="9434765919", given_name="Amelia", family_name="Okafor")
    )
    req = register.create_request(
        "subject_access",
        ref,
        received_on=date(2026, 11, 2),
        controller="lewisham",
        requester_details={"kind": "self", "name": "Amelia Okafor", "email": "a.okafor@example.com"},
    )
    letters = Letters(settings, catalog, register)
    cover = partial(letters.render_html, req.request_id, "sar_cover")
    services = [
        {
            "service": FT,
            "name": catalog[FT].name,
            "authority": catalog[FT].authority,
            "collections": [
                {"collection": "ft_share", "level": "person", "key_field": "share_id", "rows": ROWS}
            ],
        }
    ]
    inp = PackInput(
        request_id=req.request_id,
        subject_ref=ref,
        redacted_key="unused",
        services_searched=[FT, "lewisham_early_help"],
        received_on="2026-11-02",
        clock_start="2026-11-02",
        deadline="2026-12-02",
    )
    files = pack_files(
        settings, catalog, {"name": "Amelia Okafor"}, inp, services, [], date(2026, 12, 1), cover
    )
    letter = files["cover_letter.html"].decode()
    lewisham = catalog.controller("lewisham")
    for expected in (
        lewisham.legal_name,  # the letterhead
        lewisham.signature.name,  # signed by the council
        lewisham.dpo.email,
        "Dear Amelia Okafor",
        "Why we use the information (purposes)",  # the Article 15 information, per service
        "How long we keep it (retention)",
        catalog[FT].purposes[0],
        "Information Commissioner",
        catalog["lewisham_early_help"].name,  # searched, nothing found
    ):
        assert expected in letter, expected
    assert "lewisham_early_help" not in letter and FT not in letter
