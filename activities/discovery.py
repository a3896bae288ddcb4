"""Finding a subject in each service's store.

The workflow passes only the register's subject reference; the activity opens the sealed
identifiers, queries the store through indexed identity columns mapped in the catalogue, and
returns store keys (opaque references) with a match strength. No identifier leaves here.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select
from temporalio import activity

from activities.errors import fails_fast, service_entry
from activities.heartbeat import heartbeats
from rightsflow.catalog import Catalog
from rightsflow.config import Settings
from rightsflow.contracts.discovery import (  # noqa: F401  (re-exported for callers)
    DiscoverInService,
    ServiceMatch,
    ServiceMatches,
)
from rightsflow.db import store_engine
from rightsflow.identity import SubjectIdentifiers, normalise_name
from rightsflow.nhs import spaced
from rightsflow.register import Register
from rightsflow.storemap import StoreMap

EXACT = "exact_identifier"
CANDIDATE = "name_dob_candidate"


def find_in_store(service_map: StoreMap, engine, ids: SubjectIdentifiers) -> list[ServiceMatch]:  # type: ignore[no-untyped-def]
    """Indexed lookups only: identifier equality, or date of birth + family name."""
    cat = service_map.service
    subj, key = cat.subject.collection, cat.subject.key
    found: dict[str, ServiceMatch] = {}

    def add(rows, strength: str, on: str) -> None:  # type: ignore[no-untyped-def]
        for (record_key,) in rows:
            m = found.setdefault(
                str(record_key), ServiceMatch(record_key=str(record_key), strength=strength, matched_on=[])
            )
            if strength == EXACT:
                m.strength = EXACT
            if on not in m.matched_on:
                m.matched_on.append(on)

    with engine.connect() as conn:
        nhs = service_map.first("nhs_number")
        if ids.nhs_number and nhs and nhs[0] == subj:
            col = service_map.c(subj, nhs[1])
            # Stores keep NHS numbers as typed: both the plain and the spaced form hit the index.
            forms = [ids.nhs_number, spaced(ids.nhs_number)]
            add(conn.execute(select(service_map.c(subj, key)).where(col.in_(forms))), EXACT, "nhs_number")
        upn = service_map.first("upn")
        if ids.upn and upn and upn[0] == subj:
            q = select(service_map.c(subj, key)).where(service_map.c(subj, upn[1]) == ids.upn)
            add(conn.execute(q), EXACT, "upn")
        dob = service_map.first("date_of_birth")
        last = service_map.first("name", "user.name.last")
        first = service_map.first("name", "user.name.first")
        if ids.family_name and ids.date_of_birth and dob and last and dob[0] == last[0] == subj:
            q = select(service_map.c(subj, key), service_map.c(subj, first[1]) if first else None).where(
                and_(
                    service_map.c(subj, dob[1]) == ids.date_of_birth,
                    func.lower(service_map.c(subj, last[1])) == ids.family_name.casefold(),
                )
            )
            rows = conn.execute(q).all()
            given = normalise_name(ids.given_name or "")
            keys = [
                (r[0],)
                for r in rows
                if not given or normalise_name(str(r[1] or "")).split()[:1] == given.split()[:1]
            ]
            if ids.postcode and keys:
                keys = _narrow_by_postcode(service_map, conn, [k[0] for k in keys], ids.postcode)
            add(keys, CANDIDATE, "name_dob" + ("_postcode" if ids.postcode else ""))
    return sorted(found.values(), key=lambda m: (m.strength != EXACT, m.record_key))


def _narrow_by_postcode(service_map: StoreMap, conn, keys: list, postcode: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    cat = service_map.service
    subj, key = cat.subject.collection, cat.subject.key
    pc = service_map.first("postcode")
    if pc is None:
        return [(k,) for k in keys]
    pc_col = func.upper(func.replace(service_map.c(pc[0], pc[1]), " ", ""))
    if pc[0] == subj:
        q = select(service_map.c(subj, key)).where(service_map.c(subj, key).in_(keys), pc_col == postcode)
    else:
        link = service_map.reference_from(subj, pc[0])
        if link is None:  # postcode lives somewhere we cannot reach in one hop: do not narrow
            return [(k,) for k in keys]
        q = (
            select(service_map.c(subj, key))
            .join_from(
                service_map.t(subj),
                service_map.t(pc[0]),
                service_map.c(subj, link[0]) == service_map.c(pc[0], link[1]),
            )
            .where(service_map.c(subj, key).in_(keys), pc_col == postcode)
        )
    return [tuple(r) for r in conn.execute(q)]


class DiscoveryActivities:
    """Subject discovery across the catalogued stores."""

    def __init__(self, settings: Settings, catalog: Catalog, register: Register) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.maps = {svc.service: StoreMap(svc) for svc in catalog}

    @activity.defn
    def list_services(self) -> list[str]:
        return self.catalog.ids

    @activity.defn
    @heartbeats
    @fails_fast
    def discover_in_service(self, inp: DiscoverInService) -> ServiceMatches:
        ids = self.register.subject_identifiers(inp.subject_ref)
        svc = service_entry(self.catalog, inp.service)
        matches = find_in_store(self.maps[inp.service], store_engine(svc, self.settings), ids)
        activity.logger.info(
            "searched %s for request %s: %d match(es)", inp.service, inp.request_id, len(matches)
        )
        self.register.record_matches(
            inp.request_id, inp.service, [(m.record_key, m.strength) for m in matches]
        )
        self.register.audit(
            f"{inp.request_id}:discover:{inp.service}",
            actor="rightsflow",
            action="subject.discovered",
            request_id=inp.request_id,
            subject_ref=inp.subject_ref,
            service=inp.service,
            detail={
                "exact": sum(m.strength == EXACT for m in matches),
                "candidates": sum(m.strength == CANDIDATE for m in matches),
            },
        )
        return ServiceMatches(service=inp.service, matches=matches)
