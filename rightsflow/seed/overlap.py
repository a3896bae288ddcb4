"""Finding a person known to two or more stores (for demos and tests)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..db import engine_for_url
from ..nhs import spaced
from ..stores import SCHEMAS
from .common import PERSON_TABLES, WFH
from .driver import _check_services

# -- finding the overlap --------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedChild:
    """A child known to two or more stores by the same NHS number (10 digits)."""

    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date
    services: tuple[str, ...]  # every given store that holds this NHS number


def shared_child_example(urls: Mapping[str, str], scan: int = 400) -> SharedChild:
    """The youngest person whose NHS number is held by two or more of ``urls``' stores.

    Candidates are the first ``scan`` people of each store in id order, so it stays cheap on big
    stores; ``services`` lists every given store that holds the number. Raises LookupError when
    the stores share nobody (for instance, when they were seeded with different seeds).
    """
    _check_services(urls)
    candidates: dict[str, tuple[date, str, str]] = {}
    for service, url in urls.items():
        table_name, key, nhs_col, dob_col, given_col, family_col = PERSON_TABLES[service]
        table = SCHEMAS[service].tables[table_name]
        with engine_for_url(url).connect() as conn:
            for nhs, dob, given, family in conn.execute(
                select(table.c[nhs_col], table.c[dob_col], table.c[given_col], table.c[family_col])
                .where(table.c[nhs_col].is_not(None), table.c[dob_col].is_not(None))
                .order_by(table.c[key])
                .limit(scan)
            ):
                candidates.setdefault(nhs.replace(" ", ""), (dob, given, family))
    holders: dict[str, list[str]] = defaultdict(list)
    numbers = list(candidates)
    for service, url in urls.items():
        table_name, _, nhs_col, *_ = PERSON_TABLES[service]
        column = SCHEMAS[service].tables[table_name].c[nhs_col]
        with engine_for_url(url).connect() as conn:
            for start in range(0, len(numbers), 500):
                chunk = numbers[start : start + 500]
                forms = [spaced(n) for n in chunk] if service == WFH else chunk
                for (value,) in conn.execute(select(column).where(column.in_(forms)).distinct()):
                    holders[value.replace(" ", "")].append(service)
    shared = [n for n in numbers if len(set(holders[n])) >= 2]
    if not shared:
        raise LookupError("no NHS number is held by two or more of the given stores")
    nhs = max(shared, key=lambda n: (candidates[n][0], n))
    dob, given, family = candidates[nhs]
    return SharedChild(nhs, given, family, dob, tuple(s for s in urls if s in holders[nhs]))
