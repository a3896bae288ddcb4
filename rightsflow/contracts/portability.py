"""Article 20 portability to the person: the PortabilityToPerson workflow's activity inputs and
results, and the legal basis it records (keys, counts, digests and the download link only)."""

from __future__ import annotations

from dataclasses import dataclass, field

ART20_BASIS = "UK GDPR Art 20(1): data provided by the data subject, processed by consent or contract"


@dataclass(kw_only=True)
class CheckInput:
    request_id: str
    subject_ref: str
    service: str


@dataclass(kw_only=True)
class PortabilityCheck:
    eligible: bool
    reason: str | None  # why not (names the service and the article only)
    record_keys: list[str] = field(default_factory=list)
    restricted: int = 0


@dataclass(kw_only=True)
class GatherOwnInput:
    request_id: str
    service: str
    record_keys: list[str]


@dataclass(kw_only=True)
class GatheredOwn:
    claim_key: str
    records: int
    collections: dict[str, int]
    withheld: int  # third-party terms withheld from free text
    masked_references: int  # references to other people replaced by the mask


@dataclass(kw_only=True)
class SendInput:
    request_id: str
    service: str
    claim_key: str
    sent_on: str
    lock_days: float = 7.0
    link_expiry_seconds: int = 7 * 24 * 3600


@dataclass(kw_only=True)
class SentPackage:
    package_key: str
    sha256: str
    bytes: int
    files: int
    link: str
    link_expires_at: str
    sent_at: str
