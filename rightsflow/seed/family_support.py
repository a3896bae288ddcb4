"""Rows of Camden Family Support's store for one family (the demo receiving authority)."""

from __future__ import annotations

from datetime import timedelta

from .common import Rows
from .context import _Ctx, _flag_subject, _withdrawn
from .family_hub import _hub_role
from .people import _Person
from .reference import _NEEDS

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
