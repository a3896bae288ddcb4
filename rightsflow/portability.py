"""Article 20: where the right to data portability applies (consent or contract), and the id of a
person's portability workflow. Pure: the console, the CLI and the activity all ask it."""

from __future__ import annotations

import re

from rightsflow.catalog import ServiceCatalog

_CONTRACT = re.compile(r"6\s*\(\s*1\s*\)\s*\(\s*b\s*\)")


def portability_workflow_id(request_id: str) -> str:
    return f"portability-{request_id}"


def art20_applies(cat: ServiceCatalog) -> bool:
    """Consent (the catalogue's ``consent_based``) or contract (Art 6(1)(b) named in ``article_6``)."""
    return cat.lawful_basis.consent_based or bool(_CONTRACT.search(cat.lawful_basis.article_6))


def art20_refusal(cat: ServiceCatalog) -> str:
    return (
        f"Article 20 portability does not apply to {cat.service}: it applies only where processing rests "
        "on consent or a contract, and this service processes under "
        f"{re.split(r'[:;]', cat.lawful_basis.article_6)[0].strip()} "
        "(a subject access request gives the person a copy)"
    )
