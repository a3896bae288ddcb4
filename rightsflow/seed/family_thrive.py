"""Rows of Lewisham Family Thrive's store for one family."""

from __future__ import annotations

from datetime import date, timedelta

from .common import Rows, _age
from .context import _address, _Ctx, _flag_subject, _relationship_to_lead, _withdrawn
from .people import _Person
from .reference import _NEEDS

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
