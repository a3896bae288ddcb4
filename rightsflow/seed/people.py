"""The people of a canonical family (the same in every store that knows them), their local context
(address, school, GP, professionals) and the free text of case notes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from ..nhs import synthetic_nhs_number, synthetic_upn
from .common import _AREA, _LA_NUMBER, _SERVICE_NUMBER, CF, MAX_FAMILIES, _age
from .reference import (
    _ADULT_HEALTH,
    _AREA_INDEX,
    _BUILDINGS,
    _CHILD_HEALTH,
    _GP_KINDS,
    _HEALTH_VISITING,
    _HERITAGE_KEYS,
    _HERITAGES,
    _INFORMANT_FEMALE,
    _INFORMANT_MALE,
    _INFORMANT_ROLES,
    _INFORMANT_SURNAMES,
    _INWARD_LETTERS,
    _LANDLINE,
    _MIXED,
    _PLACES,
    _PRIMARY,
    _SECONDARY,
    _STAFF_COUNT,
    _STAFF_ROLES,
    _STREETS,
    _TOWN,
    _Heritage,
)

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
