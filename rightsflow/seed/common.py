"""What every service's data builder shares: the services, their person tables, the id scheme and
the cross-service overlap (which canonical family each store's family is)."""

from __future__ import annotations

from datetime import date

FT = "lewisham_family_thrive"
CSC = "lewisham_childrens_social_care"
EH = "lewisham_early_help"
WFH = "westminster_family_hub"
TF = "manchester_thriving_families"
CF = "camden_family_support"  # the demo receiving authority: another council, another schema
SERVICES: tuple[str, ...] = (FT, CSC, EH, WFH, TF, CF)
_SERVICE_NUMBER = {s: n for n, s in enumerate(SERVICES)}
_AREA = {FT: "lewisham", CSC: "lewisham", EH: "lewisham", WFH: "westminster", TF: "manchester", CF: "camden"}
_LA_NUMBER = {"lewisham": 209, "westminster": 213, "manchester": 352, "camden": 202}  # DfE LA numbers

# person table, primary key, NHS number column, date of birth column, given name, family name
PERSON_TABLES: dict[str, tuple[str, str, str, str, str, str]] = {
    FT: ("ft_family_member", "member_id", "nhs_number", "birth_date", "first_name", "last_name"),
    CSC: ("lcs_person", "person_id", "nhs_number", "date_of_birth", "forename", "surname"),
    EH: ("eh_person", "eh_person_id", "nhs_num", "dob", "first_names", "last_name"),
    WFH: ("household_member", "member_ref", "nhs_no", "dob", "given_name", "family_name"),
    TF: ("tf_client", "client_id", "nhs_number", "date_of_birth", "forename", "surname"),
    CF: ("cfs_person", "person_uid", "nhs_number", "birth_date", "given_names", "surname"),
}

MAX_FAMILIES = 500_000  # per service: keeps synthetic NHS numbers and UPNs distinct
_PEOPLE_STRIDE = 10  # person ids: index * 10 + slot + 1 (at most six people per family)
_ROW_STRIDE = 100  # other integer ids: index * 100 + n + 1 (fewer than 100 rows per family)
_PROFESSIONAL_BASE = 9_000_000  # social care staff are lcs_person rows above every family's ids
_BATCH = 1_000


# -- the overlap scheme ---------------------------------------------------------------------------


def family_origin(service: str, index: int) -> tuple[str, int]:
    """The canonical family behind ``service``'s family ``index`` (see the module docstring)."""
    if service == FT:
        return (WFH, index) if index % 25 == 12 else (FT, index)
    if service == EH:
        if index % 10 == 0:
            return (FT, index)
        return (WFH, index) if index % 20 == 15 else (EH, index)
    if service == CSC:
        if index % 10 in (0, 1):
            return (FT, index)
        if index % 10 in (2, 3):
            return (EH, index)
        return (WFH, index) if index % 20 == 5 else (CSC, index)
    if service == TF:
        return (CSC, index) if index % 50 == 7 else (TF, index)
    if service == WFH:
        return (WFH, index)
    if service == CF:  # some families moved up from Westminster: Camden knows them already
        return (WFH, index) if index % 10 == 3 else (CF, index)
    raise KeyError(f"unknown service {service!r}")


# Stratified holds: position of the family within each block of 100 (before a per-service shift).
_FLAG_POSITIONS = {
    "safeguarding": (3, 22, 41, 60, 79),
    "cp": (8, 45, 83),
    "lac": (14, 66),
    "legal": (27,),
    "inquiry": (35,),
    "step_up": (11, 36, 61, 86),
}
_FLAG_KINDS = {
    FT: ("safeguarding", "cp", "legal"),
    CSC: ("safeguarding", "cp", "lac", "legal", "inquiry"),
    EH: ("safeguarding", "step_up", "legal"),
    WFH: ("safeguarding", "cp", "legal"),
    TF: ("safeguarding", "cp", "legal"),
    CF: ("safeguarding", "cp", "legal"),
}


def _family_flags(service: str, index: int) -> set[str]:
    position = (index - 2 * _SERVICE_NUMBER[service]) % 100
    return {kind for kind in _FLAG_KINDS[service] if position in _FLAG_POSITIONS[kind]}


# Old, closed social care cases: position of the family within each block of 100 -> kind.
_HISTORIC = {
    16: "looked_after",  # the family's looked-after flag; the child is the youngest
    18: "contact",
    29: "held",  # the family's legal hold
    34: "child_in_need",
    37: "held",  # the family's inquiry hold
    47: "child_protection",  # the family's child protection flag
    58: "contact",
    74: "child_in_need",
    96: "contact",
}
# How many years before as_of each kind's case was last active (youngest child born by then).
_HISTORIC_YEARS = {"contact": (7, 10), "child_protection": (26, 30)}


def historic_case(service: str, index: int) -> str | None:
    """The kind of old, closed case ``service``'s family ``index`` is (social care only), or None."""
    if service != CSC:
        return None
    return _HISTORIC.get(index % 100)


# Only families of social care's own: moving a shared family back in time would break the overlap.
assert all(family_origin(CSC, i) == (CSC, i) and i % 50 != 7 for i in _HISTORIC)


# -- dates ---------------------------------------------------------------------------------------


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


Rows = dict[str, list[dict]]  # table name -> rows to insert, one dict per row
