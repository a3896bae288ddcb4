"""Rows of Lewisham Early Help's store for one family."""

from __future__ import annotations

from datetime import timedelta

from .common import Rows, _age
from .context import _Ctx, _flag_subject, _sex, _withdrawn
from .reference import _NEEDS

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
