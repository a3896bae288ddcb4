"""Finding a subject in each service's store, and the DPO confirming candidate matches."""

from __future__ import annotations

from dataclasses import dataclass, field

EXACT = "exact_identifier"
CANDIDATE = "name_dob_candidate"


@dataclass(kw_only=True)
class DiscoverInService:
    request_id: str
    subject_ref: str
    service: str


@dataclass(kw_only=True)
class ServiceMatch:
    record_key: str  # the store's own key for the person: opaque outside that store
    strength: str  # EXACT or CANDIDATE (a candidate needs a person to confirm it)
    matched_on: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class ServiceMatches:
    service: str
    matches: list[ServiceMatch] = field(default_factory=list)


@dataclass(kw_only=True)
class ServiceMatchState:
    service: str
    state: str = "pending"  # pending | awaiting_confirmation | found | not_found
    keys: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # "service/key"


@dataclass(kw_only=True)
class ConfirmInput:
    confirm: list[str] = field(default_factory=list)  # "service/key" candidates that are the subject
    reject: list[str] = field(default_factory=list)
    decided_by: str = "dpo"


@dataclass(kw_only=True)
class SubjectSearchInput:
    request_id: str
    subject_ref: str
    services: list[str] | None = None  # None: every service in the catalogue


@dataclass(kw_only=True)
class SubjectSearchResult:
    request_id: str
    services: list[ServiceMatches] = field(default_factory=list)

    @property
    def exact_services(self) -> list[str]:
        return [s.service for s in self.services if any(m.strength == "exact_identifier" for m in s.matches)]
