"""Rows of Manchester Thriving Families' store for one family."""

from __future__ import annotations

from datetime import timedelta

from .common import Rows, _age
from .context import _address, _Ctx, _flag_subject, _sex

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
