"""Per-family context handed to each service's builder: the family, its dates, its flags and the
small helpers every builder uses."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime

from .common import (
    _AREA,
    _HISTORIC_YEARS,
    _PEOPLE_STRIDE,
    _ROW_STRIDE,
    _family_flags,
    _years_before,
    family_origin,
    historic_case,
)
from .people import _NOTES, _canonical_family, _Family, _Local, _local, _note, _Person, _Staff, _voice
from .reference import _STAFF_ROLES

# -- per-family context and helpers ----------------------------------------------------------------


@dataclass(slots=True)
class _Ctx:
    service: str
    index: int
    as_of: date
    rng: random.Random
    fam: _Family
    local: _Local
    staff: list[_Staff]
    flags: set[str]
    opened: date
    last_contact: date
    closed: date | None
    people: list[_Person]  # adults and the children born by the last contact
    children: list[_Person]
    worker: _Staff
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    historic: str | None = None  # the kind of old, closed case (social care), see historic_case

    def next_id(self, table: str) -> int:
        n = self.counters[table]
        if n >= _ROW_STRIDE:
            raise AssertionError(f"more than {_ROW_STRIDE} {table} rows for one family")
        self.counters[table] = n + 1
        return self.index * _ROW_STRIDE + n + 1

    def person_id(self, p: _Person) -> int:
        return self.index * _PEOPLE_STRIDE + p.slot + 1

    def contact_dates(self, low: int, high: int) -> list[date]:
        """Sorted contact dates from opening to the last contact, which is always the last one."""
        span = (self.last_contact - self.opened).days
        n = self.rng.randint(low, high)
        days = sorted(self.rng.randint(0, span) for _ in range(n - 1))
        return [self.opened + timedelta(days=d) for d in days] + [self.last_contact]

    def between(self, start: date, end: date) -> date:
        if end <= start:
            return start
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def at(self, d: date) -> datetime:
        return datetime.combine(d, dtime(self.rng.randint(8, 18), self.rng.choice((0, 15, 30, 45))))

    def flag_dates(self, ends: float) -> tuple[date, date | None]:
        raised = self.between(self.opened, self.last_contact)
        ended = None
        if self.rng.random() < ends:
            ended = raised + timedelta(days=self.rng.randint(30, 540))
            if ended > self.as_of:
                ended = None
        return raised, ended

    def voice(self, worker: _Staff | None = None, child: _Person | None = None) -> dict:
        return _voice(self.rng, self.fam, self.local, self.children, worker or self.worker, child)

    def note(
        self, pool: tuple[str, ...] = _NOTES, worker: _Staff | None = None, child: _Person | None = None
    ) -> str:
        return _note(self.rng, self.voice(worker, child), pool, len(self.children) > 1)


def _last_contact(rng: random.Random, index: int, as_of: date) -> date:
    if index % 100 == 50:  # a few families right on the three-year boundary
        return _years_before(as_of, 3) + timedelta(days=rng.randint(-3, 3))
    return as_of - timedelta(days=rng.randint(0, 6 * 365))


def _context(seed: int, as_of: date, service: str, index: int, staff: list[_Staff]) -> _Ctx:
    historic = historic_case(service, index)
    if historic is not None:
        return _historic_context(seed, as_of, service, index, staff, historic)
    origin, origin_index = family_origin(service, index)
    fam = _canonical_family(seed, as_of, origin, origin_index)
    rng = random.Random(f"{seed}:{service}:{index}")
    local = _local(seed, fam, _AREA[service], as_of)
    last = _last_contact(rng, index, as_of)
    opened = last - timedelta(days=rng.randint(21, 730))
    closed = None
    if (as_of - last).days > 90:
        closed = min(as_of, last + timedelta(days=rng.randint(0, 60)))
    children = [c for c in fam.children if c.dob <= last]
    return _Ctx(
        service=service,
        index=index,
        as_of=as_of,
        rng=rng,
        fam=fam,
        local=local,
        staff=staff,
        flags=_family_flags(service, index),
        opened=opened,
        last_contact=last,
        closed=closed,
        people=fam.adults + children,
        children=children,
        worker=rng.choice([s for s in staff if s.role == _STAFF_ROLES[service][0]]),
    )


def _historic_context(
    seed: int, as_of: date, service: str, index: int, staff: list[_Staff], kind: str
) -> _Ctx:
    """An old case: the family as it was ``years`` before ``as_of``, last seen within the year
    before that, closed within two months of the last contact."""
    rng = random.Random(f"{seed}:{service}:{index}")
    low, high = _HISTORIC_YEARS.get(kind, (26, 40))
    then = _years_before(as_of, rng.randint(low, high))
    fam = _canonical_family(seed, then, service, index)
    last = then - timedelta(days=rng.randint(0, 365))
    opened = last - timedelta(days=rng.randint(21, 730))
    children = [c for c in fam.children if c.dob <= last]
    return _Ctx(
        service=service,
        index=index,
        as_of=as_of,
        rng=rng,
        fam=fam,
        local=_local(seed, fam, _AREA[service], then),
        staff=staff,
        flags=_family_flags(service, index),
        opened=opened,
        last_contact=last,
        closed=last + timedelta(days=rng.randint(0, 60)),
        people=fam.adults + children,
        children=children,
        worker=rng.choice([s for s in staff if s.role == _STAFF_ROLES[service][0]]),
        historic=kind,
    )


def _address(ctx: _Ctx) -> str:
    return f"{ctx.local.line1}, {ctx.local.town}"


def _relationship_to_lead(lead: _Person, p: _Person) -> str:
    if p is lead:
        return "Self"
    if not p.is_child:
        return "Partner"
    if lead.kind == "grandmother":
        return "Granddaughter" if p.female else "Grandson"
    return "Daughter" if p.female else "Son"


def _sex(p: _Person) -> str:
    return "Female" if p.female else "Male"


def _withdrawn(ctx: _Ctx, given: date) -> date | None:
    """About 8% of consents were withdrawn at least a week after they were given."""
    if ctx.rng.random() < 0.08 and given + timedelta(days=7) <= ctx.as_of:
        return ctx.between(given + timedelta(days=7), ctx.as_of)
    return None


def _flag_subject(ctx: _Ctx) -> _Person:
    return ctx.rng.choice(ctx.children)
