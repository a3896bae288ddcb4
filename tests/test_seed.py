"""The demo seeder: realistic synthetic families, deterministic, shared across services, any database."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from rightsflow.db import engine_for_url
from rightsflow.nhs import is_valid_nhs_number, is_valid_upn, normalise_nhs_number
from rightsflow.seed import (
    PERSON_TABLES,
    SERVICES,
    StoreNotEmpty,
    family_origin,
    historic_case,
    seed_if_empty,
    seed_stores,
    shared_child_example,
)
from rightsflow.stores import SCHEMAS

AS_OF = date(2026, 3, 1)
SIX_YEARS_AGO = date(2020, 3, 1)
FAMILIES = 50
FT, CSC, EH, WFH, TF, CF = SERVICES


def sqlite_urls(folder: Path) -> dict[str, str]:
    return {service: f"sqlite:///{folder / service}.db" for service in SERVICES}


def rows(url: str, service: str, table: str, *columns: str) -> list[tuple]:
    t = SCHEMAS[service].tables[table]
    cols = [t.c[c] for c in columns] if columns else list(t.c)
    with engine_for_url(url).connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(*t.primary_key.columns))]


def count(url: str, service: str, table: str) -> int:
    t = SCHEMAS[service].tables[table]
    with engine_for_url(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(t)).scalar_one()


def content_hash(url: str, service: str) -> str:
    h = hashlib.sha256()
    for table in SCHEMAS[service].sorted_tables:
        h.update(table.name.encode())
        for row in rows(url, service, table.name):
            h.update(repr(row).encode())
    return h.hexdigest()


def nhs_numbers(url: str, service: str) -> list[str]:
    table, _, column, *_ = PERSON_TABLES[service]
    return [r[0] for r in rows(url, service, table, column) if r[0] is not None]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], object]:
    urls = sqlite_urls(tmp_path_factory.mktemp("stores"))
    report = seed_stores(urls, families=FAMILIES, seed=7, as_of=AS_OF, progress=False)
    return urls, report


# -- counts and report -----------------------------------------------------------------------------


def test_report_counts_match_the_stores(seeded) -> None:
    urls, report = seeded
    assert set(report.services) == set(SERVICES)
    family_tables = {FT: "ft_family", WFH: "household", TF: "tf_family_group"}
    for service, url in urls.items():
        r = report.services[service]
        assert r.families == FAMILIES
        for table, n in r.rows.items():
            assert count(url, service, table) == n, (service, table)
        if service in family_tables:
            assert r.rows[family_tables[service]] == FAMILIES
        person_table = PERSON_TABLES[service][0]
        staff = 30 if service == CSC else 0
        assert r.people == r.rows[person_table] - staff
        assert FAMILIES * 2 <= r.people <= FAMILIES * 6  # households of several people
        assert r.seconds >= 0
    assert report.total_rows == sum(s.total_rows for s in report.services.values())


def test_households_have_one_or_two_adults_and_up_to_four_children(seeded) -> None:
    urls, _ = seeded
    roles = defaultdict(lambda: defaultdict(int))
    for household, role in rows(urls[WFH], WFH, "household_member", "household_ref", "role"):
        roles[household]["child" if role == "child" else "adult"] += 1
    assert len(roles) == FAMILIES
    assert all(1 <= r["adult"] <= 2 and 1 <= r["child"] <= 4 for r in roles.values())
    assert {r["adult"] for r in roles.values()} == {1, 2}


# -- determinism -----------------------------------------------------------------------------------


def test_same_seed_and_date_give_identical_rows(seeded, tmp_path: Path) -> None:
    urls, _ = seeded
    again = sqlite_urls(tmp_path)
    seed_stores(again, families=FAMILIES, seed=7, as_of=AS_OF, progress=False, batch_size=7)
    for service in SERVICES:  # a different batch size changes nothing either
        assert content_hash(again[service], service) == content_hash(urls[service], service), service


def test_a_different_seed_gives_different_rows(seeded, tmp_path: Path) -> None:
    urls, _ = seeded
    other = sqlite_urls(tmp_path)
    seed_stores(other, families=FAMILIES, seed=8, as_of=AS_OF, progress=False)
    for service in SERVICES:
        assert content_hash(other[service], service) != content_hash(urls[service], service), service


# -- identifiers -----------------------------------------------------------------------------------


def test_every_nhs_number_is_valid_and_in_the_store_format(seeded) -> None:
    urls, _ = seeded
    for service, url in urls.items():
        numbers = nhs_numbers(url, service)
        assert numbers
        assert all(is_valid_nhs_number(n) and n.startswith("9") for n in numbers), service
        if service == WFH:
            assert all(len(n) == 12 and n[3] == " " and n[7] == " " for n in numbers)
        else:
            assert all(len(n) == 10 and n.isdigit() for n in numbers)
    # within a store, one person per NHS number
    for service, url in urls.items():
        numbers = [normalise_nhs_number(n) for n in nhs_numbers(url, service)]
        assert len(numbers) == len(set(numbers)), service


def test_school_age_children_have_valid_upns(seeded) -> None:
    urls, _ = seeded
    csc = rows(urls[CSC], CSC, "lcs_person", "date_of_birth", "upn", "is_professional")
    eh = rows(urls[EH], EH, "eh_person", "dob", "pupil_ref")
    upns = [u for _, u, _ in csc if u] + [u for _, u in eh if u]
    assert upns and all(is_valid_upn(u) for u in upns)
    assert all(u[1:4] in ("209", "213") for u in upns)  # issued in Lewisham, or Westminster before a move
    for dob, upn, professional in csc:
        if professional:
            continue
        age = (AS_OF - dob).days / 365.25
        if upn:
            assert age >= 4
        if age < 4:
            assert upn is None


# -- the overlap -----------------------------------------------------------------------------------


def test_the_same_people_are_known_to_several_services(seeded) -> None:
    urls, _ = seeded
    by_service = {s: {normalise_nhs_number(n) for n in nhs_numbers(u, s)} for s, u in urls.items()}
    # the documented scheme: family 0 of social care is Family Thrive's family 0, also in Early Help
    assert family_origin(CSC, 0) == family_origin(EH, 0) == (FT, 0)
    ft0 = {n for (n,) in _people_of(urls, FT, "ft_family_member", "family_id", 1)}
    assert ft0 and ft0 & by_service[CSC] and ft0 & by_service[EH]
    # ~20% of Family Thrive families also in social care; Westminster families moved to Lewisham
    shared_ft_csc = {n for n in by_service[FT] & by_service[CSC]}
    assert shared_ft_csc
    assert (
        by_service[WFH] & by_service[CSC]
        and by_service[WFH] & by_service[EH]
        and by_service[WFH] & by_service[FT]
    )
    assert by_service[CSC] & by_service[TF]  # moved from Lewisham to Manchester
    # same person: same name and date of birth in both stores
    ft = {
        r[0]: r[1:]
        for r in rows(urls[FT], FT, "ft_family_member", "nhs_number", "first_name", "last_name", "birth_date")
    }
    csc = {
        r[0]: r[1:]
        for r in rows(urls[CSC], CSC, "lcs_person", "nhs_number", "forename", "surname", "date_of_birth")
    }
    for n in shared_ft_csc:
        assert ft[n] == csc[n]


def _people_of(urls: Mapping[str, str], service: str, table: str, group: str, value: int) -> list[tuple]:
    t = SCHEMAS[service].tables[table]
    column = PERSON_TABLES[service][2]
    with engine_for_url(urls[service]).connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(t.c[column]).where(t.c[group] == value, t.c[column].is_not(None)))
        ]


def test_shared_child_example_finds_a_child_in_two_or_more_services(seeded) -> None:
    urls, _ = seeded
    example = shared_child_example(urls)
    assert len(example.services) >= 2
    assert is_valid_nhs_number(example.nhs_number) and len(example.nhs_number) == 10
    assert (AS_OF - example.date_of_birth).days < 20 * 365
    for service in SERVICES:
        held = {normalise_nhs_number(n) for n in nhs_numbers(urls[service], service)}
        assert (example.nhs_number in held) == (service in example.services)
    with pytest.raises(LookupError):
        shared_child_example({WFH: urls[WFH]})


# -- dates, contacts and free text -----------------------------------------------------------------

CONTACTS = {
    FT: ("ft_session", "family_id", "held_on"),
    CSC: ("lcs_visit", "person_id", "visit_date"),
    EH: ("eh_contact", "case_id", "contact_on"),
    WFH: ("hub_session", "household_ref", "session_on"),
    TF: ("tf_intervention", "family_group_id", "delivered_on"),
}


def test_last_contacts_fall_within_six_years_before_as_of(seeded) -> None:
    urls, _ = seeded
    for service, (table, group, when) in CONTACTS.items():
        latest: dict[object, date] = {}
        for key, d in rows(urls[service], service, table, group, when):
            if service == EH:  # a family's cases are 2i+1 (current) and 2i+2 (an earlier one)
                key = (key - 1) // 2
            if service == CSC and historic_case(CSC, (key - 1) // 10):
                continue  # old, closed cases: test_social_care_holds_old_closed_cases
            latest[key] = max(d, latest.get(key, d))
        assert len(latest) == FAMILIES or service == CSC, service
        assert all(SIX_YEARS_AGO <= d <= AS_OF for d in latest.values()), service
        spread = sorted(latest.values())
        assert (spread[-1] - spread[0]).days > 3 * 365, service  # spread out, not bunched


def _csc_family(person_id: int) -> int:
    return (person_id - 1) // 10


def test_social_care_holds_old_closed_cases(seeded) -> None:
    urls, _ = seeded
    u = urls[CSC]
    old = {i: historic_case(CSC, i) for i in range(FAMILIES) if historic_case(CSC, i)}
    # 16, 18, 29, 34, 37, 47 of the first 50; only social care's own families, in no other store
    assert sorted(old) == [16, 18, 29, 34, 37, 47]
    assert all(historic_case(s, i) is None for s in (FT, EH, WFH, TF) for i in range(200))
    assert all(family_origin(CSC, i) == (CSC, i) for i in old)
    others = {normalise_nhs_number(n) for s in (FT, EH, WFH, TF) for n in nhs_numbers(urls[s], s)}
    people = rows(u, CSC, "lcs_person", "person_id", "date_of_birth", "nhs_number", "is_professional")
    children: dict[int, list[date]] = defaultdict(list)
    for pid, dob, nhs, professional in people:
        if professional or _csc_family(pid) not in old:
            continue
        assert nhs not in others
        if (AS_OF - dob).days < 40 * 365:  # adults were born 17 or more years before their eldest
            children[_csc_family(pid)].append(dob)
    episodes = defaultdict(list)
    for pid, kind, end in rows(u, CSC, "lcs_episode", "person_id", "episode_type", "end_date"):
        episodes[_csc_family(pid)].append((kind, end))
    referrals = defaultdict(list)
    for pid, when, outcome in rows(u, CSC, "lcs_referral", "person_id", "referral_date", "mash_outcome"):
        referrals[_csc_family(pid)].append((when, outcome))
    for i, kind in old.items():
        if kind == "contact":  # a MASH contact, no further action, 7 to 11 years ago: nothing more
            assert not episodes[i] and referrals[i]
            assert all(o == "No further action" for _, o in referrals[i])
            assert all(date(2015, 3, 1) <= w <= date(2019, 3, 1) for w, _ in referrals[i])
            continue
        # every child over 25, every episode closed
        assert all(dob < date(2001, 3, 1) for dob in children[i]), i
        assert episodes[i] and all(end is not None and end < date(2000, 5, 1) for _, end in episodes[i])
        kinds = {k for k, _ in episodes[i]}
        assert ("LAC" in kinds) == (kind == "looked_after") and ("CP" in kinds) == (
            kind == "child_protection"
        )
    # the holds on old cases are in force, placed within the last three years
    alerts = rows(u, CSC, "lcs_alert", "person_id", "alert_code", "raised_on", "ended_on")
    held = {_csc_family(p): code for p, code, raised, ended in alerts if old.get(_csc_family(p)) == "held"}
    assert held == {29: "LEGAL_HOLD", 37: "INQUIRY"}
    assert all(
        ended is None and raised >= date(2023, 3, 1)
        for p, _, raised, ended in alerts
        if old.get(_csc_family(p)) == "held"
    )
    looked_after = [
        (p, ended) for p, code, _, ended in alerts if code == "LOOKED_AFTER" and _csc_family(p) == 16
    ]
    assert looked_after and all(ended is not None for _, ended in looked_after)


def test_a_social_care_sweep_finds_households_due_under_every_kind_of_rule(settings, monkeypatch) -> None:
    from activities.retention import RetentionActivities, SweepBatchesInput, SweepCounts, run_batches
    from rightsflow.catalog import load_catalog
    from rightsflow.register import Register

    catalog = load_catalog(settings.catalog_dir)
    url = catalog[CSC].store.resolved_url(settings.home)
    seed_stores({CSC: url}, families=FAMILIES * 2, seed=7, as_of=AS_OF, progress=False)
    acts = RetentionActivities(settings, catalog, Register(settings), s3=object())
    result = run_batches(
        acts,
        SweepBatchesInput(sweep_id="dry", service=CSC, as_of=AS_OF.isoformat(), dry_run=True),
        None,
        SweepCounts(),
    )
    assert result.done
    counts, by_rule = result.counts, result.counts.by_rule
    # per 100 families: 3 contacts destroyed, 1 looked-after record archived, 2 children in need
    # files awaiting review, 2 old cases held, 1 child protection case kept for its 35 years
    assert by_rule["contact_not_progressed"] == {"disposed": 3}
    assert by_rule["looked_after_child_case_record"]["archived"] == 1
    assert by_rule["child_in_need_case_file"]["awaiting_review"] == 2
    assert by_rule["child_in_need_case_file"]["retained_hold"] == 2
    assert by_rule["child_protection_case_file"]["retained_linked"] == 1
    assert counts.disposed == 3 and counts.archived == 1 and counts.retained_hold == 2


def test_hub_last_contact_is_the_latest_session(seeded) -> None:
    urls, _ = seeded
    sessions: dict[str, date] = {}
    for ref, d in rows(urls[WFH], WFH, "hub_session", "household_ref", "session_on"):
        sessions[ref] = max(d, sessions.get(ref, d))
    households = rows(urls[WFH], WFH, "household", "household_ref", "last_contact_on", "opened_on")
    assert len(households) == FAMILIES
    for ref, last, opened in households:
        assert last == sessions[ref]
        assert opened <= last


def test_a_few_families_sit_on_the_three_year_boundary(tmp_path: Path) -> None:
    urls = {WFH: f"sqlite:///{tmp_path / 'hub.db'}"}
    seed_stores(urls, families=101, seed=7, as_of=AS_OF, progress=False)
    last = dict(rows(urls[WFH], WFH, "household", "household_ref", "last_contact_on"))
    assert abs((last["WH0000051"] - date(2023, 3, 1)).days) <= 3  # family index 50


def test_notes_name_family_members_and_professionals(seeded) -> None:
    urls, _ = seeded
    members = defaultdict(set)
    for ref, given in rows(urls[WFH], WFH, "household_member", "household_ref", "given_name"):
        members[ref].add(given)
    notes = rows(urls[WFH], WFH, "hub_session", "household_ref", "notes", "practitioner")
    assert sum(any(g in text for g in members[ref]) for ref, text, _ in notes) > len(notes) * 0.8
    case_notes = [r[0] for r in rows(urls[CSC], CSC, "lcs_case_note", "note_text")]
    assert any("social worker" in n.lower() for n in case_notes)
    assert any("designated safeguarding lead" in n for n in case_notes)
    everything = " ".join(
        [n for _, n, _ in notes]
        + case_notes
        + [r[0] for r in rows(urls[FT], FT, "ft_session", "summary")]
        + [r[0] for r in rows(urls[TF], TF, "tf_intervention", "notes")]
    )
    assert "called to report" in everything or "rang with concerns" in everything  # informants
    stories = [r[0] for r in rows(urls[WFH], WFH, "about_my_family", "family_story")]
    assert stories and all(s.startswith(("We are", "I am")) for s in stories)


# -- holds, flags, consents, sharing -------------------------------------------------------------------

FLAGS = {
    FT: ("ft_concern", "concern_type", {"SAFEGUARDING", "CP_PLAN", "LEGAL_HOLD"}),
    CSC: ("lcs_alert", "alert_code", {"SAFEGUARDING", "CP_PLAN", "LOOKED_AFTER", "LEGAL_HOLD", "INQUIRY"}),
    EH: ("eh_marker", "marker", {"SAFEGUARDING", "STEP_UP_CSC", "LEGAL_HOLD"}),
    WFH: ("household_flag", "kind", {"safeguarding", "legal_hold", "child_protection_plan"}),
    TF: ("tf_risk_flag", "flag", {"SAFEGUARDING", "CP_PLAN", "LEGAL_HOLD"}),
}


def test_some_flags_of_each_kind_in_every_store(seeded) -> None:
    urls, _ = seeded
    for service, (table, column, codes) in FLAGS.items():
        found = [r[0] for r in rows(urls[service], service, table, column)]
        assert set(found) == codes, service
        assert len(found) <= FAMILIES * 0.2, service  # a share of records, not most


def test_child_protection_in_social_care_is_alert_plan_and_episode(seeded) -> None:
    urls, _ = seeded
    u = urls[CSC]
    cp_alerts = {p for p, code in rows(u, CSC, "lcs_alert", "person_id", "alert_code") if code == "CP_PLAN"}
    cp_plans = {
        p for p, kind in rows(u, CSC, "lcs_plan", "person_id", "plan_type") if kind == "child protection"
    }
    cp_episodes = {p for p, kind in rows(u, CSC, "lcs_episode", "person_id", "episode_type") if kind == "CP"}
    assert cp_alerts and cp_alerts == cp_plans == cp_episodes
    lac = {p for p, code in rows(u, CSC, "lcs_alert", "person_id", "alert_code") if code == "LOOKED_AFTER"}
    assert lac <= {p for p, kind in rows(u, CSC, "lcs_episode", "person_id", "episode_type") if kind == "LAC"}
    nhs_told = {
        p for p, r in rows(u, CSC, "lcs_disclosure", "person_id", "recipient") if r.startswith("NHS England")
    }
    assert (cp_alerts | lac) <= nhs_told


def test_some_flags_have_ended(seeded) -> None:
    urls, _ = seeded
    ended = rows(urls[CSC], CSC, "lcs_alert", "ended_on") + rows(urls[FT], FT, "ft_concern", "resolved_at")
    assert any(e for (e,) in ended) and any(e is None for (e,) in ended)


def test_consents_are_given_and_some_withdrawn(seeded) -> None:
    urls, _ = seeded
    consents = (
        rows(urls[FT], FT, "ft_consent", "given_on", "withdrawn_on")
        + rows(urls[EH], EH, "eh_consent", "signed_on", "withdrawn_on")
        + rows(urls[WFH], WFH, "consent_record", "given_on", "withdrawn_on")
    )
    withdrawn = [(g, w) for g, w in consents if w]
    assert 0.02 < len(withdrawn) / len(consents) < 0.16
    assert all(g < w <= AS_OF for g, w in withdrawn)


def test_sharing_logs_name_the_recipients_in_each_notice(seeded) -> None:
    urls, _ = seeded
    hub = {r for (r,) in rows(urls[WFH], WFH, "partner_share", "partner")}
    assert hub & {"Family Lives", "Cardinal Hume Centre", "St Vincent's Family Project"}
    csc = {r for (r,) in rows(urls[CSC], CSC, "lcs_disclosure", "recipient")}
    assert "NHS England (Child Protection - Information Sharing)" in csc and len(csc) >= 8
    assert any("Police" in r for r in csc)
    eh = {r for (r,) in rows(urls[EH], EH, "eh_info_share", "agency")}
    eh |= {r for (r,) in rows(urls[EH], EH, "eh_panel_referral", "agency")}
    assert {"CAMHS", "Refuge (Athena)"} & eh
    ft = {r for (r,) in rows(urls[FT], FT, "ft_share", "shared_with")}
    assert {"Metropolitan Police", "Lewisham Children's Social Care"} <= ft
    tf = {r for (r,) in rows(urls[TF], TF, "tf_data_share", "recipient_org")}
    assert "IFF Research (national evaluation)" in tf
    assert any(r.startswith("Health visitor") for r in tf)
    pseudonyms = [p for (p,) in rows(urls[TF], TF, "tf_evaluation_extract", "pseudonym")]
    assert pseudonyms and len(set(pseudonyms)) == len(pseudonyms)


def test_social_care_staff_are_people_and_relationships_run_both_ways(seeded) -> None:
    urls, _ = seeded
    u = urls[CSC]
    professionals = {p for p, flag in rows(u, CSC, "lcs_person", "person_id", "is_professional") if flag}
    assert len(professionals) == 30
    workers = {w for (w,) in rows(u, CSC, "lcs_visit", "worker_person_id")}
    assert workers and workers <= professionals
    links = {
        (a, b): (t, pr)
        for a, b, t, pr in rows(
            u,
            CSC,
            "lcs_relationship",
            "person_id",
            "related_person_id",
            "relationship_type",
            "has_parental_responsibility",
        )
    }
    assert all((b, a) in links for a, b in links)
    types = {t for t, _ in links.values()}
    assert {"mother", "son", "daughter", "sibling"} <= types
    assert any(t.startswith("step-") for t in types)
    assert {pr for t, pr in links.values() if t == "mother"} == {1}
    assert {pr for t, pr in links.values() if t == "sibling"} == {0}


# -- refusing to reseed ----------------------------------------------------------------------------


def test_reseeding_a_store_with_data_is_refused_unless_replace(tmp_path: Path) -> None:
    urls = {TF: f"sqlite:///{tmp_path / 'tf.db'}", WFH: f"sqlite:///{tmp_path / 'hub.db'}"}
    seed_stores({TF: urls[TF]}, families=5, seed=1, as_of=AS_OF, progress=False)
    before = content_hash(urls[TF], TF)
    with pytest.raises(StoreNotEmpty, match="manchester_thriving_families .* already holds data") as err:
        seed_stores(urls, families=5, seed=2, as_of=AS_OF, progress=False)
    assert "--replace" in str(err.value)
    assert content_hash(urls[TF], TF) == before
    assert count(urls[WFH], WFH, "household") == 0  # refused before writing anything
    seed_stores(urls, families=5, seed=2, as_of=AS_OF, progress=False, replace=True)
    assert content_hash(urls[TF], TF) != before
    assert count(urls[TF], TF, "tf_family_group") == 5


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no demo schema"):
        seed_stores({"somewhere_else": f"sqlite:///{tmp_path / 'x.db'}"}, families=1, progress=False)
    with pytest.raises(ValueError):
        seed_stores({TF: f"sqlite:///{tmp_path / 'tf.db'}"}, families=10**7, progress=False)


# -- rightsflow up and the CLI ---------------------------------------------------------------------


def test_seed_if_empty_seeds_only_empty_stores(settings) -> None:
    report = seed_if_empty(settings, families=5, progress=False)
    assert report is not None and report.services
    for service in report.services:
        assert report.services[service].families == 5
    assert seed_if_empty(settings, families=5, progress=False) is None


def test_cli_seed_prints_a_summary_and_refuses_to_reseed(settings) -> None:
    from rightsflow.cli.seed import seed

    app = typer.Typer()
    app.command()(seed)
    app.command("noop")(lambda: None)  # keep `seed` a subcommand, as in the real app
    runner = CliRunner()
    ok = runner.invoke(app, ["seed", "--families", "3", "--as-of", "2026-03-01"])
    assert ok.exit_code == 0, ok.output
    assert "Seeded" in ok.output and "total" in ok.output and "rows/s" in ok.output
    again = runner.invoke(app, ["seed", "--families", "3", "--as-of", "2026-03-01"])
    assert again.exit_code == 2
    assert "already holds data" in again.output and "--replace" in again.output
    replaced = runner.invoke(app, ["seed", "--families", "3", "--seed", "9", "--replace"])
    assert replaced.exit_code == 0, replaced.output
    bad = runner.invoke(app, ["seed", "--as-of", "2026-02-30"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


# -- every backend ---------------------------------------------------------------------------------


@pytest.fixture
def one_database_for_all_stores(database_url: str) -> Iterator[dict[str, str]]:
    """All five stores in one database (their table names do not collide); dropped afterwards."""
    urls = dict.fromkeys(SERVICES, database_url)
    try:
        yield urls
    finally:
        engine = engine_for_url(database_url)
        for service in reversed(SERVICES):
            SCHEMAS[service].drop_all(engine)


def test_seeding_works_on_every_backend(one_database_for_all_stores, tmp_path: Path) -> None:
    urls = one_database_for_all_stores
    report = seed_stores(urls, families=20, seed=7, as_of=AS_OF, progress=False)
    for service, url in urls.items():
        for table, n in report.services[service].rows.items():
            assert count(url, service, table) == n
    assert count(urls[WFH], WFH, "household") == 20
    assert count(urls[CSC], CSC, "lcs_person") == report.services[CSC].people + 30
    example = shared_child_example(urls)
    assert len(example.services) >= 2
    # and the rows are the very rows SQLite gets
    reference = sqlite_urls(tmp_path)
    seed_stores(reference, families=20, seed=7, as_of=AS_OF, progress=False)
    for service in SERVICES:
        assert _portable_hash(urls[service], service) == _portable_hash(reference[service], service), service


def _portable_hash(url: str, service: str) -> str:
    """Content hash that ignores how a driver types a value (e.g. datetime vs. string)."""
    h = hashlib.sha256()
    for table in SCHEMAS[service].sorted_tables:
        for row in rows(url, service, table.name):
            h.update("|".join("" if v is None else str(v) for v in row).encode())
    return h.hexdigest()


@pytest.mark.postgres
def test_postgres_is_seeded_by_copy_and_gets_the_same_rows(postgres_url: str, tmp_path: Path) -> None:
    """Seeding PostgreSQL streams each batch with COPY (no INSERT per row), and the rows, column
    defaults included, are those the row-by-row path writes."""
    from sqlalchemy import event

    def _drop_everything(url: str) -> None:
        for service in reversed(SERVICES):
            SCHEMAS[service].drop_all(engine_for_url(url))

    _drop_everything(postgres_url)
    urls = dict.fromkeys(SERVICES, postgres_url)
    inserts: list[str] = []

    def count_inserts(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    engine = engine_for_url(postgres_url)
    event.listen(engine, "before_cursor_execute", count_inserts)
    try:
        report = seed_stores(urls, families=30, seed=7, as_of=AS_OF, progress=False)
    finally:
        event.remove(engine, "before_cursor_execute", count_inserts)
    assert inserts == []
    assert count(postgres_url, CSC, "lcs_person") == report.services[CSC].people + 30
    bulk = {service: content_hash(postgres_url, service) for service in SERVICES}
    _drop_everything(postgres_url)
    seed_stores(urls, families=30, seed=7, as_of=AS_OF, progress=False, method="executemany")
    try:
        assert {service: content_hash(postgres_url, service) for service in SERVICES} == bulk
    finally:
        _drop_everything(postgres_url)
