"""Rows of Lewisham children's social care's store for one family, including old, closed cases."""

from __future__ import annotations

from datetime import date, timedelta

from .common import _PROFESSIONAL_BASE, Rows, _years_before
from .context import _address, _Ctx, _flag_subject, _sex
from .people import _CSC_NOTES, _Staff
from .reference import _BENEFITS, _NEEDS, _POLICE_INFO

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
