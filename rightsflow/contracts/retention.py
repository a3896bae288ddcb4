"""Retention sweeps: the RetentionSweep and ServiceSweep workflows' inputs and results, and the
tallies a sweep keeps (counts only: no personal data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TIME_BUDGET_SECONDS = 20.0  # per activity attempt: then return so the workflow records progress
# People per store transaction: a second or two of locks on a live store of 200,000 families.
# Each commit writes out every index page the batch touched, and a household's rows lie all over
# a store's date and name indexes, so a batch costs nearly as many page writes as it has rows: at
# 10,000 people a SQLite sweep of 200,000 families took 40% more CPU than at 30,000.
BATCH_PEOPLE = 30_000


@dataclass(kw_only=True)
class SweepCounts:
    households: int = 0
    disposed: int = 0
    anonymised: int = 0
    archived: int = 0
    retained_hold: int = 0
    retained_linked: int = 0
    retained_open_request: int = 0
    retained_restricted: int = 0
    retained_not_due: int = 0
    retained_no_rule: int = 0
    awaiting_review: int = 0
    already_anonymised: int = 0
    people_disposed: int = 0
    rows_changed: int = 0
    by_rule: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, other: SweepCounts) -> None:
        for k, v in asdict(other).items():
            if k == "by_rule":
                for rule, tallies in v.items():
                    mine = self.by_rule.setdefault(rule, {})
                    for what, n in tallies.items():
                        mine[what] = mine.get(what, 0) + n
            else:
                setattr(self, k, getattr(self, k) + v)

    def tally(self, d: Any) -> None:  # a rightsflow.retention Decision
        self.households += 1
        rule = d.rule_id or "(no rule)"
        what = (
            {"destroy": "disposed", "anonymise": "anonymised", "archive_then_destroy": "archived"}[
                d.action or ""
            ]
            if d.dispose
            else ("awaiting_review" if d.reason == "awaiting_review" else f"retained_{d.reason}")
        )
        setattr(self, what, getattr(self, what) + 1)
        if d.dispose:
            self.people_disposed += len(d.household.people)
        per = self.by_rule.setdefault(rule, {})
        per[what] = per.get(what, 0) + 1

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SweepCounts:
        return cls(**data) if data else cls()


@dataclass(kw_only=True)
class RetentionSweepInput:
    as_of: str | None = None  # ISO date; None: the workflow's date (the schedule's run)
    services: list[str] | None = None  # None: every service in the catalogue
    dry_run: bool = False
    approved_by: str = "retention schedule"
    batch_size: int = BATCH_PEOPLE
    batch_pause_seconds: float = 0.0
    heartbeat_timeout_seconds: float = 120.0


@dataclass(kw_only=True)
class ServiceSweepInput:
    sweep_id: str
    service: str
    as_of: str
    dry_run: bool
    approved_by: str
    batch_size: int = BATCH_PEOPLE
    batch_pause_seconds: float = 0.0
    heartbeat_timeout_seconds: float = 120.0
    cursor: str | int | None = None
    counts: SweepCounts | None = None
    people: int | None = None
    runs: int = 0


@dataclass(kw_only=True)
class ServiceSweepResult:
    service: str
    dry_run: bool
    counts: SweepCounts
    certificate_key: str | None = None
    archives_purged: int = 0
    runs: int = 1


@dataclass(kw_only=True)
class RetentionSweepResult:
    sweep_id: str
    as_of: str
    dry_run: bool
    services: list[ServiceSweepResult] = field(default_factory=list)
    review_reminders: int | None = None  # reminders sent (None: a dry run, or none attempted)


# -- the ServiceSweep workflow's activities -------------------------------------------------------


@dataclass(kw_only=True)
class SweepBatchesInput:
    sweep_id: str
    service: str
    as_of: str  # ISO date
    dry_run: bool
    cursor: str | int | None = None
    batch_size: int = BATCH_PEOPLE
    batch_pause_seconds: float = 0.0  # throttle for a live store
    max_seconds: float = TIME_BUDGET_SECONDS


@dataclass(kw_only=True)
class SweepBatchesResult:
    cursor: str | int | None
    done: bool
    counts: SweepCounts
    batches: int


@dataclass(kw_only=True)
class FinishServiceInput:
    sweep_id: str
    service: str
    as_of: str
    approved_by: str
    counts: SweepCounts


@dataclass(kw_only=True)
class FinishServiceResult:
    service: str
    certificate_key: str | None
    certificate_sha256: str | None
    disposed_households: int
    archives_purged: int


@dataclass(kw_only=True)
class ReviewRemindersInput:
    as_of: str  # ISO date: the sweep's day
    services: list[str] | None = None  # None: every service


@dataclass(kw_only=True)
class ReviewRemindersResult:
    sent: int
