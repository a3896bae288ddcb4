"""How a DPO names a subject: NHS number, UPN, or name + date of birth (+ postcode).

Validation errors never repeat the identifier back (it would land in logs and terminals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .nhs import InvalidIdentifier, normalise_nhs_number, normalise_upn

_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The first day the statutory clock can count from: the England and Wales bank-holiday calendar
# it uses covers 2000 to 2100.
EARLIEST_DATE = date(2000, 1, 1)
MAX_NAME = 200


def parse_day(value: str | date, what: str = "the date") -> date:
    """A calendar day written YYYY-MM-DD, and only so: ISO week dates (2026-W47-5), basic format
    (20261121) and days that do not exist (2015-02-30) are refused."""
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not _DAY.fullmatch(text):
        raise InvalidIdentifier(f"{what} must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidIdentifier(f"{what} is not a real day (YYYY-MM-DD)") from None


def normalise_postcode(value: str) -> str:
    if len(value) > 20:
        raise InvalidIdentifier("not a valid UK postcode")
    compact = re.sub(r"\s+", "", value).upper()
    if not _POSTCODE.match(compact):
        raise InvalidIdentifier("not a valid UK postcode")
    return compact


def normalise_name(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class SubjectIdentifiers:
    """What the DPO supplied, normalised. Held sealed in the register, never in Temporal."""

    nhs_number: str | None = None
    upn: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    postcode: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        nhs_number: str | None = None,
        upn: str | None = None,
        name: str | None = None,
        dob: str | date | None = None,
        postcode: str | None = None,
        today: date | None = None,
    ) -> SubjectIdentifiers:
        given = family = None
        if name is not None:
            if len(name) > MAX_NAME:
                raise InvalidIdentifier(f"a name can be at most {MAX_NAME} characters")
            parts = name.split()
            if len(parts) < 2:
                raise InvalidIdentifier("a name needs a given name and a family name")
            given, family = " ".join(parts[:-1]), parts[-1]  # as typed, for letters
        birth: date | None = None
        if dob is not None:
            birth = parse_day(dob, "the date of birth")
            if today and birth > today:
                raise InvalidIdentifier("date of birth is in the future")
            if birth.year < 1900:
                raise InvalidIdentifier("date of birth is before 1900")
        if (name is None) != (birth is None):
            raise InvalidIdentifier("a name and a date of birth must be given together")
        if postcode is not None and name is None:
            raise InvalidIdentifier("a postcode only narrows a name and date of birth search")
        ids = cls(
            nhs_number=normalise_nhs_number(nhs_number) if nhs_number else None,
            upn=normalise_upn(upn) if upn else None,
            given_name=given,
            family_name=family,
            date_of_birth=birth,
            postcode=normalise_postcode(postcode) if postcode else None,
        )
        if not (ids.nhs_number or ids.upn or ids.family_name):
            raise InvalidIdentifier("give an NHS number, a UPN, or a name with a date of birth")
        return ids

    def same_as(self, other: SubjectIdentifiers) -> bool:
        """Equal once names are normalised (case and spacing do not make another person)."""
        a, b = self.to_dict(), other.to_dict()
        for k in ("given_name", "family_name"):
            a[k] = normalise_name(a[k]) if a[k] else None
            b[k] = normalise_name(b[k]) if b[k] else None
        return a == b

    def to_dict(self) -> dict[str, str | None]:
        return {
            "nhs_number": self.nhs_number,
            "upn": self.upn,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
            "postcode": self.postcode,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> SubjectIdentifiers:
        dob = data.get("date_of_birth")
        return cls(
            nhs_number=data.get("nhs_number"),
            upn=data.get("upn"),
            given_name=data.get("given_name"),
            family_name=data.get("family_name"),
            date_of_birth=date.fromisoformat(dob) if dob else None,
            postcode=data.get("postcode"),
        )
