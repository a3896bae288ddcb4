"""Synthetic demo data for the five service stores: realistic in shape, invented in every detail.

Everything here is made up. Names are drawn from small built-in lists, NHS numbers start with 9
and carry valid modulus 11 check digits, UPNs carry valid check letters, telephone numbers are in
Ofcom's drama ranges (07700 900xxx, 020 7946 0xxx, 0161 496 0xxx) and e-mail addresses are at
example.com. Any resemblance to a real family is chance.

Determinism: the rows depend only on ``seed``, ``as_of`` and the family index, never on the
batch size, the database or the order the stores are seeded in. Every family has its own
``random.Random(f"{seed}:...:{index}")``, so ``seed_stores`` can run 200,000 families per
service in bounded memory: it generates and inserts 1,000 families at a time (one transaction
per batch, Core ``insert()`` executemany) with ids worked out from the family index, never
read back from the database.

Cross-service overlap (the same people, with the same NHS number, UPN, names and dates of birth,
known to several services; different ids, schemas and records in each). Family ``i`` of a
service is the canonical family ``family_origin(service, i)``:

=================================  =====================================================
store, family index ``i``          the family is
=================================  =====================================================
lewisham_family_thrive             Westminster hub family ``i`` when ``i % 25 == 12`` (moved
                                   to Lewisham); otherwise its own
lewisham_early_help                Family Thrive family ``i`` when ``i % 10 == 0``;
                                   Westminster hub family ``i`` when ``i % 20 == 15``;
                                   otherwise its own
lewisham_childrens_social_care     Family Thrive family ``i`` when ``i % 10`` is 0 or 1;
                                   Early Help family ``i`` when ``i % 10`` is 2 or 3;
                                   Westminster hub family ``i`` when ``i % 20 == 5``;
                                   otherwise its own
westminster_family_hub             always its own
manchester_thriving_families       children's social care family ``i`` when ``i % 50 == 7``
                                   (moved to Manchester); otherwise its own
=================================  =====================================================

So 40% of social care families are also known to Family Thrive or Early Help (family 0, 10,
20, ... to all three Lewisham services), 5% of Lewisham social care and Early Help families and
4% of Family Thrive families came from the Westminster hub, and 2% of Manchester families came
from Lewisham social care. Shared families hold the same address within a borough; a family
that moved has an address in each. ``shared_child_example(urls)`` finds a child known to two or
more of the given stores. Overlaps hold when every store was seeded with the same ``seed``,
``as_of`` and at least ``i + 1`` families.

Holds and flags are stratified, not drawn at random, so every 100 consecutive families carry
exactly: 5 safeguarding concerns, 3 child protection plans, 2 looked-after children (social
care), 1 legal hold; social care also has 1 inquiry hold and Early Help 4 step-ups to social
care. Some have ended. About 1% of families had their last contact three years (give or take
three days) before ``as_of``; the rest are spread uniformly over the six years before it.

Children's social care also holds old, closed cases, so a retention sweep has something due in
every store. In every 100 of its families, nine (only families known to no other service, so the
other four stores are unchanged) are dated back in time (``historic_case``): three MASH contacts that
led nowhere, 7 to 11 years ago (destroyed under ``contact_not_progressed``); two closed children in
need cases whose youngest child is now over 25 (awaiting review); a looked-after child, now over 25,
whose case record goes to the locked archive; a closed child protection case, 26 to 31 years ago,
whose 35 years from closure have not run (kept, linked); and two closed cases under a legal hold
and an inquiry hold placed in the last three years (kept, held).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime

from sqlalchemy import Engine, MetaData, func, inspect, select
from sqlalchemy.engine import make_url

from .db import engine_for_url
from .nhs import spaced, synthetic_nhs_number, synthetic_upn
from .stores import SCHEMAS

__all__ = [
    "MAX_FAMILIES",
    "PERSON_TABLES",
    "SERVICES",
    "SeedReport",
    "ServiceSeedReport",
    "SharedChild",
    "StoreNotEmpty",
    "create_schemas",
    "family_origin",
    "historic_case",
    "seed_if_empty",
    "seed_stores",
    "shared_child_example",
]

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


# -- reference lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Heritage:
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    ethnicity: str
    languages: tuple[str, ...]
    religions: tuple[str, ...]
    nationalities: tuple[str, ...]
    countries: tuple[str, ...]
    born_abroad: float
    weights: tuple[float, float, float]  # lewisham, westminster, manchester


def _t(names: str) -> tuple[str, ...]:
    return tuple(names.split())


# Ethnicity in the ONS 2021 census categories (short headings); religion as the census asks it.
_WB = "White: English, Welsh, Scottish, Northern Irish or British"
_HERITAGES: dict[str, _Heritage] = {
    "white_british": _Heritage(
        _t(
            "Sarah Emma Laura Gemma Kelly Rebecca Charlotte Hannah Lucy Jade Stacey Amy Chloe Jessica "
            "Olivia Amelia Isla Poppy Evie Lily Freya Ella Grace Mia Ruby Leanne Danielle Kirsty"
        ),
        _t(
            "James Daniel Liam Ryan Jack Thomas Callum Lewis Connor Kieran Jamie Harry Oliver George "
            "Alfie Noah Charlie Leo Archie Oscar Tyler Reece Jordan Dean Craig Wayne Lee Darren"
        ),
        _t(
            "Smith Jones Taylor Brown Wilson Evans Thomas Johnson Roberts Walker Wright Robinson "
            "Thompson White Hughes Edwards Green Hall Wood Harris Clarke Jackson Turner Hill Moore "
            "Cooper Ward Morris King Baker Harrison Fletcher Barnes Holmes Lloyd Marsh Parker Bennett"
        ),
        _WB,
        ("English",),
        ("No religion", "Christian", "No religion", "Not stated"),
        ("British",),
        ("United Kingdom",),
        0.0,
        (0.34, 0.30, 0.50),
    ),
    "irish": _Heritage(
        _t("Siobhan Niamh Aoife Ciara Roisin Orla Sinead"),
        _t("Sean Patrick Conor Declan Ciaran Eoin Padraig"),
        _t("Murphy Kelly O'Brien Byrne Walsh Ryan Doyle O'Connor Gallagher McCarthy Quinn Brennan"),
        "White: Irish",
        ("English",),
        ("Christian", "No religion"),
        ("Irish",),
        ("Ireland",),
        0.5,
        (0.03, 0.04, 0.04),
    ),
    "black_caribbean": _Heritage(
        _t("Shanice Tia Kayla Aaliyah Simone Monique Keisha Jada Tianna Chantelle"),
        _t("Marcus Jerome Tyrone Kai Jaden Andre Dwayne Malachi Kyle Devon"),
        _t("Campbell Williams Francis Grant Henry Morgan Reid Bailey Stewart Gordon Samuels Richards"),
        "Black or Black British: Caribbean",
        ("English",),
        ("Christian", "No religion", "Christian"),
        ("British", "Jamaican"),
        ("United Kingdom", "Jamaica"),
        0.15,
        (0.12, 0.04, 0.04),
    ),
    "black_african": _Heritage(
        _t("Blessing Chioma Adaeze Folake Abena Ama Precious Favour Temi Ngozi Efua Mercy"),
        _t("Chinedu Emeka Oluwaseun Tobi Kwame Kofi Samuel Joshua Femi Kelechi Yaw Ebuka"),
        _t("Okafor Adeyemi Okonkwo Mensah Boateng Asante Adebayo Nwosu Owusu Eze Balogun Oyelaran"),
        "Black or Black British: African",
        ("English", "Yoruba", "Igbo", "Twi"),
        ("Christian", "Christian", "Muslim"),
        ("Nigerian", "Ghanaian"),
        ("Nigeria", "Ghana"),
        0.6,
        (0.13, 0.06, 0.07),
    ),
    "somali": _Heritage(
        _t("Amina Hodan Fadumo Ayan Sagal Hibo Nasra Ifrah"),
        _t("Abdi Abdirahman Hassan Yusuf Ismail Liban Mahad Guled"),
        _t("Warsame Farah Omar Jama Osman Aden Dahir Egal"),
        "Black or Black British: African",
        ("Somali", "English"),
        ("Muslim",),
        ("Somali", "British"),
        ("Somalia",),
        0.7,
        (0.02, 0.05, 0.03),
    ),
    "bangladeshi": _Heritage(
        _t("Nusrat Tahmina Sabrina Farzana Rumana Jasmin Shirin"),
        _t("Rayhan Shahid Jamal Rafiq Sohel Tanvir Ashraf"),
        _t("Rahman Islam Uddin Miah Chowdhury Hoque Ali"),
        "Asian or Asian British: Bangladeshi",
        ("Bengali", "Sylheti", "English"),
        ("Muslim",),
        ("Bangladeshi", "British"),
        ("Bangladesh",),
        0.6,
        (0.02, 0.08, 0.03),
    ),
    "pakistani": _Heritage(
        _t("Ayesha Maryam Hafsa Zara Sana Iqra Mehwish"),
        _t("Imran Bilal Hamza Zain Ayaan Tariq Usman"),
        _t("Khan Hussain Iqbal Akhtar Butt Malik Qureshi Rashid"),
        "Asian or Asian British: Pakistani",
        ("Urdu", "Punjabi", "English"),
        ("Muslim",),
        ("Pakistani", "British"),
        ("Pakistan",),
        0.5,
        (0.02, 0.03, 0.10),
    ),
    "indian": _Heritage(
        _t("Priya Anjali Simran Kavita Pooja Neha Meera"),
        _t("Rahul Arjun Sanjay Rohan Vikram Amit Nikhil"),
        _t("Patel Shah Sharma Gill Mistry Mehta Rao Nair"),
        "Asian or Asian British: Indian",
        ("Gujarati", "Punjabi", "Tamil", "English"),
        ("Hindu", "Sikh", "No religion"),
        ("Indian", "British"),
        ("India",),
        0.5,
        (0.03, 0.04, 0.03),
    ),
    "eastern_european": _Heritage(
        _t("Zofia Katarzyna Agnieszka Maja Oliwia Ioana Elena Andreea Gabriela Ruta"),
        _t("Jakub Piotr Tomasz Kacper Mateusz Andrei Ionut Mihai Lukas Marius"),
        _t("Nowak Wojcik Kaczmarek Mazur Krawczyk Popescu Ionescu Popa Dumitru Petrauskas"),
        "White: Other White",
        ("Polish", "Romanian", "Lithuanian"),
        ("Christian", "No religion"),
        ("Polish", "Romanian", "Lithuanian"),
        ("Poland", "Romania", "Lithuania"),
        0.9,
        (0.06, 0.06, 0.05),
    ),
    "turkish_kurdish": _Heritage(
        _t("Elif Zeynep Ayse Emine Derya Berfin"),
        _t("Mehmet Mustafa Emre Baran Serkan Deniz"),
        _t("Yilmaz Demir Kaya Celik Aydin Ozturk Arslan"),
        "Other ethnic group: Any other ethnic group",
        ("Turkish", "Kurdish"),
        ("Muslim", "No religion"),
        ("Turkish",),
        ("Turkey",),
        0.8,
        (0.04, 0.03, 0.01),
    ),
    "chinese_vietnamese": _Heritage(
        _t("Mei Ling Xin Yan Thi Lan"),
        _t("Wei Jun Hao Ming Minh Tuan"),
        _t("Chen Wang Zhang Liu Nguyen Tran Pham"),
        "Asian or Asian British: Chinese",
        ("Mandarin", "Cantonese", "Vietnamese"),
        ("No religion", "Buddhist"),
        ("Chinese", "Vietnamese"),
        ("China", "Vietnam", "Hong Kong"),
        0.7,
        (0.03, 0.04, 0.02),
    ),
    "arab": _Heritage(
        _t("Layla Nour Mariam Rania Huda Yasmin"),
        _t("Omar Karim Youssef Khalid Ahmad Samir"),
        _t("Haddad Mansour Saleh Nasser Aziz Al-Sayed Hamdan"),
        "Other ethnic group: Arab",
        ("Arabic",),
        ("Muslim",),
        ("Iraqi", "Syrian", "Sudanese", "Moroccan"),
        ("Iraq", "Syria", "Sudan", "Morocco"),
        0.8,
        (0.02, 0.12, 0.03),
    ),
    "lusophone_latin": _Heritage(
        _t("Ana Beatriz Mariana Camila Larissa Valentina"),
        _t("Joao Pedro Lucas Gabriel Rafael Mateo"),
        _t("Silva Santos Oliveira Pereira Costa Ferreira Rodrigues Gomez"),
        "White: Other White",
        ("Portuguese", "Spanish"),
        ("Christian",),
        ("Portuguese", "Brazilian", "Colombian"),
        ("Portugal", "Brazil", "Colombia"),
        0.85,
        (0.04, 0.08, 0.01),
    ),
    "eritrean": _Heritage(
        _t("Helen Selam Senait Saba"),
        _t("Dawit Yonas Filmon Samson"),
        _t("Tesfay Gebremedhin Berhane Haile Kidane"),
        "Black or Black British: African",
        ("Tigrinya", "Amharic"),
        ("Christian", "Muslim"),
        ("Eritrean", "Ethiopian"),
        ("Eritrea", "Ethiopia"),
        0.85,
        (0.01, 0.03, 0.03),
    ),
}
_HERITAGE_KEYS = tuple(_HERITAGES)
# Camden takes Westminster's column (inner London) of the heritage weights.
_AREA_INDEX = {"lewisham": 0, "westminster": 1, "manchester": 2, "camden": 1}
_MIXED = {
    "black_caribbean": "Mixed: White and Black Caribbean",
    "black_african": "Mixed: White and Black African",
    "somali": "Mixed: White and Black African",
    "eritrean": "Mixed: White and Black African",
    "bangladeshi": "Mixed: White and Asian",
    "pakistani": "Mixed: White and Asian",
    "indian": "Mixed: White and Asian",
    "chinese_vietnamese": "Mixed: White and Asian",
}

# Older-sounding names for neighbours, relatives and other informants.
_INFORMANT_FEMALE = _t("Doris Margaret Pauline Brenda Jean Patricia Maureen Sandra Carol Linda Janet Gloria")
_INFORMANT_MALE = _t("Derek Keith Trevor Roy Colin Barry Clive Alan Graham Desmond")
_INFORMANT_SURNAMES = _t("Kemp Price Pike Dawson Hurst Fowler Chambers Marshall Webb Lambert Sutton Ellis")
_INFORMANT_ROLES = ("A neighbour", "A neighbour", "A family friend", "A member of the public", "A relative")

_STREETS: dict[str, tuple[tuple[str, str], ...]] = {
    "lewisham": (
        ("SE4", "Brockley Road"),
        ("SE4", "Crofton Park Road"),
        ("SE4", "Adelaide Avenue"),
        ("SE6", "Rushey Green"),
        ("SE6", "Bromley Road"),
        ("SE6", "Sangley Road"),
        ("SE6", "Torridon Road"),
        ("SE6", "Bellingham Road"),
        ("SE8", "Deptford High Street"),
        ("SE8", "Evelyn Street"),
        ("SE12", "Baring Road"),
        ("SE12", "Burnt Ash Hill"),
        ("SE13", "Ladywell Road"),
        ("SE13", "Hither Green Lane"),
        ("SE13", "Lee High Road"),
        ("SE14", "Lewisham Way"),
        ("SE14", "New Cross Road"),
        ("SE23", "Stanstead Road"),
        ("SE23", "Honor Oak Park"),
        ("SE23", "Brockley Rise"),
        ("SE26", "Sydenham Road"),
        ("SE26", "Kirkdale"),
        ("SE26", "Mayow Road"),
        ("BR1", "Downham Way"),
    ),
    "westminster": (
        ("SW1V", "Lupus Street"),
        ("SW1V", "Warwick Way"),
        ("SW1V", "Tachbrook Street"),
        ("SW1V", "Cambridge Street"),
        ("SW1V", "Belgrave Road"),
        ("SW1P", "Vincent Square"),
        ("SW1P", "Horseferry Road"),
        ("SW1P", "Rochester Row"),
        ("SW1P", "Page Street"),
        ("W2", "Westbourne Park Road"),
        ("W2", "Porchester Road"),
        ("W9", "Harrow Road"),
        ("W9", "Elgin Avenue"),
        ("W9", "Shirland Road"),
        ("NW8", "Church Street"),
        ("NW8", "Lisson Grove"),
        ("W10", "Fifth Avenue"),
    ),
    "camden": (
        ("NW1", "Plender Street"),
        ("NW1", "Camden Street"),
        ("NW1", "Royal College Street"),
        ("NW5", "Prince of Wales Road"),
        ("NW5", "Queen's Crescent"),
        ("NW6", "Kilburn Vale"),
        ("NW6", "Abbey Road"),
        ("WC1", "Marchmont Street"),
        ("N19", "Dartmouth Park Hill"),
        ("NW3", "Fleet Road"),
    ),
    "manchester": (
        ("M14", "Wilmslow Road"),
        ("M14", "Claremont Road"),
        ("M14", "Platt Lane"),
        ("M16", "Princess Road"),
        ("M11", "Ashton Old Road"),
        ("M12", "Hyde Road"),
        ("M13", "Stockport Road"),
        ("M13", "Plymouth Grove"),
        ("M8", "Cheetham Hill Road"),
        ("M9", "Rochdale Road"),
        ("M9", "Moston Lane"),
        ("M40", "Oldham Road"),
        ("M18", "Gorton Lane"),
        ("M22", "Brownley Road"),
        ("M22", "Greenwood Road"),
        ("M19", "Kingsway"),
        ("M19", "Burnage Lane"),
    ),
}
_TOWN = {"lewisham": "London", "westminster": "London", "manchester": "Manchester", "camden": "London"}
_LANDLINE = {
    "lewisham": "020 7946 0",
    "westminster": "020 7946 0",
    "manchester": "0161 496 0",
    "camden": "020 7946 0",
}
_BUILDINGS = _t(
    "Elmhurst Ashdown Beaumont Carlton Delamere Fairfield Grosvenor Hawthorn Kingsley "
    "Linden Marlowe Norbury Oakfield Priory Redwood Stanton Thornbury Willow"
)
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward code (never C, I, K, M, O, V)
_PLACES = {
    "lewisham": _t("Catford Brockley Ladywell Sydenham Deptford Lee Downham Bellingham Crofton Honor-Oak"),
    "westminster": _t(
        "Pimlico Westbourne Maida-Vale Queen's-Park Lisson-Grove Paddington Millbank Churchill"
    ),
    "camden": _t("Somers-Town Kentish-Town Gospel-Oak Kilburn Camden-Town Bloomsbury Belsize Highgate"),
    "manchester": _t(
        "Moss-Side Rusholme Gorton Longsight Cheetham Moston Wythenshawe Burnage Levenshulme Hulme"
    ),
}
_PRIMARY = (
    "Primary School",
    "Primary Academy",
    "Community Primary School",
    "CE Primary School",
    "RC Primary School",
)
_SECONDARY = ("Academy", "High School", "School", "College")
_GP_KINDS = ("Medical Centre", "Surgery", "Group Practice", "Health Centre", "Family Practice")
_HEALTH_VISITING = {
    "lewisham": "Lewisham and Greenwich NHS Trust Health Visiting",
    "westminster": "Central London Community Healthcare NHS Trust Health Visiting",
    "manchester": "Manchester University NHS Foundation Trust Health Visiting",
    "camden": "Whittington Health NHS Trust Health Visiting",
}
_POLICE = {
    "lewisham": "Metropolitan Police",
    "westminster": "Metropolitan Police",
    "manchester": "Greater Manchester Police",
    "camden": "Metropolitan Police",
}

_STAFF_ROLES = {
    FT: ("Family Practitioner",) * 5 + ("Senior Family Practitioner", "Team Manager"),
    CSC: ("Social Worker",) * 5
    + (
        "Senior Social Worker",
        "Team Manager",
        "Family Support Worker",
        "Child Protection Chair",
        "Independent Reviewing Officer",
    ),
    EH: ("Early Help Practitioner",) * 4 + ("Lead Professional", "Early Help Coordinator", "Team Manager"),
    WFH: ("Family Navigator",) * 3
    + ("Family Support Worker",) * 2
    + ("Early Help Practitioner", "Hub Manager"),
    TF: ("Keyworker",) * 5 + ("Senior Keyworker", "Thriving Families Coordinator", "Team Manager"),
    CF: ("Family Support Worker",) * 4 + ("Social Worker", "Senior Practitioner", "Team Manager"),
}
_STAFF_COUNT = 30

_CHILD_HEALTH = (
    "Asthma (uses an inhaler)",
    "Eczema",
    "ADHD, diagnosed by the community paediatrician",
    "Autism spectrum condition; EHC plan in place",
    "Speech and language delay",
    "Type 1 diabetes",
    "Anxiety; on the CAMHS waiting list",
    "Epilepsy",
    "Sickle cell disease",
    "Hearing impairment (hearing aids)",
    "Low mood; school counsellor involved",
)
_ADULT_HEALTH = (
    "Depression; prescribed antidepressants by the GP",
    "Anxiety",
    "Postnatal depression",
    "Back injury; unable to work",
    "Alcohol misuse (in recovery)",
    "Type 2 diabetes",
    "Long-term pain condition",
    "PTSD following domestic abuse",
)
_BENEFITS = (
    "Universal Credit; Child Benefit",
    "Child Benefit",
    "Universal Credit (housing element); Child Benefit",
    "Carer's Allowance; Child Benefit",
    "Personal Independence Payment; Universal Credit",
    "Employment and Support Allowance; Child Benefit",
)
_POLICE_INFO = (
    "MASH: police report of a domestic incident at the address; no further action",
    "Caution for possession of a controlled drug",
    "Non-molestation order in force against a former partner",
    "MASH: police attended following a report of a child left alone",
)
_NEEDS = (
    "housing and overcrowding",
    "managing behaviour at home",
    "debt and benefits",
    "getting back into work",
    "school attendance",
    "low mood and isolation",
    "support after domestic abuse",
    "sleep and routines",
    "speech and language",
    "parenting a teenager",
    "childcare so a parent can work",
)


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


# -- canonical families -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Person:
    slot: int  # 0-1 adults, 2-5 children
    given: str
    surname: str
    dob: date
    female: bool
    kind: str  # mother, father, stepfather, stepmother, grandmother, child
    nhs: str
    upn: str | None
    ethnicity: str
    language: str
    religion: str
    nationality: str
    country_of_birth: str
    mobile: str | None = None
    email: str | None = None
    health: str | None = None
    parental_responsibility: bool = False

    @property
    def is_child(self) -> bool:
        return self.kind == "child"

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.surname}"


@dataclass(slots=True)
class _Family:
    origin: str
    index: int
    heritage: str
    surname: str
    adults: list[_Person]
    children: list[_Person]
    ex_partner: str  # a non-resident parent, named in notes (a third party)

    @property
    def people(self) -> list[_Person]:
        return self.adults + self.children


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _pick_heritage(rng: random.Random, area: str) -> str:
    column = _AREA_INDEX[area]
    return rng.choices(_HERITAGE_KEYS, weights=[h.weights[column] for h in _HERITAGES.values()])[0]


def _mobile(rng: random.Random) -> str:
    return f"07700 900{rng.randrange(1000):03d}"


def _email(rng: random.Random, given: str, surname: str) -> str:
    local = f"{given}.{surname}".lower().replace("'", "").replace(" ", "")
    return f"{local}{rng.randrange(1, 100)}@example.com"


def _canonical_family(seed: int, as_of: date, origin: str, index: int) -> _Family:
    """The people of a family: the same whichever store they appear in."""
    rng = random.Random(f"{seed}:family:{origin}:{index}")
    area = _AREA[origin]
    heritage_key = _pick_heritage(rng, area)
    h = _HERITAGES[heritage_key]
    person_base = (_SERVICE_NUMBER[origin] * MAX_FAMILIES + index) * 6
    # A UPN carries its LA number: Camden is the only service of LA 202, so its range starts at 0.
    upn_base = ((0 if origin == CF else _SERVICE_NUMBER[origin]) * MAX_FAMILIES + index) * 4
    family_surname = rng.choice(h.surnames)

    def adult(slot: int, kind: str, female: bool, heritage: _Heritage, dob: date, surname: str) -> _Person:
        abroad = rng.random() < heritage.born_abroad
        given = rng.choice(heritage.female if female else heritage.male)
        if kind == "grandmother" and heritage is _HERITAGES["white_british"]:
            given = rng.choice(_INFORMANT_FEMALE)  # a name of her generation
        p = _Person(
            slot=slot,
            given=given,
            surname=surname,
            dob=dob,
            female=female,
            kind=kind,
            nhs=synthetic_nhs_number(person_base + slot),
            upn=None,
            ethnicity=heritage.ethnicity,
            language=heritage.languages[0] if abroad else rng.choice(("English",) + heritage.languages),
            religion=rng.choice(heritage.religions),
            nationality=rng.choice(heritage.nationalities) if abroad else "British",
            country_of_birth=rng.choice(heritage.countries) if abroad else "United Kingdom",
            parental_responsibility=kind in ("mother", "father", "grandmother"),
        )
        p.mobile = _mobile(rng) if rng.random() < 0.92 else None
        p.email = _email(rng, p.given, p.surname) if rng.random() < 0.6 else None
        p.health = rng.choice(_ADULT_HEALTH) if rng.random() < 0.2 else None
        return p

    # children first: the eldest is 6 to 19 at as_of, so every family has a child born before
    # any contact in the six-year window
    n_children = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
    eldest = as_of - timedelta(days=rng.randint(6 * 365 + 2, 19 * 365))
    dobs = [eldest]
    for _ in range(n_children - 1):
        nxt = dobs[-1] + timedelta(days=rng.randint(365, 5 * 365))
        if nxt > as_of - timedelta(days=30):
            break
        dobs.append(nxt)

    # adults
    shape = rng.random()
    mother_age = rng.randint(17, 40)
    mother_dob = eldest - timedelta(days=mother_age * 365 + rng.randint(0, 364))
    partner_heritage = h
    mixed = False
    if shape >= 0.45 and heritage_key != "white_british" and rng.random() < 0.2:
        partner_heritage, mixed = _HERITAGES["white_british"], True
    adults: list[_Person] = []
    if shape < 0.40:  # lone mother
        adults.append(adult(0, "mother", True, h, mother_dob, family_surname))
    elif shape < 0.44:  # lone father
        adults.append(
            adult(0, "father", False, h, mother_dob - timedelta(days=rng.randint(0, 2500)), family_surname)
        )
    elif shape < 0.46:  # grandmother as kinship carer
        gran_dob = mother_dob - timedelta(days=rng.randint(18, 28) * 365)
        adults.append(adult(0, "grandmother", True, h, gran_dob, family_surname))
    elif shape < 0.86:  # mother and father
        adults.append(adult(0, "mother", True, h, mother_dob, family_surname))
        adults.append(
            adult(
                1,
                "father",
                False,
                partner_heritage,
                mother_dob - timedelta(days=rng.randint(-1000, 3000)),
                rng.choice(partner_heritage.surnames) if mixed else family_surname,
            )
        )
        if mixed:
            adults[0].surname = adults[1].surname
            family_surname = adults[1].surname
    elif shape < 0.97:  # mother and stepfather
        adults.append(adult(0, "mother", True, h, mother_dob, family_surname))
        adults.append(
            adult(
                1,
                "stepfather",
                False,
                partner_heritage,
                mother_dob - timedelta(days=rng.randint(-1500, 3000)),
                rng.choice(partner_heritage.surnames),
            )
        )
    else:  # father and stepmother
        adults.append(
            adult(0, "father", False, h, mother_dob - timedelta(days=rng.randint(0, 2500)), family_surname)
        )
        adults.append(
            adult(
                1,
                "stepmother",
                True,
                partner_heritage,
                mother_dob + timedelta(days=rng.randint(-1500, 1500)),
                rng.choice(partner_heritage.surnames),
            )
        )

    children: list[_Person] = []
    used: set[str] = {a.given for a in adults}
    for n, dob in enumerate(dobs):
        female = rng.random() < 0.49
        names = h.female if female else h.male
        given = rng.choice(names)
        for _ in range(5):
            if given not in used:
                break
            given = rng.choice(names)
        used.add(given)
        # Reception starts in the September after the fourth birthday: the UPN is issued then.
        entry_year = dob.year + (4 if dob.month < 9 else 5)
        upn = None
        if date(entry_year, 9, 1) <= as_of:
            upn = synthetic_upn(upn_base + n, _LA_NUMBER[area], entry_year)
        children.append(
            _Person(
                slot=2 + n,
                given=given,
                surname=family_surname,
                dob=dob,
                female=female,
                kind="child",
                nhs=synthetic_nhs_number(person_base + 2 + n),
                upn=upn,
                ethnicity=_MIXED.get(heritage_key, "Mixed: Other Mixed") if mixed else h.ethnicity,
                language=rng.choice(("English", "English") + h.languages[:1]),
                religion=adults[0].religion,
                nationality="British",
                country_of_birth="United Kingdom",
                health=rng.choice(_CHILD_HEALTH) if rng.random() < 0.25 else None,
            )
        )
    for c in children:  # teenagers have phones
        if _age(c.dob, as_of) >= 13 and rng.random() < 0.6:
            c.mobile = _mobile(rng)
    ex_female = adults[0].kind == "father"
    ex_partner = rng.choice(h.female if ex_female else h.male)
    return _Family(origin, index, heritage_key, family_surname, adults, children, ex_partner)


# -- local context: address, school, GP, professionals -------------------------------------------


@dataclass(slots=True)
class _Local:
    line1: str
    town: str
    postcode: str
    landline: str | None
    gp: str  # "Dr Helen Marsh, Catford Medical Centre"
    gp_practice: str
    health_visitor: str  # "Joanne Pike (… Health Visiting)"
    health_visitor_name: str
    schools: dict[int, str]  # child slot -> school name
    dsl: str  # "Mrs Angela Price, designated safeguarding lead at ..."
    police_officer: str
    informant: str  # "Mrs Doris Kemp"
    informant_role: str


def _any_name(rng: random.Random, female: bool | None = None) -> tuple[str, str, bool]:
    h = _HERITAGES[rng.choice(_HERITAGE_KEYS)]
    if female is None:
        female = rng.random() < 0.6
    return rng.choice(h.female if female else h.male), rng.choice(h.surnames), female


def _place(rng: random.Random, area: str) -> str:
    return rng.choice(_PLACES[area]).replace("-", " ")


def _local(seed: int, fam: _Family, area: str, as_of: date) -> _Local:
    """Where the family lives in ``area``: identical for every store in that borough."""
    rng = random.Random(f"{seed}:local:{area}:{fam.origin}:{fam.index}")
    outward, street = rng.choice(_STREETS[area])
    postcode = f"{outward} {rng.randint(1, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
    if rng.random() < 0.45:
        line1 = f"Flat {rng.randint(1, 40)}, {rng.choice(_BUILDINGS)} House, {rng.randint(1, 180)} {street}"
    else:
        line1 = f"{rng.randint(1, 240)} {street}"
    landline = f"{_LANDLINE[area]}{rng.randrange(1000):03d}" if rng.random() < 0.35 else None
    gp_given, gp_surname, _ = _any_name(rng)
    practice = f"{_place(rng, area)} {rng.choice(_GP_KINDS)}"
    hv_given, hv_surname, _ = _any_name(rng, True)
    primary = f"{_place(rng, area)} {rng.choice(_PRIMARY)}"
    secondary = f"{_place(rng, area)} {rng.choice(_SECONDARY)}"
    schools = {c.slot: (secondary if _age(c.dob, as_of) >= 11 else primary) for c in fam.children if c.upn}
    dsl_given, dsl_surname, dsl_female = _any_name(rng)
    dsl_title = rng.choice(("Mrs", "Ms")) if dsl_female else "Mr"
    dsl_school = primary if not schools else next(iter(schools.values()))
    pc_given, pc_surname, _ = _any_name(rng)
    inf_female = rng.random() < 0.6
    inf_given = rng.choice(_INFORMANT_FEMALE if inf_female else _INFORMANT_MALE)
    informant = f"{'Mrs' if inf_female else 'Mr'} {inf_given} {rng.choice(_INFORMANT_SURNAMES)}"
    return _Local(
        line1=line1,
        town=_TOWN[area],
        postcode=postcode,
        landline=landline,
        gp=f"Dr {gp_given} {gp_surname} at {practice}",
        gp_practice=practice,
        health_visitor=f"{hv_given} {hv_surname} ({_HEALTH_VISITING[area]})",
        health_visitor_name=f"{hv_given} {hv_surname}",
        schools=schools,
        dsl=f"{dsl_title} {dsl_given} {dsl_surname}, designated safeguarding lead at {dsl_school}",
        police_officer=f"PC {pc_given} {pc_surname}",
        informant=informant,
        informant_role=rng.choice(_INFORMANT_ROLES),
    )


@dataclass(frozen=True, slots=True)
class _Staff:
    number: int
    given: str
    surname: str
    role: str

    @property
    def name(self) -> str:
        return f"{self.given} {self.surname}"


def _staff(seed: int, service: str) -> list[_Staff]:
    rng = random.Random(f"{seed}:{service}:staff")
    roles = _STAFF_ROLES[service]
    out = []
    for n in range(_STAFF_COUNT):
        given, surname, _ = _any_name(rng)
        out.append(_Staff(n, given, surname, roles[n % len(roles)]))
    return out


# -- free text ------------------------------------------------------------------------------------

_NOTES = (
    "{Role} {worker} visited at home. {child} said {his} {mum} {parent} has been 'really stressed' about "
    "money; {parent} agreed to a referral for debt advice.",
    "Home visit. {parent} and {child} were in. {parent} said mornings are a battle and {child} has been "
    "late for school most days this month.",
    "Spoke to {dsl}, who said {child}'s attendance has dropped this term. {worker} to raise it at the "
    "next review.",
    "{parent} phoned upset: {other} has not been paying towards the rent. Agreed a joint visit with "
    "{worker} ({role}) next week.",
    "Met {child} at school with {dsl}. {child} said {he} feels safe at home but worries about {his} {mum}.",
    "Review meeting with {parent} and {worker} ({role}). Plan updated: {child} has a place at breakfast "
    "club and {parent} will start the parenting group.",
    "Telephone call with {parent}. {child} is on the CAMHS waiting list; {gp} has written to chase.",
    "{worker} saw {child} on {his} own. {child} said {other} 'shouts a lot' when {parent} is at work.",
    "{parent} said {other} has moved out. {child} has been quiet and not eating well; {parent} will book "
    "an appointment with {gp}.",
    "{gp} wrote to say {youngest} has missed two appointments; {parent} agreed to rebook and {worker} "
    "will send a reminder.",
)
_SIBLING_NOTES = (
    "Home visit. {child} and {sibling} were arguing over the tablet; {parent} said the two of them have "
    "shared a room since the move.",
    "{child} said {sibling} gets 'all the attention'. {worker} talked with {parent} about one-to-one time "
    "with each child.",
)
_INFORMANT_NOTES = (
    "{informant_role}, {informant}, called to report shouting from the home late at night. {parent} said "
    "it was an argument with {other} and that the children were asleep.",
    "{informant_role}, {informant}, rang with concerns that {child} was out alone after dark. Discussed "
    "with {parent}, who said {child} had been at a friend's house.",
)
_CSC_NOTES = (
    "{Role} {worker} visited; {child} said {his} {mum} {parent} had been crying a lot since {other} left.",
    "Statutory visit. Saw {child} alone in {his} bedroom. {child} said {he} likes school and that {other} "
    "is not allowed to come round any more.",
    "Strategy discussion with {dsl} and {police}. Agreed a section 47 enquiry in respect of {child}.",
    "{parent} disclosed that {other} has been drinking heavily; the safety plan was reviewed with {parent}.",
    "Core group: {parent}, {dsl}, health visitor {hv} and {worker} ({role}). {child}'s plan reviewed; "
    "school attendance improving.",
    "{police} shared a report of a domestic incident at the address; {child} and {sibling} were present. "
    "{worker} spoke to {parent} the next day.",
    "Visit with {parent}. {child} showed {worker} {his} room and talked about {his} friends at school.",
)
_MUM = {"mother": "mum", "father": "dad", "grandmother": "nan"}


def _voice(
    rng: random.Random,
    fam: _Family,
    local: _Local,
    children: list[_Person],
    worker: _Staff,
    child: _Person | None = None,
) -> dict:
    """The names a note can use: family members by first name, professionals by name and role."""
    lead = fam.adults[0]
    child = child or rng.choice(children)
    others = [c for c in children if c is not child]
    other = fam.adults[1].given if len(fam.adults) > 1 else fam.ex_partner
    return {
        "worker": worker.name,
        "role": worker.role.lower(),
        "Role": worker.role,
        "parent": lead.given,
        "mum": _MUM[lead.kind],
        "other": other,
        "child": child.given,
        "he": "she" if child.female else "he",
        "his": "her" if child.female else "his",
        "sibling": rng.choice(others).given if others else other,
        "youngest": children[-1].given,
        "dsl": local.dsl,
        "gp": local.gp,
        "hv": local.health_visitor_name,
        "police": local.police_officer,
        "informant": local.informant,
        "informant_role": local.informant_role,
    }


def _note(rng: random.Random, voice: dict, pool: tuple[str, ...], has_siblings: bool) -> str:
    r = rng.random()
    if r < 0.08:
        template = rng.choice(_INFORMANT_NOTES)
    elif has_siblings and r < 0.2:
        template = rng.choice(_SIBLING_NOTES)
    else:
        template = rng.choice(pool)
    return template.format_map(voice)


# -- per-family context and helpers ----------------------------------------------------------------


@dataclass(slots=True)
class _Ctx:
    service: str
    index: int
    as_of: date
    rng: random.Random
    fam: _Family
    local: _Local
    staff: list[_Staff]
    flags: set[str]
    opened: date
    last_contact: date
    closed: date | None
    people: list[_Person]  # adults and the children born by the last contact
    children: list[_Person]
    worker: _Staff
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    historic: str | None = None  # the kind of old, closed case (social care), see historic_case

    def next_id(self, table: str) -> int:
        n = self.counters[table]
        if n >= _ROW_STRIDE:
            raise AssertionError(f"more than {_ROW_STRIDE} {table} rows for one family")
        self.counters[table] = n + 1
        return self.index * _ROW_STRIDE + n + 1

    def person_id(self, p: _Person) -> int:
        return self.index * _PEOPLE_STRIDE + p.slot + 1

    def contact_dates(self, low: int, high: int) -> list[date]:
        """Sorted contact dates from opening to the last contact, which is always the last one."""
        span = (self.last_contact - self.opened).days
        n = self.rng.randint(low, high)
        days = sorted(self.rng.randint(0, span) for _ in range(n - 1))
        return [self.opened + timedelta(days=d) for d in days] + [self.last_contact]

    def between(self, start: date, end: date) -> date:
        if end <= start:
            return start
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def at(self, d: date) -> datetime:
        return datetime.combine(d, dtime(self.rng.randint(8, 18), self.rng.choice((0, 15, 30, 45))))

    def flag_dates(self, ends: float) -> tuple[date, date | None]:
        raised = self.between(self.opened, self.last_contact)
        ended = None
        if self.rng.random() < ends:
            ended = raised + timedelta(days=self.rng.randint(30, 540))
            if ended > self.as_of:
                ended = None
        return raised, ended

    def voice(self, worker: _Staff | None = None, child: _Person | None = None) -> dict:
        return _voice(self.rng, self.fam, self.local, self.children, worker or self.worker, child)

    def note(
        self, pool: tuple[str, ...] = _NOTES, worker: _Staff | None = None, child: _Person | None = None
    ) -> str:
        return _note(self.rng, self.voice(worker, child), pool, len(self.children) > 1)


def _last_contact(rng: random.Random, index: int, as_of: date) -> date:
    if index % 100 == 50:  # a few families right on the three-year boundary
        return _years_before(as_of, 3) + timedelta(days=rng.randint(-3, 3))
    return as_of - timedelta(days=rng.randint(0, 6 * 365))


def _context(seed: int, as_of: date, service: str, index: int, staff: list[_Staff]) -> _Ctx:
    historic = historic_case(service, index)
    if historic is not None:
        return _historic_context(seed, as_of, service, index, staff, historic)
    origin, origin_index = family_origin(service, index)
    fam = _canonical_family(seed, as_of, origin, origin_index)
    rng = random.Random(f"{seed}:{service}:{index}")
    local = _local(seed, fam, _AREA[service], as_of)
    last = _last_contact(rng, index, as_of)
    opened = last - timedelta(days=rng.randint(21, 730))
    closed = None
    if (as_of - last).days > 90:
        closed = min(as_of, last + timedelta(days=rng.randint(0, 60)))
    children = [c for c in fam.children if c.dob <= last]
    return _Ctx(
        service=service,
        index=index,
        as_of=as_of,
        rng=rng,
        fam=fam,
        local=local,
        staff=staff,
        flags=_family_flags(service, index),
        opened=opened,
        last_contact=last,
        closed=closed,
        people=fam.adults + children,
        children=children,
        worker=rng.choice([s for s in staff if s.role == _STAFF_ROLES[service][0]]),
    )


def _historic_context(
    seed: int, as_of: date, service: str, index: int, staff: list[_Staff], kind: str
) -> _Ctx:
    """An old case: the family as it was ``years`` before ``as_of``, last seen within the year
    before that, closed within two months of the last contact."""
    rng = random.Random(f"{seed}:{service}:{index}")
    low, high = _HISTORIC_YEARS.get(kind, (26, 40))
    then = _years_before(as_of, rng.randint(low, high))
    fam = _canonical_family(seed, then, service, index)
    last = then - timedelta(days=rng.randint(0, 365))
    opened = last - timedelta(days=rng.randint(21, 730))
    children = [c for c in fam.children if c.dob <= last]
    return _Ctx(
        service=service,
        index=index,
        as_of=as_of,
        rng=rng,
        fam=fam,
        local=_local(seed, fam, _AREA[service], then),
        staff=staff,
        flags=_family_flags(service, index),
        opened=opened,
        last_contact=last,
        closed=last + timedelta(days=rng.randint(0, 60)),
        people=fam.adults + children,
        children=children,
        worker=rng.choice([s for s in staff if s.role == _STAFF_ROLES[service][0]]),
        historic=kind,
    )


def _address(ctx: _Ctx) -> str:
    return f"{ctx.local.line1}, {ctx.local.town}"


def _relationship_to_lead(lead: _Person, p: _Person) -> str:
    if p is lead:
        return "Self"
    if not p.is_child:
        return "Partner"
    if lead.kind == "grandmother":
        return "Granddaughter" if p.female else "Grandson"
    return "Daughter" if p.female else "Son"


def _sex(p: _Person) -> str:
    return "Female" if p.female else "Male"


def _withdrawn(ctx: _Ctx, given: date) -> date | None:
    """About 8% of consents were withdrawn at least a week after they were given."""
    if ctx.rng.random() < 0.08 and given + timedelta(days=7) <= ctx.as_of:
        return ctx.between(given + timedelta(days=7), ctx.as_of)
    return None


def _flag_subject(ctx: _Ctx) -> _Person:
    return ctx.rng.choice(ctx.children)


Rows = dict[str, list[dict]]


# -- Lewisham Family Thrive -----------------------------------------------------------------------

_FT_SHARE_DETAIL = (
    "Family Thrive referral: names, dates of birth, address and presenting needs",
    "Family plan and review notes",
    "Attendance and wellbeing concerns",
    "Health needs summary",
    "Housing need and household composition",
)


def _family_thrive(ctx: _Ctx, rows: Rows) -> None:
    rng, lead = ctx.rng, ctx.fam.adults[0]
    fid = ctx.index + 1
    rows["ft_family"].append(
        {
            "family_id": fid,
            "family_name": lead.surname,
            "address": _address(ctx),
            "postcode": ctx.local.postcode,
            "referred_on": ctx.opened,
            "closed_on": ctx.closed,
        }
    )
    for p in ctx.people:
        rows["ft_family_member"].append(
            {
                "member_id": ctx.person_id(p),
                "family_id": fid,
                "first_name": p.given,
                "last_name": p.surname,
                "birth_date": p.dob,
                "nhs_number": p.nhs if p.is_child or rng.random() < 0.95 else None,
                "relationship_to_lead": _relationship_to_lead(lead, p),
                "phone": p.mobile,
                "email": p.email,
                "health_notes": p.health,
                "restricted_on": None,
            }
        )
    for d in ctx.contact_dates(3, 14):
        rows["ft_session"].append(
            {
                "session_id": ctx.next_id("ft_session"),
                "family_id": fid,
                "held_on": d,
                "worker": ctx.worker.name,
                "summary": ctx.note(),
                "supplementary_statement": None,
            }
        )
    for n in range(rng.randint(1, 2)):
        agreed = ctx.opened + timedelta(days=14 + 90 * n)
        if agreed > ctx.last_contact:
            break
        v = ctx.voice()
        rows["ft_support_plan"].append(
            {
                "plan_id": ctx.next_id("ft_support_plan"),
                "family_id": fid,
                "agreed_on": agreed,
                "outcomes": f"1. {v['child']} attends school every day. 2. {v['parent']} has support with "
                f"{rng.choice(_NEEDS)}. 3. Family routines at bedtime agreed with {ctx.worker.name}.",
            }
        )
    consented: list[tuple[_Person, date]] = []
    for p in ctx.people:
        purposes = (
            ("Family Thrive support", "Sharing with partner agencies")
            if not p.is_child
            else (("Sharing with partner agencies",) if _age(p.dob, ctx.opened) >= 13 else ())
        )
        for purpose in purposes:
            withdrawn = _withdrawn(ctx, ctx.opened)
            rows["ft_consent"].append(
                {
                    "consent_id": ctx.next_id("ft_consent"),
                    "member_id": ctx.person_id(p),
                    "purpose": purpose,
                    "given_on": ctx.opened,
                    "withdrawn_on": withdrawn,
                }
            )
            if purpose == "Sharing with partner agencies" and withdrawn is None:
                consented.append((p, ctx.opened))
    partners = (
        "Health Visiting (Lewisham and Greenwich NHS Trust)",
        "CAMHS (South London and Maudsley)",
        "Lewisham Housing Options",
        ctx.local.gp_practice,
        *dict.fromkeys(ctx.local.schools.values()),
    )
    for _ in range(rng.randint(0, 3) if consented else 0):
        p = rng.choice(ctx.children)
        rows["ft_share"].append(
            {
                "share_id": ctx.next_id("ft_share"),
                "member_id": ctx.person_id(p),
                "shared_with": rng.choice(partners),
                "detail": rng.choice(_FT_SHARE_DETAIL),
                "shared_on": ctx.between(ctx.opened, ctx.last_contact),
                "with_consent": 1,
            }
        )
    codes = {"safeguarding": ("SAFEGUARDING", 0.4), "cp": ("CP_PLAN", 0.5), "legal": ("LEGAL_HOLD", 0.2)}
    for kind in sorted(ctx.flags):
        code, ends = codes[kind]
        p = _flag_subject(ctx)
        raised, ended = ctx.flag_dates(ends)
        rows["ft_concern"].append(
            {
                "concern_id": ctx.next_id("ft_concern"),
                "member_id": ctx.person_id(p),
                "concern_type": code,
                "raised_at": ctx.at(raised),
                "resolved_at": ctx.at(ended) if ended else None,
            }
        )
        if kind == "safeguarding":  # shared without consent, as the notice says
            for recipient in ("Lewisham Children's Social Care", "Metropolitan Police"):
                rows["ft_share"].append(
                    {
                        "share_id": ctx.next_id("ft_share"),
                        "member_id": ctx.person_id(p),
                        "shared_with": recipient,
                        "detail": "Safeguarding concern: referral and chronology",
                        "shared_on": raised,
                        "with_consent": 0,
                    }
                )


# -- Lewisham children's social care --------------------------------------------------------------

_CSC_RECIPIENTS = (
    ("Lewisham and Greenwich NHS Trust", "Health and development summary", "Children Act 2004 s11"),
    ("Metropolitan Police", "MASH referral information", "Crime and Disorder Act 1998 s115"),
    (
        "South London and Maudsley NHS Foundation Trust (CAMHS)",
        "Referral for assessment",
        "Children Act 2004 s11",
    ),
    ("Lewisham Youth Offending Service", "Assessment summary", "Crime and Disorder Act 1998 s115"),
    ("Lewisham Housing", "Housing need and household composition", "Children Act 1989 s27"),
    ("CAFCASS", "Information for a section 7 report", "Children Act 1989 s7"),
    (
        "Department for Work and Pensions",
        "Household composition and benefit details",
        "Social Security Administration Act 1992",
    ),
    ("Ofsted", "Serious incident notification", "Children Act 1989; Care Standards Act 2000"),
    (
        "Local Authority Designated Officer (LADO)",
        "Allegation information",
        "Working Together to Safeguard Children",
    ),
    ("Royal Borough of Greenwich Children's Services", "Case transfer records", "Children Act 1989 s47"),
    ("Advocacy service (NYAS)", "Referral for an advocate", "Children Act 1989 s26A"),
    (
        "Criminal Injuries Compensation Authority",
        "Supporting information for a claim",
        "Consent of a person with PR",
    ),
    (
        "Department for Education (children in need census)",
        "Child-level return without names",
        "Children Act 1989 s83",
    ),
)
_NHS_CP_IS = (
    "NHS England (Child Protection - Information Sharing)",
    "Child protection plan or looked-after status",
    "Children Act 1989; CP-IS",
)
_REFERRAL_SOURCES = (
    "Police",
    "School",
    "Health visitor",
    "GP",
    "Hospital (emergency department)",
    "Self-referral (parent)",
    "Neighbour",
    "Early Help",
    "Anonymous",
    "Housing",
)
_MASH_OUTCOMES = (
    "Progress to assessment",
    "Step down to Early Help",
    "No further action",
    "Strategy discussion",
)
_RELATION = {
    "mother": ("mother", "daughter", "son"),
    "father": ("father", "daughter", "son"),
    "stepfather": ("step-father", "step-daughter", "step-son"),
    "stepmother": ("step-mother", "step-daughter", "step-son"),
    "grandmother": ("grandmother", "granddaughter", "grandson"),
}


def _plan_end(ctx: _Ctx, start: date, share_ended: float) -> date | None:
    """Protection plans and care episodes that ended lasted three months to two years."""
    if ctx.rng.random() >= share_ended:
        return None
    end = start + timedelta(days=ctx.rng.randint(90, 730))
    return end if end <= ctx.as_of else None


def _csc_end(ctx: _Ctx, start: date, share_ended: float) -> date | None:
    """When a plan or episode ended: an old case's all ended by its closure."""
    if ctx.historic is None or ctx.closed is None:
        return _plan_end(ctx, start, share_ended)
    return min(ctx.closed, start + timedelta(days=ctx.rng.randint(90, 730)))


def _professional_rows(staff: list[_Staff]) -> list[dict]:
    return [
        {
            "person_id": _PROFESSIONAL_BASE + s.number + 1,
            "forename": s.given,
            "surname": s.surname,
            "is_professional": 1,
        }
        for s in staff
    ]


def _childrens_social_care(ctx: _Ctx, rows: Rows) -> None:
    rng, fam, local = ctx.rng, ctx.fam, ctx.local
    for p in ctx.people:
        adult = not p.is_child
        rows["lcs_person"].append(
            {
                "person_id": ctx.person_id(p),
                "forename": p.given,
                "surname": p.surname,
                "date_of_birth": p.dob,
                "gender": _sex(p),
                "nhs_number": p.nhs,
                "upn": p.upn,
                "ethnicity": p.ethnicity,
                "first_language": p.language,
                "religion": p.religion,
                "address": _address(ctx),
                "postcode": local.postcode,
                "telephone": p.mobile or (local.landline if adult else None),
                "school_name": local.schools.get(p.slot),
                "health_needs": p.health,
                "benefits": rng.choice(_BENEFITS) if adult and rng.random() < 0.7 else None,
                "police_info": rng.choice(_POLICE_INFO) if adult and rng.random() < 0.08 else None,
                "is_professional": 0,
                "date_of_death": None,
                "restricted_on": None,
            }
        )
    # typed relationships, one row each way
    for a in fam.adults:
        for c in ctx.children:
            forward, daughter, son = _RELATION[a.kind]
            pr = int(a.parental_responsibility)
            for person, related, kind in ((a, c, forward), (c, a, daughter if c.female else son)):
                rows["lcs_relationship"].append(
                    {
                        "relationship_id": ctx.next_id("lcs_relationship"),
                        "person_id": ctx.person_id(person),
                        "related_person_id": ctx.person_id(related),
                        "relationship_type": kind,
                        "has_parental_responsibility": pr,
                    }
                )
    pairs = [(x, y, "sibling") for x in ctx.children for y in ctx.children if x is not y]
    if len(fam.adults) == 2:
        pairs += [(fam.adults[0], fam.adults[1], "partner"), (fam.adults[1], fam.adults[0], "partner")]
    for person, related, kind in pairs:
        rows["lcs_relationship"].append(
            {
                "relationship_id": ctx.next_id("lcs_relationship"),
                "person_id": ctx.person_id(person),
                "related_person_id": ctx.person_id(related),
                "relationship_type": kind,
                "has_parental_responsibility": 0,
            }
        )

    if ctx.historic == "contact":
        _csc_contact_only(ctx, rows)
        return
    social_workers = [s for s in ctx.staff if s.role in ("Social Worker", "Senior Social Worker")]
    lac_child = None
    if "lac" in ctx.flags:
        # An old looked-after case: the youngest child, so the case record's rule governs the family.
        lac_child = ctx.children[-1] if ctx.historic else _flag_subject(ctx)
    ending = ctx.closed
    for c in ctx.children:
        cid = ctx.person_id(c)
        v = ctx.voice(child=c)
        if rng.random() < 0.3:
            earlier = ctx.opened - timedelta(days=rng.randint(120, 900))
            rows["lcs_referral"].append(
                {
                    "referral_id": ctx.next_id("lcs_referral"),
                    "person_id": cid,
                    "referral_date": earlier,
                    "referral_source": rng.choice(_REFERRAL_SOURCES),
                    "mash_outcome": "No further action",
                    "reason": f"Concerns about {c.given}'s school attendance and home conditions.",
                }
            )
        rows["lcs_referral"].append(
            {
                "referral_id": ctx.next_id("lcs_referral"),
                "person_id": cid,
                "referral_date": ctx.opened,
                "referral_source": rng.choice(_REFERRAL_SOURCES),
                "mash_outcome": "Progress to assessment",
                "reason": rng.choice(
                    (
                        f"{v['informant_role']}, {v['informant']}, reported {c.given} left alone at home.",
                        f"{local.police_officer} attended a domestic incident; {c.given} was present.",
                        f"{local.dsl} reported that {c.given} came to school hungry and unkempt.",
                        f"{v['parent']} asked for help; says {v['other']} has been violent at home.",
                    )
                ),
            }
        )
        rows["lcs_assessment"].append(
            {
                "assessment_id": ctx.next_id("lcs_assessment"),
                "person_id": cid,
                "assessment_type": "Child and Family Assessment",
                "completed_date": ctx.opened + timedelta(days=rng.randint(10, 45)),
                "summary": f"{c.given} lives with {v['parent']}"
                + (f" and {fam.adults[1].given}" if len(fam.adults) > 1 else "")
                + f". {v['parent']} is committed to {c.given} but struggles with {rng.choice(_NEEDS)}.",
            }
        )
        rows["lcs_episode"].append(
            {
                "episode_id": ctx.next_id("lcs_episode"),
                "person_id": cid,
                "episode_type": "CIN",
                "start_date": ctx.opened,
                "end_date": ending,
                "closure_reason": rng.choice(("Needs met", "Stepped down to Early Help", "Moved out of area"))
                if ending
                else None,
            }
        )
        rows["lcs_plan"].append(
            {
                "plan_id": ctx.next_id("lcs_plan"),
                "person_id": cid,
                "plan_type": "CIN plan",
                "start_date": ctx.opened + timedelta(days=rng.randint(20, 60)),
                "end_date": ending,
            }
        )
        if "cp" in ctx.flags:
            start = ctx.between(ctx.opened, ctx.last_contact)
            end = _csc_end(ctx, start, 0.5)
            rows["lcs_assessment"].append(
                {
                    "assessment_id": ctx.next_id("lcs_assessment"),
                    "person_id": cid,
                    "assessment_type": "Section 47 enquiry",
                    "completed_date": start,
                    "summary": f"Section 47 enquiry completed. {c.given} to be made subject to a child "
                    "protection plan.",
                }
            )
            rows["lcs_episode"].append(
                {
                    "episode_id": ctx.next_id("lcs_episode"),
                    "person_id": cid,
                    "episode_type": "CP",
                    "start_date": start,
                    "end_date": end,
                    "closure_reason": "Plan ended" if end else None,
                }
            )
            rows["lcs_plan"].append(
                {
                    "plan_id": ctx.next_id("lcs_plan"),
                    "person_id": cid,
                    "plan_type": "child protection",
                    "start_date": start,
                    "end_date": end,
                }
            )
            rows["lcs_alert"].append(
                {
                    "alert_id": ctx.next_id("lcs_alert"),
                    "person_id": cid,
                    "alert_code": "CP_PLAN",
                    "raised_on": start,
                    "ended_on": end,
                }
            )
        if c is lac_child:
            start = ctx.between(ctx.opened, ctx.last_contact)
            end = _csc_end(ctx, start, 0.3)
            rows["lcs_episode"].append(
                {
                    "episode_id": ctx.next_id("lcs_episode"),
                    "person_id": cid,
                    "episode_type": "LAC",
                    "start_date": start,
                    "end_date": end,
                    "closure_reason": "Returned home" if end else None,
                }
            )
            rows["lcs_plan"].append(
                {
                    "plan_id": ctx.next_id("lcs_plan"),
                    "person_id": cid,
                    "plan_type": "care",
                    "start_date": start,
                    "end_date": end,
                }
            )
            rows["lcs_alert"].append(
                {
                    "alert_id": ctx.next_id("lcs_alert"),
                    "person_id": cid,
                    "alert_code": "LOOKED_AFTER",
                    "raised_on": start,
                    "ended_on": end,
                }
            )
        for d in ctx.contact_dates(2, 8):
            worker = rng.choice(social_workers) if rng.random() < 0.25 else ctx.worker
            if worker.role not in ("Social Worker", "Senior Social Worker"):
                worker = social_workers[0]
            rows["lcs_visit"].append(
                {
                    "visit_id": ctx.next_id("lcs_visit"),
                    "person_id": cid,
                    "visit_date": d,
                    "visit_type": rng.choice(
                        (
                            "Home visit",
                            "Home visit",
                            "Statutory visit",
                            "School visit",
                            "Office appointment",
                            "Virtual visit",
                        )
                    ),
                    "worker_person_id": _PROFESSIONAL_BASE + worker.number + 1,
                }
            )
        for _ in range(rng.randint(1, 4)):
            author = ctx.worker if rng.random() < 0.7 else rng.choice(ctx.staff)
            text = ctx.note(_CSC_NOTES, worker=author, child=c)
            rows["lcs_case_note"].append(
                {
                    "note_id": ctx.next_id("lcs_case_note"),
                    "person_id": cid,
                    "recorded_at": ctx.at(ctx.between(ctx.opened, ctx.last_contact)),
                    "author_name": author.name,
                    "author_role": author.role,
                    "note_text": text,
                    "supplementary_statement": None,
                }
            )
        shares = rng.sample(_CSC_RECIPIENTS, rng.randint(0, 3))
        if c.upn and c.slot in local.schools:
            shares.append((local.schools[c.slot], "Child protection file", "Education Act 2002 s175"))
        if "cp" in ctx.flags or c is lac_child:
            shares.append(_NHS_CP_IS)
        if c is lac_child:
            shares.append(
                (
                    "Independent Fostering Agency",
                    "Placement referral and care plan",
                    "Care Planning, Placement and Case Review Regulations 2010",
                )
            )
        for recipient, what, gateway in shares:
            rows["lcs_disclosure"].append(
                {
                    "disclosure_id": ctx.next_id("lcs_disclosure"),
                    "person_id": cid,
                    "recipient": recipient,
                    "data_shared": what,
                    "disclosed_on": ctx.between(ctx.opened, ctx.last_contact),
                    "legal_gateway": gateway,
                }
            )
    for kind, code, ends in (
        ("safeguarding", "SAFEGUARDING", 0.4),
        ("legal", "LEGAL_HOLD", 0.2),
        ("inquiry", "INQUIRY", 0.0),
    ):
        if kind in ctx.flags:
            raised, ended = ctx.flag_dates(ends)
            if ctx.historic:  # a hold placed on an old case lately (a claim, an inquiry), still in force
                raised, ended = ctx.between(_years_before(ctx.as_of, 3), ctx.as_of), None
            rows["lcs_alert"].append(
                {
                    "alert_id": ctx.next_id("lcs_alert"),
                    "person_id": ctx.person_id(_flag_subject(ctx)),
                    "alert_code": code,
                    "raised_on": raised,
                    "ended_on": ended,
                }
            )


def _csc_contact_only(ctx: _Ctx, rows: Rows) -> None:
    """A MASH contact about the children that led to no further action: the referral and the
    decision's case note, nothing else (the people and their relationships are written already)."""
    rng = ctx.rng
    for c in ctx.children:
        cid = ctx.person_id(c)
        rows["lcs_referral"].append(
            {
                "referral_id": ctx.next_id("lcs_referral"),
                "person_id": cid,
                "referral_date": ctx.last_contact,
                "referral_source": rng.choice(_REFERRAL_SOURCES),
                "mash_outcome": "No further action",
                "reason": f"Concerns about {c.given}'s school attendance and home conditions.",
            }
        )
        rows["lcs_case_note"].append(
            {
                "note_id": ctx.next_id("lcs_case_note"),
                "person_id": cid,
                "recorded_at": ctx.at(ctx.last_contact),
                "author_name": ctx.worker.name,
                "author_role": ctx.worker.role,
                "note_text": f"MASH decision: no further action for {c.given}; information and advice "
                "given to the family.",
                "supplementary_statement": None,
            }
        )


# -- Lewisham Early Help --------------------------------------------------------------------------

_EH_AGENCIES = (
    "CAMHS",
    "Lewisham Housing Options",
    "Refuge (Athena)",
    "Education",
    "Children's Centres",
    "Health services",
    "Youth services",
    "Core Assets (commissioned family support)",
    "Voluntary services",
    "Lewisham commissioning",
)
_EH_MODES = ("Home visit", "Telephone", "Office", "School", "Video call", "Text message")


def _early_help(ctx: _Ctx, rows: Rows) -> None:
    rng, fam, local = ctx.rng, ctx.fam, ctx.local
    for p in ctx.people:
        rows["eh_person"].append(
            {
                "eh_person_id": ctx.person_id(p),
                "first_names": p.given,
                "last_name": p.surname,
                "dob": p.dob,
                "nhs_num": p.nhs if p.is_child or rng.random() < 0.9 else None,
                "pupil_ref": p.upn,
                "gender": _sex(p),
                "postcode": local.postcode,
                "contact_phone": p.mobile,
                "needs": p.health,
                "restricted_on": None,
            }
        )
    cases = [(ctx.index * 2 + 1, ctx.opened, ctx.closed, ctx.last_contact)]
    closed = ctx.opened - timedelta(days=rng.randint(60, 700))
    if rng.random() < 0.15 and closed >= fam.children[0].dob + timedelta(days=365):
        # an earlier, closed case with the same family
        cases.append((ctx.index * 2 + 2, closed - timedelta(days=rng.randint(60, 400)), closed, closed))
    for case_id, opened, closed, last in cases:
        lead = rng.choice(
            [s for s in ctx.staff if s.role in ("Early Help Practitioner", "Lead Professional")]
        )
        rows["eh_case"].append(
            {"case_id": case_id, "opened_on": opened, "closed_on": closed, "lead_practitioner": lead.name}
        )
        for p in ctx.people:
            if p.dob > last:
                continue
            role = (
                ("young person" if _age(p.dob, opened) >= 13 else "child")
                if p.is_child
                else ("parent" if p.kind in ("mother", "father") else "carer")
            )
            rows["eh_case_member"].append(
                {"case_id": case_id, "eh_person_id": ctx.person_id(p), "member_role": role}
            )
        v = ctx.voice(lead)
        rows["eh_assessment"].append(
            {
                "assessment_id": ctx.next_id("eh_assessment"),
                "case_id": case_id,
                "assessed_on": opened + timedelta(days=rng.randint(7, 30)),
                "strengths_and_needs": f"Strengths: {v['parent']} is warm and wants the best for "
                f"{v['child']}; {v['child']} enjoys school. Needs: {rng.choice(_NEEDS)}; "
                f"{v['other']} is not involved at present.",
            }
        )
        for agency in rng.sample(_EH_AGENCIES, rng.randint(0, 3)):
            rows["eh_panel_referral"].append(
                {
                    "panel_referral_id": ctx.next_id("eh_panel_referral"),
                    "case_id": case_id,
                    "agency": agency,
                    "referred_on": opened + timedelta(days=rng.randint(14, 60)),
                }
            )
        span = (last - opened).days
        dates = sorted(opened + timedelta(days=rng.randint(0, span)) for _ in range(rng.randint(1, 11)))
        for d in [*dates, last]:
            rows["eh_contact"].append(
                {
                    "contact_id": ctx.next_id("eh_contact"),
                    "case_id": case_id,
                    "contact_on": d,
                    "contact_mode": rng.choice(_EH_MODES),
                    "practitioner": lead.name,
                    "case_note": ctx.note(worker=lead),
                    "supplementary_statement": None,
                }
            )
    for p in fam.adults:
        for purpose in ("Early Help Assessment and plan", "Sharing with the early help panel"):
            rows["eh_consent"].append(
                {
                    "eh_consent_id": ctx.next_id("eh_consent"),
                    "eh_person_id": ctx.person_id(p),
                    "consent_to": purpose,
                    "signed_on": ctx.opened,
                    "withdrawn_on": _withdrawn(ctx, ctx.opened),
                }
            )
    for _ in range(rng.randint(0, 3)):
        p = rng.choice(ctx.people)
        rows["eh_info_share"].append(
            {
                "info_share_id": ctx.next_id("eh_info_share"),
                "eh_person_id": ctx.person_id(p),
                "agency": rng.choice(_EH_AGENCIES),
                "information": "Early Help Assessment and plan",
                "shared_at": ctx.at(ctx.between(ctx.opened, ctx.last_contact)),
            }
        )
    codes = {
        "safeguarding": ("SAFEGUARDING", 0.4),
        "step_up": ("STEP_UP_CSC", 0.0),
        "legal": ("LEGAL_HOLD", 0.2),
    }
    for kind in sorted(ctx.flags):
        code, ends = codes[kind]
        raised, ended = ctx.flag_dates(ends)
        rows["eh_marker"].append(
            {
                "marker_id": ctx.next_id("eh_marker"),
                "case_id": cases[0][0],
                "marker": code,
                "set_on": raised,
                "cleared_on": ended,
            }
        )
        if kind in ("safeguarding", "step_up"):
            for agency in ("Children's Social Care", "Metropolitan Police")[
                : 2 if kind == "safeguarding" else 1
            ]:
                rows["eh_info_share"].append(
                    {
                        "info_share_id": ctx.next_id("eh_info_share"),
                        "eh_person_id": ctx.person_id(_flag_subject(ctx)),
                        "agency": agency,
                        "information": "Safeguarding referral, assessment and chronology",
                        "shared_at": ctx.at(raised),
                    }
                )


# -- Westminster Bessborough Family Hub -----------------------------------------------------------

_HUB_PARTNERS = (
    "Westminster Children's Services (Early Help, Children's Centre, Social Work)",
    "Central and North West London NHS Foundation Trust School Nursing",
    "Central London Community Healthcare NHS Trust Health Visiting",
    "Family Lives",
    "St Vincent's Family Project",
    "Cardinal Hume Centre",
    "Early Help panel agencies",
)
_HUB_ACTIVITIES = (
    "Family Navigator home visit",
    "Stay and Play",
    "Parenting course (Family Lives)",
    "Health visitor drop-in",
    "Benefits and debt advice",
    "Early Help panel",
    "Speech and language group",
    "Family Plan review",
    "Telephone check-in",
    "Housing advice (Cardinal Hume Centre)",
    "St Vincent's Family Project session",
)
_HUB_REFERRERS = (
    "Self",
    "Health Visiting",
    "School Nursing",
    "DWP (two-year-old childcare offer)",
    "Supporting Families",
    "St Vincent's Family Project",
    "GP",
    "Children's Centre",
)


def _hub_role(p: _Person) -> str:
    return "child" if p.is_child else ("parent" if p.kind in ("mother", "father") else "carer")


def _family_hub(ctx: _Ctx, rows: Rows) -> None:
    rng, fam, local = ctx.rng, ctx.fam, ctx.local
    ref = f"WH{ctx.index + 1:07d}"

    def member_ref(p: _Person) -> str:
        return f"{ref}-{p.slot + 1:02d}"

    rows["household"].append(
        {
            "household_ref": ref,
            "address_line1": local.line1,
            "address_line2": local.town,
            "post_code": local.postcode,
            "home_phone": local.landline,
            "opened_on": ctx.opened,
            "last_contact_on": ctx.last_contact,
            "closed_on": ctx.closed,
        }
    )
    for p in ctx.people:
        rows["household_member"].append(
            {
                "member_ref": member_ref(p),
                "household_ref": ref,
                "given_name": p.given,
                "family_name": p.surname,
                "dob": p.dob,
                "sex": "F" if p.female else "M",
                "nhs_no": spaced(p.nhs) if p.is_child or rng.random() < 0.9 else None,
                "role": _hub_role(p),
                "mobile": p.mobile,
                "email": p.email,
                "additional_needs": p.health,
                "restricted_on": None,
            }
        )
    v = ctx.voice()
    need = rng.choice(_NEEDS)
    rows["help_request"].append(
        {
            "help_request_id": f"{ref}-R1",
            "household_ref": ref,
            "submitted_on": ctx.opened,
            "referred_by": rng.choice(_HUB_REFERRERS),
            "needs": f"Help with {need}. Contact {v['parent']} on mobile.",
        }
    )
    if rng.random() < 0.8:
        lead = fam.adults[0]
        if len(fam.adults) > 1:
            who = f"We are {lead.given} and {fam.adults[1].given}."
        else:
            absent = "mum" if lead.kind == "father" else "dad"
            who = (
                f"I am {lead.given}. The children's {absent}, {fam.ex_partner}, does not live with us "
                "and sees them sometimes."
            )
        kids = [f"{c.given} ({_age(c.dob, ctx.opened)})" for c in ctx.children]
        kids_text = f"Our child is {kids[0]}." if len(kids) == 1 else f"Our children are {', '.join(kids)}."
        pupils = [c for c in ctx.children if c.slot in local.schools]
        school = f" {pupils[0].given} goes to {local.schools[pupils[0].slot]}." if pupils else ""
        story = (
            f"{who} {kids_text}{school} We would like help with {need}; {v['youngest']} has been "
            "finding things hard."
        )
        rows["about_my_family"].append(
            {
                "form_id": f"{ref}-A1",
                "household_ref": ref,
                "completed_on": ctx.opened + timedelta(days=rng.randint(0, 14)),
                "family_story": story,
            }
        )
    if rng.random() < 0.7:
        agreed = ctx.opened + timedelta(days=rng.randint(14, 40))
        rows["family_plan"].append(
            {
                "plan_ref": f"{ref}-P1",
                "household_ref": ref,
                "agreed_on": agreed,
                "goals": f"1. {v['child']} at school on time every day. 2. {v['parent']} to complete "
                f"the Family Lives parenting course. 3. Support with {need}.",
                "key_worker": f"{ctx.worker.name} ({ctx.worker.role})",
                "review_on": agreed + timedelta(days=90),
            }
        )
    for n, d in enumerate(ctx.contact_dates(2, 12), start=1):
        rows["hub_session"].append(
            {
                "session_ref": f"{ref}-S{n:03d}",
                "household_ref": ref,
                "session_on": d,
                "activity": rng.choice(_HUB_ACTIVITIES),
                "practitioner": ctx.worker.name,
                "notes": ctx.note(),
                "supplementary_statement": None,
            }
        )
    n = 0
    for p in fam.adults:
        for scope in ("Family Hub support", "Sharing with the Integrated Leadership Team"):
            n += 1
            rows["consent_record"].append(
                {
                    "consent_ref": f"{ref}-C{n:02d}",
                    "member_ref": member_ref(p),
                    "scope": scope,
                    "given_on": ctx.opened,
                    "withdrawn_on": _withdrawn(ctx, ctx.opened),
                }
            )
    shares = [
        (rng.choice(ctx.people), rng.choice(_HUB_PARTNERS), "About My Family form and Family Plan")
        for _ in range(rng.randint(0, 3))
    ]
    codes = {
        "safeguarding": ("safeguarding", 0.4),
        "cp": ("child_protection_plan", 0.5),
        "legal": ("legal_hold", 0.2),
    }
    flags = []
    for kind in sorted(ctx.flags):
        code, ends = codes[kind]
        raised, ended = ctx.flag_dates(ends)
        child = _flag_subject(ctx)
        flags.append((code, raised, ended, child if rng.random() < 0.7 else None))
        if kind == "safeguarding":
            shares.append((child, _HUB_PARTNERS[0], "Safeguarding concern: chronology and session notes"))
    for n, (code, raised, ended, child) in enumerate(flags, start=1):
        rows["household_flag"].append(
            {
                "flag_ref": f"{ref}-F{n}",
                "household_ref": ref,
                "member_ref": member_ref(child) if child else None,
                "kind": code,
                "raised_on": raised,
                "cleared_on": ended,
            }
        )
    for n, (p, partner, what) in enumerate(shares, start=1):
        rows["partner_share"].append(
            {
                "share_ref": f"{ref}-X{n:02d}",
                "member_ref": member_ref(p),
                "partner": partner,
                "what": what,
                "shared_at": ctx.at(ctx.between(ctx.opened, ctx.last_contact)),
            }
        )


# -- Manchester Thriving Families -----------------------------------------------------------------

_TF_INTERVENTIONS = (
    "Keyworker home visit",
    "Family group conference",
    "Parenting programme",
    "School attendance support",
    "Debt advice referral",
    "Domestic abuse support (Talk Listen Change)",
    "Substance misuse support (Change, Grow, Live)",
    "Mental health support (Manchester Mind)",
    "Employment support (Jobcentre Plus)",
)
_TF_PROBLEMS = (
    "Getting a good education",
    "Good early years development",
    "Improved mental and physical health",
    "Promoting recovery and reducing substance misuse",
    "Improved family relationships",
    "Children safe from abuse and exploitation",
    "Crime prevention and tackling crime",
    "Safe from domestic abuse",
    "Secure housing",
    "Financial stability",
)
_TF_RECIPIENTS = (
    "Manchester Children's Social Care",
    "Greater Manchester Police",
    "Victim Support",
    "Manchester Youth Justice",
    "Jobcentre Plus",
    "Housing provider",
    "Counselling service",
    "Change, Grow, Live",
    "Talk Listen Change",
    "Manchester Mind",
)


def _thriving_families(ctx: _Ctx, rows: Rows) -> None:
    rng, local = ctx.rng, ctx.local
    gid = ctx.index + 1
    rows["tf_family_group"].append(
        {
            "family_group_id": gid,
            "address": _address(ctx),
            "postcode": local.postcode,
            "attached_on": ctx.opened,
            "outcome_claimed_on": ctx.closed if ctx.closed and rng.random() < 0.4 else None,
        }
    )
    hv = f"{local.health_visitor}"
    for p in ctx.people:
        pid = ctx.person_id(p)
        under5 = p.is_child and _age(p.dob, ctx.last_contact) < 5
        rows["tf_client"].append(
            {
                "client_id": pid,
                "family_group_id": gid,
                "forename": p.given,
                "surname": p.surname,
                "date_of_birth": p.dob,
                "nhs_number": p.nhs,
                "gender": _sex(p),
                "main_language": p.language,
                "nationality": p.nationality,
                "religion": p.religion,
                "country_of_birth": p.country_of_birth,
                "ethnicity": p.ethnicity,
                "gp_practice": local.gp_practice,
                "health_visitor": hv if under5 else None,
                "mobile": p.mobile,
                "restricted_on": None,
            }
        )
        recipients = [local.gp_practice]
        if under5:
            recipients.append(f"Health visitor: {local.health_visitor_name}")
        if p.slot in local.schools:
            recipients.append(local.schools[p.slot])
        recipients.extend(rng.sample(_TF_RECIPIENTS, 1))
        for recipient in rng.sample(recipients, rng.randint(0, min(2, len(recipients)))):
            rows["tf_data_share"].append(
                {
                    "data_share_id": ctx.next_id("tf_data_share"),
                    "client_id": pid,
                    "recipient_org": recipient,
                    "data_items": "Family plan, needs and contact details",
                    "shared_on": ctx.between(ctx.opened, ctx.last_contact),
                }
            )
        if rng.random() < 0.5:
            sent = ctx.between(ctx.opened, ctx.last_contact)
            rows["tf_evaluation_extract"].append(
                {
                    "extract_id": ctx.next_id("tf_evaluation_extract"),
                    "client_id": pid,
                    "pseudonym": f"IFF-{rng.getrandbits(64):016x}",
                    "sent_on": sent,
                }
            )
            rows["tf_data_share"].append(
                {
                    "data_share_id": ctx.next_id("tf_data_share"),
                    "client_id": pid,
                    "recipient_org": "IFF Research (national evaluation)",
                    "data_items": "Pseudonymised needs and outcomes",
                    "shared_on": sent,
                }
            )
    for d in ctx.contact_dates(2, 12):
        rows["tf_intervention"].append(
            {
                "intervention_id": ctx.next_id("tf_intervention"),
                "family_group_id": gid,
                "delivered_on": d,
                "intervention_type": rng.choice(_TF_INTERVENTIONS),
                "keyworker": ctx.worker.name,
                "notes": ctx.note(),
                "supplementary_statement": None,
            }
        )
    rows["tf_outcome_plan"].append(
        {
            "outcome_plan_id": ctx.next_id("tf_outcome_plan"),
            "family_group_id": gid,
            "agreed_on": ctx.opened + timedelta(days=rng.randint(7, 40)),
            "headline_problems": "; ".join(rng.sample(_TF_PROBLEMS, rng.randint(2, 4))),
        }
    )
    codes = {"safeguarding": ("SAFEGUARDING", 0.4), "cp": ("CP_PLAN", 0.5), "legal": ("LEGAL_HOLD", 0.2)}
    for kind in sorted(ctx.flags):
        code, ends = codes[kind]
        raised, removed = ctx.flag_dates(ends)
        rows["tf_risk_flag"].append(
            {
                "risk_flag_id": ctx.next_id("tf_risk_flag"),
                "client_id": ctx.person_id(_flag_subject(ctx)),
                "flag": code,
                "flagged_on": raised,
                "removed_on": removed,
            }
        )


# -- Camden Family Support (the demo receiving authority) ------------------------------------------

_CF_CONTACTS = ("Home visit", "Office appointment", "Telephone call", "School meeting", "Video call")
_CF_INVOLVEMENT = ("Early help", "Child in need", "Family support")
_CF_ALERTS = {"safeguarding": ("SAFEGUARDING", 0.4), "cp": ("CPP", 0.5), "legal": ("LEGAL_HOLD", 0.2)}


def _family_support(ctx: _Ctx, rows: Rows) -> None:
    rng, fam, local = ctx.rng, ctx.fam, ctx.local
    ref = f"CF{ctx.index + 1:07d}"

    def uid(p: _Person) -> str:
        return f"{ref}-{p.slot + 1:02d}"

    rows["cfs_family"].append(
        {
            "family_uid": ref,
            "family_name": fam.surname,
            "phone": local.landline,
            "opened_date": ctx.opened,
            "closed_date": ctx.closed,
            "lead_worker": ctx.worker.name,
        }
    )
    rows["cfs_address"].append(
        {
            "address_uid": f"{ref}-AD1",
            "family_uid": ref,
            "address_text": local.line1,
            "town": local.town,
            "postcode": local.postcode,
            "from_date": ctx.opened,
            "to_date": None,
        }
    )
    for p in ctx.people:
        rows["cfs_person"].append(
            {
                "person_uid": uid(p),
                "nhs_number": p.nhs if p.is_child or rng.random() < 0.9 else None,
                "upn": p.upn,
                "given_names": p.given,
                "surname": p.surname,
                "birth_date": p.dob,
                "gender": "Female" if p.female else "Male",
                "ethnicity": p.ethnicity,
                "language": p.language,
                "religion": p.religion,
                "phone": p.mobile,
                "email": p.email,
                "health_and_disability": p.health,
                "restricted_on": None,
            }
        )
        rows["cfs_family_link"].append(
            {"family_uid": ref, "person_uid": uid(p), "relationship_to_family": _hub_role(p)}
        )
    need = rng.choice(_NEEDS)
    rows["cfs_referral"].append(
        {
            "referral_uid": f"{ref}-R1",
            "family_uid": ref,
            "person_uid": uid(ctx.children[0]) if ctx.children else None,
            "received_date": ctx.opened,
            "source": rng.choice(("School", "Health visitor", "GP", "Self-referral", "Police")),
            "reason": f"Help with {need}.",
            "outcome": "Family support offered",
        }
    )
    rows["cfs_involvement"].append(
        {
            "involvement_uid": f"{ref}-I1",
            "family_uid": ref,
            "person_uid": None,
            "involvement_type": rng.choice(_CF_INVOLVEMENT),
            "start_date": ctx.opened,
            "end_date": ctx.closed,
            "end_reason": "Needs met" if ctx.closed else None,
        }
    )
    if rng.random() < 0.7:
        agreed = ctx.opened + timedelta(days=rng.randint(14, 40))
        v = ctx.voice()
        rows["cfs_plan"].append(
            {
                "plan_uid": f"{ref}-P1",
                "family_uid": ref,
                "person_uid": None,
                "plan_kind": "Family support plan",
                "start_date": agreed,
                "end_date": ctx.closed,
                "next_review": agreed + timedelta(days=90),
                "goals": f"1. {v['child']} settled at school. 2. Support with {need}.",
            }
        )
    for n, d in enumerate(ctx.contact_dates(2, 10), start=1):
        rows["cfs_contact"].append(
            {
                "contact_uid": f"{ref}-K{n:03d}",
                "family_uid": ref,
                "person_uid": None,
                "contact_date": d,
                "contact_kind": rng.choice(_CF_CONTACTS),
                "worker": ctx.worker.name,
                "worker_role": ctx.worker.role,
            }
        )
        rows["cfs_note"].append(
            {
                "note_uid": f"{ref}-N{n:03d}",
                "family_uid": ref,
                "person_uid": None,
                "note_date": d,
                "author": ctx.worker.name,
                "author_role": ctx.worker.role,
                "note_body": ctx.note(),
                "supplementary_statement": None,
            }
        )
    for n, p in enumerate(fam.adults, start=1):
        rows["cfs_consent"].append(
            {
                "consent_uid": f"{ref}-C{n:02d}",
                "person_uid": uid(p),
                "consent_for": "Sharing with Camden partner agencies",
                "given_date": ctx.opened,
                "withdrawn_date": _withdrawn(ctx, ctx.opened),
            }
        )
    for n, kind in enumerate(sorted(ctx.flags), start=1):
        code, ends = _CF_ALERTS[kind]
        raised, ended = ctx.flag_dates(ends)
        rows["cfs_alert"].append(
            {
                "alert_uid": f"{ref}-F{n}",
                "family_uid": ref,
                "person_uid": uid(_flag_subject(ctx)),
                "alert_kind": code,
                "from_date": raised,
                "to_date": ended,
            }
        )
    for n in range(1, rng.randint(0, 2) + 1):
        p = rng.choice(ctx.people)
        rows["cfs_disclosure"].append(
            {
                "disclosure_uid": f"{ref}-X{n:02d}",
                "person_uid": uid(p),
                "disclosed_to": rng.choice(("Camden Children's Social Care", "School", "Health visitor")),
                "disclosed_what": "Family support plan and contact notes",
                "disclosed_date": ctx.between(ctx.opened, ctx.last_contact),
                "legal_gateway": "Children Act 1989 s17",
            }
        )


_BUILDERS = {
    FT: _family_thrive,
    CSC: _childrens_social_care,
    EH: _early_help,
    WFH: _family_hub,
    TF: _thriving_families,
    CF: _family_support,
}


# -- driving the stores ---------------------------------------------------------------------------


class StoreNotEmpty(RuntimeError):
    """A store already holds data and ``replace`` was not given."""


@dataclass
class ServiceSeedReport:
    service: str
    families: int
    people: int  # family members (social care staff are counted in rows, not here)
    rows: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass
class SeedReport:
    seed: int
    as_of: date
    services: dict[str, ServiceSeedReport] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(s.total_rows for s in self.services.values())


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _check_services(urls: Mapping[str, str]) -> None:
    unknown = sorted(set(urls) - set(SCHEMAS))
    if unknown:
        raise KeyError(f"no demo schema for service(s) {', '.join(unknown)}; known: {', '.join(SCHEMAS)}")


def create_schemas(urls: Mapping[str, str]) -> None:
    """Create every store's tables where they are missing (several stores may share a database)."""
    _check_services(urls)
    for service, url in urls.items():
        SCHEMAS[service].create_all(engine_for_url(url))


def _rows_in(engine: Engine, metadata: MetaData) -> dict[str, int]:
    present = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in present:
                counts[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return counts


def _person_count(engine: Engine, service: str) -> int:
    table = SCHEMAS[service].tables[PERSON_TABLES[service][0]]
    if not inspect(engine).has_table(table.name):
        return 0
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _insert(conn, metadata: MetaData, rows: Rows) -> None:  # type: ignore[no-untyped-def]
    for table in metadata.sorted_tables:  # parents before children
        batch = rows.get(table.name)
        if batch:
            conn.execute(table.insert(), batch)


def _seed_service(
    service: str, engine: Engine, families: int, seed: int, as_of: date, batch_size: int, advance
) -> ServiceSeedReport:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    metadata = SCHEMAS[service]
    person_table = PERSON_TABLES[service][0]
    build = _BUILDERS[service]
    staff = _staff(seed, service)
    totals: dict[str, int] = defaultdict(int)
    people = 0
    if service == CSC:  # staff are people in this system: they must exist before the visits
        professionals = _professional_rows(staff)
        with engine.begin() as conn:
            conn.execute(metadata.tables["lcs_person"].insert(), professionals)
        totals["lcs_person"] += len(professionals)
    for start in range(0, families, batch_size):
        stop = min(families, start + batch_size)
        rows: Rows = defaultdict(list)
        for index in range(start, stop):
            build(_context(seed, as_of, service, index, staff), rows)
        with engine.begin() as conn:
            _insert(conn, metadata, rows)
        for name, batch in rows.items():
            totals[name] += len(batch)
        people += len(rows[person_table])
        del rows
        advance(stop - start)
    return ServiceSeedReport(
        service=service,
        families=families,
        people=people,
        rows={t.name: totals.get(t.name, 0) for t in metadata.sorted_tables},
        seconds=time.perf_counter() - started,
    )


def seed_stores(
    urls: Mapping[str, str],
    families: int = 2000,
    seed: int = 7,
    as_of: date | None = None,
    progress: bool = True,
    replace: bool = False,
    batch_size: int = _BATCH,
) -> SeedReport:
    """Create the schemas and fill each store (service id -> SQLAlchemy URL) with ``families`` families.

    Refuses, before writing anything, when a store already holds rows, unless ``replace`` is true,
    which drops and recreates that store's tables (only that service's tables). Same ``seed`` and
    ``as_of`` give the same rows, on any database.
    """
    _check_services(urls)
    if not 0 <= families <= MAX_FAMILIES:
        raise ValueError(f"families must be between 0 and {MAX_FAMILIES:,} per service")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    as_of = as_of or date.today()
    started = time.perf_counter()
    engines = {service: engine_for_url(url) for service, url in urls.items()}
    if replace:
        for service, engine in engines.items():
            SCHEMAS[service].drop_all(engine)
    create_schemas(urls)
    for service, engine in engines.items():
        held = {name: n for name, n in _rows_in(engine, SCHEMAS[service]).items() if n}
        if held:
            first = next(iter(held))
            raise StoreNotEmpty(
                f"the {service} store at {_safe_url(urls[service])} already holds data "
                f"({first}: {held[first]:,} rows); no rows were written. To drop its tables and seed it "
                "afresh use `rightsflow seed --replace` (replace=True)"
            )

    report = SeedReport(seed=seed, as_of=as_of)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("families"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    with bar:
        for service, engine in engines.items():
            task = bar.add_task(service, total=families)
            report.services[service] = _seed_service(
                service,
                engine,
                families,
                seed,
                as_of,
                batch_size,
                lambda n, task=task: bar.advance(task, n),
            )
    report.seconds = time.perf_counter() - started
    return report


def seed_if_empty(settings, families: int = 2000, seed: int = 7, progress: bool = True) -> SeedReport | None:  # type: ignore[no-untyped-def]
    """For ``rightsflow up``: create every catalogued store's tables; seed those with no people yet.

    All the stores seeded in one call share ``as_of`` (today), so the cross-service overlap holds
    between them. Returns None when every store already had people.
    """
    from .catalog import load_catalog

    catalog = load_catalog(settings.catalog_dir)
    urls = {svc.service: svc.store.resolved_url(settings.home) for svc in catalog if svc.service in SCHEMAS}
    create_schemas(urls)
    empty = {s: u for s, u in urls.items() if _person_count(engine_for_url(u), s) == 0}
    if not empty:
        return None
    return seed_stores(empty, families=families, seed=seed, progress=progress)


# -- finding the overlap --------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedChild:
    """A child known to two or more stores by the same NHS number (10 digits)."""

    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date
    services: tuple[str, ...]  # every given store that holds this NHS number


def shared_child_example(urls: Mapping[str, str], scan: int = 400) -> SharedChild:
    """The youngest person whose NHS number is held by two or more of ``urls``' stores.

    Candidates are the first ``scan`` people of each store in id order, so it stays cheap on big
    stores; ``services`` lists every given store that holds the number. Raises LookupError when
    the stores share nobody (for instance, when they were seeded with different seeds).
    """
    _check_services(urls)
    candidates: dict[str, tuple[date, str, str]] = {}
    for service, url in urls.items():
        table_name, key, nhs_col, dob_col, given_col, family_col = PERSON_TABLES[service]
        table = SCHEMAS[service].tables[table_name]
        with engine_for_url(url).connect() as conn:
            for nhs, dob, given, family in conn.execute(
                select(table.c[nhs_col], table.c[dob_col], table.c[given_col], table.c[family_col])
                .where(table.c[nhs_col].is_not(None), table.c[dob_col].is_not(None))
                .order_by(table.c[key])
                .limit(scan)
            ):
                candidates.setdefault(nhs.replace(" ", ""), (dob, given, family))
    holders: dict[str, list[str]] = defaultdict(list)
    numbers = list(candidates)
    for service, url in urls.items():
        table_name, _, nhs_col, *_ = PERSON_TABLES[service]
        column = SCHEMAS[service].tables[table_name].c[nhs_col]
        with engine_for_url(url).connect() as conn:
            for start in range(0, len(numbers), 500):
                chunk = numbers[start : start + 500]
                forms = [spaced(n) for n in chunk] if service == WFH else chunk
                for (value,) in conn.execute(select(column).where(column.in_(forms)).distinct()):
                    holders[value.replace(" ", "")].append(service)
    shared = [n for n in numbers if len(set(holders[n])) >= 2]
    if not shared:
        raise LookupError("no NHS number is held by two or more of the given stores")
    nhs = max(shared, key=lambda n: (candidates[n][0], n))
    dob, given, family = candidates[nhs]
    return SharedChild(nhs, given, family, dob, tuple(s for s in urls if s in holders[nhs]))
