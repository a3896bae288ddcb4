"""Rows of the Westminster Bessborough Family Hub's store for one family."""

from __future__ import annotations

from datetime import timedelta

from ..nhs import spaced
from .common import Rows, _age
from .context import _Ctx, _flag_subject, _withdrawn
from .people import _Person
from .reference import _NEEDS

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
