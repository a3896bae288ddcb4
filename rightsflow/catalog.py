"""The catalogue: one YAML file per service, telling the orchestrator what each store holds.

The store map is a fideslang ``Dataset`` (collections, fields, data categories, identities,
references) so it reads like a Fides dataset; the rest (lawful basis, recipients, retention,
which collections play which part) is rightsflow's. Validation runs at start-up and every
error names the file, the field and what is wrong.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import yaml
from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from fideslang.models import Dataset, DatasetCollection, DatasetField
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .controllers import Controller

IDENTITY_NAMES = ("nhs_number", "upn", "name", "date_of_birth", "postcode")
RETENTION_TRIGGERS = ("last_contact", "case_closure", "date_of_birth", "death", "record_created")
DISPOSAL_ACTIONS = ("destroy", "anonymise", "review", "archive_then_destroy")
# Disposition review reminders, in working days (England and Wales): the first after an item has
# awaited a decision this long, then again at this interval while it is undecided.
REVIEW_REMIND_AFTER = 10
REVIEW_REMIND_EVERY = 5
HOLD_KINDS = ("legal_hold", "safeguarding_concern", "child_protection_plan", "looked_after", "inquiry")
# Categories rightsflow adds to the fideslang taxonomy for children's services records.
EXTRA_CATEGORIES = {
    "system.operations",
    "user.childrens.case_record",
    "user.childrens.family_relationships",
    "user.childrens.safeguarding",
    "user.government_id.upn",
    "user.financial.benefits",
}
_KNOWN_CATEGORIES = {c.fides_key for c in DEFAULT_TAXONOMY.data_category} | EXTRA_CATEGORIES
_SERVICE_ID = re.compile(r"^[a-z][a-z0-9_]{2,62}$")


class CatalogError(Exception):
    """A catalogue file is wrong; the message names the file, the field and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MappedField(DatasetField):
    """A fideslang dataset field with the plain-English label people see instead of its name."""

    label: Annotated[str, Field(min_length=2, max_length=120)] | None = None
    # What the field is in the canonical family record a transfer carries (rightsflow/canonical):
    # ``<entity>.<attribute>``, a list of them, or ``internal`` (does not travel).
    canonical: str | list[str] | None = None


class MappedCollection(DatasetCollection):
    """A fideslang collection with a plain-English label (letters and packs never show table names)."""

    label: Annotated[str, Field(min_length=2, max_length=120)] | None = None
    fields: list[MappedField]  # type: ignore[assignment]


class MappedDataset(Dataset):
    collections: list[MappedCollection]  # type: ignore[assignment]


class LawfulBasis(_Strict):
    article_6: str
    article_9: str | None = None
    consent_based: bool
    statutory_duties: list[str] = Field(default_factory=list)


class StoreConfig(_Strict):
    url: str  # may use {home}; overridden by the environment variable named in url_env
    url_env: str

    def resolved_url(self, home: Path) -> str:
        return os.environ.get(self.url_env) or self.url.format(home=home.as_posix())


class FieldRef(_Strict):
    """A column of a mapped collection: "collection.field"."""

    collection: str
    field: str


class HouseholdLink(_Strict):
    """How the store ties people into a family.

    column: the person row has a household key (``person_column``) into ``collection``.
    membership: a link table (``collection``) pairs ``person_column`` with ``group_column``.
    relationship: a link table pairs ``person_column`` with ``related_column`` (no household).
    """

    via: Literal["column", "membership", "relationship"]
    collection: str
    person_column: str
    group_column: str | None = None
    related_column: str | None = None
    professional_column: str | None = None  # relationship stores that also record staff

    @model_validator(mode="after")
    def _columns(self) -> HouseholdLink:
        if self.via in ("column", "membership") and not self.group_column:
            raise ValueError(f"group_column is required when via is {self.via!r}")
        if self.via == "relationship" and not self.related_column:
            raise ValueError("related_column is required when via is 'relationship'")
        return self


class Subject(_Strict):
    collection: str
    key: str
    household: HouseholdLink
    restricted_field: str
    professional_field: str | None = None  # set where staff are recorded as people: never family


class DatedCollection(_Strict):
    collection: str
    person_column: str | None = None  # set where the rows are about one person
    group_column: str | None = None  # set where the rows are about the household / case
    date_field: str


class ConsentRole(DatedCollection):
    withdrawn_field: str
    purpose_field: str


class SharingLogRole(DatedCollection):
    recipient_field: str
    what_field: str


class FlagRole(DatedCollection):
    code_field: str
    ended_field: str
    codes: dict[str, Literal[HOLD_KINDS]]  # store's code -> rightsflow hold kind  # type: ignore[valid-type]


class Roles(_Strict):
    contacts: DatedCollection
    sharing_log: SharingLogRole
    flags: FlagRole
    consents: ConsentRole | None = None
    case_notes: list[DatedCollection] = Field(default_factory=list)


class RetentionPeriod(_Strict):
    years: Annotated[int, Field(ge=0, le=150)] = 0
    months: Annotated[int, Field(ge=0, le=11)] = 0

    @model_validator(mode="after")
    def _positive(self) -> RetentionPeriod:
        if self.years == 0 and self.months == 0:
            raise ValueError("a retention period must be longer than zero")
        return self


class FieldCondition(_Strict):
    """Rows of ``collection`` whose ``field`` holds one of ``values`` (compared as text)."""

    collection: str
    field: str
    values: list[str] = Field(min_length=1)


# Where a trigger's date is read when the rule does not name trigger_field.
DEFAULT_TRIGGER_SOURCES = {
    "last_contact": "roles.contacts (collection.date_field)",
    "date_of_birth": "the subject collection's field marked with identity date_of_birth",
}


class RetentionRule(_Strict):
    """When a record class falls due, and what happens then.

    Precisely (rightsflow/retention.py applies this):

    * ``trigger_field`` ("collection.field") holds the trigger date. It defaults to the contacts
      role's date for ``last_contact`` and to the subject's date of birth for ``date_of_birth``;
      ``case_closure``, ``death`` and ``record_created`` must name it. The collection must be the
      subject collection, the household's group collection, or reference one of them.
    * Without ``applies_when`` the rule applies to the households holding a trigger row (no
      evaluation extract, nothing of that class to dispose of); ``applies_when`` limits it to
      households holding a matching row. Where the trigger
      reads the same collection, only matching rows count (the closure of a CP episode); where
      both are about single people, only the people with a matching row count (the date of birth
      of the child with a CIN episode).
    * A household's date for the rule is the latest trigger date among the rows that count plus
      ``period`` (a missing day of month becomes the month's last day: 29 Feb + 3 years is
      28 Feb). The records are kept through that whole day and fall due the day after. A row that
      counts but has no date (an open case, a person alive, a child without a date of birth)
      keeps the household: the rule has not run yet.
    * ``anonymise`` keeps the ``anonymise_keep`` fields (and the keys that hold the kept rows
      together); every other field of the kept rows is cleared and every other row is deleted.
    * ``archive_then_destroy`` moves the household's records into a BagIt package in the
      archive bucket, locked until the trigger date plus ``archive_until``, then deletes them.
    * ``review`` puts the household in the disposition review register when it falls due; once
      every one of ``review_stages`` is approved, the next sweep disposes of it by
      ``after_review`` (``destroy`` unless the rule says otherwise; ``archive_until`` and
      ``anonymise_keep`` then apply as for those actions). While an item awaits a decision the
      records manager is reminded after ``review_remind_after`` working days (from the day the
      item opened or its current stage began), then every ``review_remind_every`` working days.
    """

    rule_id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    record_class: str
    trigger: Literal[RETENTION_TRIGGERS]  # type: ignore[valid-type]
    trigger_field: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")] = None
    period: RetentionPeriod
    action: Literal[DISPOSAL_ACTIONS]  # type: ignore[valid-type]
    applies_when: FieldCondition | None = None  # None: every household of the service
    archive_until: RetentionPeriod | None = None  # archive_then_destroy: the archive's lock, from the trigger
    anonymise_keep: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")]] = Field(
        default_factory=list
    )
    review_stages: Annotated[int, Field(ge=0, le=5)] = 0
    # review: what happens once every stage is approved (None: destroy)
    after_review: Literal["destroy", "anonymise", "archive_then_destroy"] | None = None
    # review: remind the records manager after this many working days awaiting a decision, then
    # every ``review_remind_every`` working days (None: REVIEW_REMIND_AFTER / REVIEW_REMIND_EVERY)
    review_remind_after: Annotated[int, Field(ge=1, le=60)] | None = None
    review_remind_every: Annotated[int, Field(ge=1, le=60)] | None = None
    source: Annotated[str, Field(min_length=10)]

    @model_validator(mode="after")
    def _action_needs(self) -> RetentionRule:
        if self.trigger in ("case_closure", "death", "record_created") and not self.trigger_field:
            raise ValueError(f"trigger_field is required when trigger is {self.trigger!r}")
        if self.after_review is not None and self.action != "review":
            raise ValueError("after_review is only for action 'review'")
        final = self.disposal_action
        if final == "archive_then_destroy":
            if self.archive_until is None:
                raise ValueError("archive_until is required when the records are archived then destroyed")
            until, period = self.archive_until, self.period
            if (until.years, until.months) <= (period.years, period.months):
                raise ValueError("archive_until must be longer than period")
        elif self.archive_until is not None:
            raise ValueError("archive_until is only for action 'archive_then_destroy'")
        if final == "anonymise" and not self.anonymise_keep:
            raise ValueError("anonymise_keep is required when the records are anonymised")
        if final != "anonymise" and self.anonymise_keep:
            raise ValueError("anonymise_keep is only for action 'anonymise'")
        if self.action == "review" and self.review_stages < 1:
            raise ValueError("review_stages must be at least 1 when action is 'review'")
        reminders = self.review_remind_after is not None or self.review_remind_every is not None
        if reminders and self.action != "review":
            raise ValueError("review_remind_after and review_remind_every are only for action 'review'")
        return self

    @property
    def review_reminders(self) -> tuple[int, int]:
        """(working days before the first reminder, working days between reminders)."""
        return (
            self.review_remind_after or REVIEW_REMIND_AFTER,
            self.review_remind_every or REVIEW_REMIND_EVERY,
        )

    @property
    def disposal_action(self) -> str:
        """What finally happens to the records: the action, or for ``review`` the ``after_review``."""
        if self.action == "review":
            return self.after_review or "destroy"
        return self.action

    def trigger_ref(self, subject: Subject, roles: Roles, dob_field: str | None) -> FieldRef | None:
        """The (collection, field) this rule's trigger date is read from."""
        if self.trigger_field:
            collection, _, fld = self.trigger_field.partition(".")
            return FieldRef(collection=collection, field=fld)
        if self.trigger == "last_contact":
            return FieldRef(collection=roles.contacts.collection, field=roles.contacts.date_field)
        if self.trigger == "date_of_birth" and dob_field:
            return FieldRef(collection=subject.collection, field=dob_field)
        return None


class Recipient(_Strict):
    name: str
    kind: str | None = None


class ServiceCatalog(_Strict):
    service: str
    authority: str
    authority_code: str
    name: str
    privacy_notice: str
    lawful_basis: LawfulBasis
    purposes: list[str] = Field(min_length=1)
    data_categories: list[str] = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    recipients: list[Recipient] = Field(min_length=1)
    automated_decision_making: str
    international_transfers: str
    retention: list[RetentionRule] = Field(min_length=1)
    store: StoreConfig
    subject: Subject
    roles: Roles
    dataset: MappedDataset

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @cached_property
    def columns(self) -> dict[str, dict[str, object]]:
        """collection -> field name -> fideslang field."""
        return {c.name: {f.name: f for f in c.fields} for c in self.dataset.collections}

    def identity_fields(self, identity: str) -> list[FieldRef]:
        return [
            FieldRef(collection=c.name, field=f.name)
            for c in self.dataset.collections
            for f in c.fields
            if f.fides_meta and f.fides_meta.identity == identity
        ]

    @cached_property
    def _labels(self) -> dict[str, tuple[str, dict[str, str]]]:
        return {
            c.name: (c.label or c.name, {f.name: f.label or f.name for f in c.fields})
            for c in self.dataset.collections
        }

    def collection_label(self, collection: str) -> str:
        """What a person calls the collection ("Case note"), never its table name."""
        return self._labels[collection][0] if collection in self._labels else _humanise(collection)

    def field_label(self, collection: str, field: str) -> str:
        """What a person calls the field ("Date of birth"), never its column name."""
        labels = self._labels.get(collection, ("", {}))[1]
        return labels.get(field) or _humanise(field)

    @property
    def controller(self) -> str:
        """The code of the data controller (catalog/controllers/<code>.yaml) this service belongs to."""
        return self.authority_code

    def field_categories(self, collection: str, field: str) -> list[str]:
        f = self.columns[collection][field]
        return list(f.data_categories or [])  # type: ignore[attr-defined]


def _humanise(name: str) -> str:
    # Only for names the catalogue does not map (a column added to a store later): never the
    # normal path, since every mapped collection and field has a label.
    return name.replace("_", " ").strip().capitalize()


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{path}: {loc}: {e['msg']}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        # PyYAML's own text runs over several lines and quotes the file back; say where and what.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "the file could not be parsed"
        raise CatalogError(f"{path}: not valid YAML{where}: {problem}") from None


def load_service(path: Path) -> ServiceCatalog:
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: (top level): expected a mapping of catalogue fields")
    try:
        cat = ServiceCatalog.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(_format_validation_error(path, exc)) from None
    if not _SERVICE_ID.match(cat.service):
        raise CatalogError(f"{path}: service: {cat.service!r} must be lower_snake_case")
    if path.stem != cat.service:
        raise CatalogError(f"{path}: service: {cat.service!r} must match the file name {path.stem!r}")
    from .catalog_checks import check_references

    problems = check_references(cat)
    if problems:
        raise CatalogError("\n".join(f"{path}: {p}" for p in problems))
    return cat


class Catalog:
    """Every service's catalogue entry, and every controller's, loaded and validated from one folder."""

    def __init__(
        self,
        services: dict[str, ServiceCatalog],
        folder: Path,
        controllers: dict[str, Controller] | None = None,
    ) -> None:
        self.services = services
        self.folder = folder
        self.controllers = controllers or {}

    def __getitem__(self, service: str) -> ServiceCatalog:
        try:
            return self.services[service]
        except KeyError:
            raise KeyError(f"no service {service!r} in the catalogue at {self.folder}") from None

    def __iter__(self):
        return iter(self.services.values())

    def __len__(self) -> int:
        return len(self.services)

    @property
    def ids(self) -> list[str]:
        return list(self.services)

    @property
    def default_controller(self) -> str | None:
        """The controller a request belongs to when filing names none: only when there is one."""
        codes = set(self.controllers) | {svc.controller for svc in self}
        return next(iter(codes)) if len(codes) == 1 else None

    def controller(self, code: str) -> Controller:
        try:
            return self.controllers[code]
        except KeyError:
            known = ", ".join(sorted(self.controllers)) or "none"
            raise KeyError(f"no controller {code!r} in the catalogue (known: {known})") from None

    def services_of(self, code: str) -> list[str]:
        """The services a request to this controller reaches: its own, then its joint arrangements'."""
        own = [svc.service for svc in self if svc.controller == code]
        ctrl = self.controllers.get(code)
        joint = [s for s in (ctrl.joint_services() if ctrl else []) if s in self.services and s not in own]
        return own + joint

    def controller_of(self, service: str) -> Controller | None:
        return self.controllers.get(self[service].controller)

    def controller_problems(self) -> dict[str, list[str]]:
        """service -> problems with its controller (``catalog --check`` fails on any)."""
        out: dict[str, list[str]] = {}
        for svc in self:
            if svc.controller not in self.controllers:
                out[svc.service] = [
                    f"no controller: add {self.folder / 'controllers' / (svc.controller + '.yaml')} "
                    "(legal name, address, DPO contact, ICO registration, internal review, signature)"
                ]
            else:
                out[svc.service] = []
        return out


def _load_controllers(
    folder: Path, services: dict[str, ServiceCatalog]
) -> tuple[dict[str, Controller], list[str]]:
    controllers: dict[str, Controller] = {}
    errors: list[str] = []
    for path in sorted((folder / "controllers").glob("*.yaml")) if (folder / "controllers").is_dir() else []:
        try:
            raw = _read_yaml(path)
        except CatalogError as exc:
            errors.append(str(exc))
            continue
        if not isinstance(raw, dict):
            errors.append(f"{path}: (top level): expected a mapping of controller fields")
            continue
        try:
            ctrl = Controller.model_validate(raw)
        except ValidationError as exc:
            errors.append(_format_validation_error(path, exc))
            continue
        if path.stem != ctrl.code:
            errors.append(f"{path}: code: {ctrl.code!r} must match the file name {path.stem!r}")
            continue
        for i, joint in enumerate(ctrl.joint_arrangements):
            for s in joint.services:
                if s not in services:
                    errors.append(
                        f"{path}: joint_arrangements[{i}].services: no service {s!r} in the catalogue"
                    )
                elif services[s].controller not in joint.controllers:
                    errors.append(
                        f"{path}: joint_arrangements[{i}].services: {s!r} belongs to "
                        f"{services[s].controller!r}, which is not among its controllers"
                    )
        for s in ctrl.notify.service_leads:
            if s not in services:
                errors.append(f"{path}: notify.service_leads: no service {s!r} in the catalogue")
        controllers[ctrl.code] = ctrl
    return controllers, errors


def load_catalog(folder: Path) -> Catalog:
    if not folder.is_dir():
        raise CatalogError(f"{folder}: the catalogue folder does not exist (set RIGHTSFLOW_CATALOG)")
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise CatalogError(f"{folder}: no service files (*.yaml) in the catalogue folder")
    errors: list[str] = []
    services: dict[str, ServiceCatalog] = {}
    for path in files:
        try:
            cat = load_service(path)
        except CatalogError as exc:
            errors.append(str(exc))
            continue
        services[cat.service] = cat
    if errors:  # controllers name services: check them only against a catalogue that loaded
        raise CatalogError("\n".join(errors))
    controllers, errors = _load_controllers(folder, services)
    if errors:
        raise CatalogError("\n".join(errors))
    return Catalog(services, folder, controllers)
