"""Third-party redaction rules on the kinds of text the stores hold (no servers needed)."""

from __future__ import annotations

from rightsflow.redaction import (
    HOUSEHOLD_MEMBER,
    INFORMANT,
    MASK,
    NAMED_IN_TEXT,
    SERIOUS_HARM_BASIS,
    THIRD_PARTY_BASIS,
    Redactor,
)


def _redactor(**kw) -> Redactor:  # type: ignore[no-untyped-def]
    r = Redactor(
        given_names={"Jaden", "Aaliyah", "Kyle", "Anjali", "Karim", "Lukas", "Samuel", "Filmon"},
        family_names={"Gordon", "Gill", "Nasser", "Popescu", "Berhane"},
        keep={"jaden", "gordon", "jaden gordon"},
        **kw,
    )
    r.add("Aaliyah Gordon", HOUSEHOLD_MEMBER)
    r.add("Aaliyah", HOUSEHOLD_MEMBER)
    r.add("943 476 5919", HOUSEHOLD_MEMBER, identifier=True)
    return r


def _run(r: Redactor, text: str) -> tuple[str, dict]:
    found: dict = {}
    out = r.redact_value(
        text, service="svc", collection="notes", record_key="7", field_name="text", found=found
    )
    return out, found


def test_family_informants_and_people_named_in_notes_are_withheld_professionals_are_not():
    r = _redactor()
    text = (
        "Core group: Aaliyah, Mr Filmon Berhane, designated safeguarding lead at Crofton School, health "
        "visitor Anjali Gill and Karim Nasser (social worker). A neighbour, Mrs Doris Kemp, called. "
        "Aaliyah said Kyle has been drinking. Jaden's plan reviewed. Sibling NHS 9434765919."
    )
    out, found = _run(r, text)
    for kept in ("Mr Filmon Berhane", "Anjali Gill", "Karim Nasser", "Jaden's plan"):
        assert kept in out
    for withheld in ("Aaliyah", "Kyle", "Doris Kemp", "9434765919"):
        assert withheld not in out
    kinds = {f.text: f.kind for f in found.values()}
    assert kinds["Aaliyah"] == HOUSEHOLD_MEMBER and kinds["Kyle"] == NAMED_IN_TEXT
    assert kinds["Mrs Doris Kemp"] == INFORMANT
    assert all(f.legal_basis == THIRD_PARTY_BASIS for f in found.values())
    assert out.count(MASK) == 5


def test_a_release_shows_the_text_and_ids_are_stable():
    out1, found1 = _run(_redactor(), "Aaliyah phoned.")
    rid = next(iter(found1))
    out2, found2 = _run(_redactor(released={rid}), "Aaliyah phoned.")
    assert out1 == f"{MASK} phoned." and out2 == "Aaliyah phoned."
    assert found2[rid].released


def test_the_dpo_can_withhold_for_serious_harm_even_inside_a_professional_name():
    r = _redactor()
    r.add("Crofton School", "dpo_added", basis=SERIOUS_HARM_BASIS, overrides_professional=True)
    out, found = _run(r, "Mr Filmon Berhane, designated safeguarding lead at Crofton School, called.")
    assert "Crofton School" not in out and "[withheld]" in out
    assert any(f.legal_basis == SERIOUS_HARM_BASIS for f in found.values())
