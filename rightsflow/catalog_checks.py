"""The checks a service's catalogue file must pass beyond its schema: every collection and field
the rightsflow sections name is mapped in the dataset, every field has a plain-English label, data
categories and identity names are known, references point at mapped fields, every retention rule
has a trigger. Each problem is one line naming where in the file it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the catalogue calls these checks while it loads: no import cycle
    from .catalog import ServiceCatalog


def check_references(cat: ServiceCatalog) -> list[str]:
    """Every collection/field the rightsflow sections name must be mapped in the dataset."""
    from .catalog import _KNOWN_CATEGORIES, IDENTITY_NAMES

    problems: list[str] = []
    cols = cat.columns

    def need(where: str, collection: str, *fields: str | None) -> None:
        if collection not in cols:
            problems.append(f"{where}: collection {collection!r} is not mapped in dataset.collections")
            return
        for f in fields:
            if f and f not in cols[collection]:
                problems.append(f"{where}: field {collection}.{f} is not mapped in dataset.collections")

    if cat.dataset.fides_key != cat.service:
        problems.append(f"dataset.fides_key: {cat.dataset.fides_key!r} must equal service {cat.service!r}")
    s = cat.subject
    need("subject", s.collection, s.key, s.restricted_field, s.professional_field)
    h = s.household
    need("subject.household", h.collection, h.person_column, h.group_column, h.related_column)
    r = cat.roles
    for name, role in (("contacts", r.contacts), ("sharing_log", r.sharing_log), ("flags", r.flags)):
        need(f"roles.{name}", role.collection, role.person_column, role.group_column, role.date_field)
    need(
        "roles.sharing_log", r.sharing_log.collection, r.sharing_log.recipient_field, r.sharing_log.what_field
    )
    need("roles.flags", r.flags.collection, r.flags.code_field, r.flags.ended_field)
    if r.consents:
        c = r.consents
        need("roles.consents", c.collection, c.person_column, c.group_column, c.date_field, c.withdrawn_field)
    for i, note in enumerate(r.case_notes):
        need(
            f"roles.case_notes[{i}]", note.collection, note.person_column, note.group_column, note.date_field
        )
    for name, role in (("contacts", r.contacts), ("sharing_log", r.sharing_log), ("flags", r.flags)):
        if not (role.person_column or role.group_column):
            problems.append(f"roles.{name}: set person_column or group_column")

    for c in cat.dataset.collections:
        if not c.label:
            problems.append(f"dataset.collections[{c.name}].label: give the collection a plain-English label")
        for f in c.fields:
            where = f"dataset.collections[{c.name}].fields[{f.name}]"
            if not f.label:
                problems.append(f"{where}.label: give the field a plain-English label")
            for key in [f.canonical] if isinstance(f.canonical, str) else f.canonical or []:
                from .canonical import check_key

                if bad := check_key(key):
                    problems.append(f"{where}.canonical: {bad}")
            for category in f.data_categories or []:
                if category not in _KNOWN_CATEGORIES:
                    problems.append(f"{where}.data_categories: unknown data category {category!r}")
            meta = f.fides_meta
            if meta and meta.identity and meta.identity not in IDENTITY_NAMES:
                problems.append(
                    f"{where}.fides_meta.identity: {meta.identity!r} is not one of "
                    + ", ".join(IDENTITY_NAMES)
                )
            for ref in (meta.references or []) if meta else []:
                coll, _, fld = ref.field.partition(".")
                if ref.dataset != cat.service:
                    problems.append(f"{where}.fides_meta.references: dataset {ref.dataset!r} is not this one")
                elif coll not in cols or fld not in cols[coll]:
                    problems.append(f"{where}.fides_meta.references: {ref.field!r} is not a mapped field")
    if not cat.identity_fields("nhs_number") and not cat.identity_fields("name"):
        problems.append("dataset: no field is marked with fides_meta.identity nhs_number or name")
    dob = next((f.field for f in cat.identity_fields("date_of_birth") if f.collection == s.collection), None)
    for i, rule in enumerate(cat.retention):
        where = f"retention[{i}] ({rule.rule_id})"
        ref = rule.trigger_ref(s, r, dob)
        if ref is None:
            problems.append(f"{where}.trigger_field: set it: no default source for trigger {rule.trigger!r}")
        else:
            need(f"{where}.trigger_field", ref.collection, ref.field)
        if rule.applies_when:
            need(f"{where}.applies_when", rule.applies_when.collection, rule.applies_when.field)
        for kept in rule.anonymise_keep:
            coll, _, fld = kept.partition(".")
            need(f"{where}.anonymise_keep", coll, fld)
    ids = [rule.rule_id for rule in cat.retention]
    for dup in {i for i in ids if ids.count(i) > 1}:
        problems.append(f"retention: rule_id {dup!r} is used twice")
    return problems
