"""May a subject's records be shared? One catalogue-driven check for every sharing decision.

``may_share`` reads only what the catalogue maps: the subject collection's restricted field
(Art 18: restricted data is only stored, never shared or transferred) and, for a consent-based
service (``lawful_basis.consent_based``), the consents role (Art 7(3): once every consent the
subject gave is withdrawn, sharing under consent stops). Safeguarding disclosures to the police
or children's social care rest on a public task, not consent; they are decided case by case and
are not what this check answers.

The answer carries a reason in words without personal data, fit for a log or the register.
"""

from __future__ import annotations

from sqlalchemy import func, select

from .catalog import Catalog
from .config import Settings
from .db import store_engine
from .storemap import StoreMap, typed_keys

RESTRICTED = "processing is restricted (UK GDPR Art 18): the records are only stored"
WITHDRAWN = "consent withdrawn (UK GDPR Art 7(3)) in a consent-based service: sharing under consent stops"
NOT_HELD = "the service holds no record under this key"
ALLOWED_CONSENT = "not restricted; consent not withdrawn"
ALLOWED = "not restricted; the service is not consent-based"


def may_share(settings: Settings, catalog: Catalog, service: str, record_key: str) -> tuple[bool, str]:
    """Whether the records of the subject at ``record_key`` in ``service`` may be shared, and why."""
    cat = catalog[service]
    smap = StoreMap(cat)
    engine = store_engine(cat, settings)
    subj = cat.subject
    key = (typed_keys(engine, subj.collection, subj.key, [str(record_key)]) or [None])[0]
    if key is None:
        return False, NOT_HELD
    person = smap.t(subj.collection)
    with engine.connect() as conn:
        row = conn.execute(
            select(person.c[subj.restricted_field]).where(person.c[subj.key] == key).limit(1)
        ).first()
        if row is None:
            return False, NOT_HELD
        if row[0] is not None:
            return False, RESTRICTED
        role = cat.roles.consents
        if not cat.lawful_basis.consent_based:
            return True, ALLOWED
        if role is None or not role.person_column:
            return True, ALLOWED_CONSENT
        ct = smap.t(role.collection)
        given, withdrawn = conn.execute(
            select(func.count(), func.count(ct.c[role.withdrawn_field])).where(
                ct.c[role.person_column] == key
            )
        ).one()
    if given and withdrawn == given:
        return False, WITHDRAWN
    return True, ALLOWED_CONSENT
