"""Subject access: gather a subject's records from each store, redact third parties, build the pack.

The workflow passes opaque references only (request id, subject reference, store keys, claim-check
keys). Gathered records are personal data: they go to the archive bucket as claim-check objects,
encrypted here with the codec key (AES-GCM) on top of the bucket's SSE, and are deleted when the
request closes. Every activity is idempotent: claim keys are fixed per request and step, audit
entries carry deterministic idempotency keys, and the pack key is a keyed hash of the request id.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, inspect, or_, select
from temporalio import activity

from activities.errors import fails_fast, service_entry
from activities.heartbeat import heartbeats
from rightsflow.catalog import Catalog, ServiceCatalog
from rightsflow.claims import ClaimStore, work_prefix  # noqa: F401 - re-exported for callers
from rightsflow.config import Settings
from rightsflow.contracts.subject_access import (  # noqa: F401  (re-exported for callers)
    AddedRedaction,
    GatherInput,
    GatherResult,
    LetterInput,
    MatchDecisionInput,
    PackInput,
    PackResult,
    RecordInput,
    RedactInput,
    RedactResult,
)
from rightsflow.db import store_engine
from rightsflow.keys import keyed_hash, load_hash_key
from rightsflow.letters import ICO as LETTER_ICO
from rightsflow.letters import Letters
from rightsflow.redaction import (
    BASES,
    DPO_ADDED,
    HOUSEHOLD_MEMBER,
    MASK,
    RELATED_PERSON,
    Redaction,
    Redactor,
)
from rightsflow.register import Register
from rightsflow.s3 import opaque_key, presigned_get, put_locked_object
from rightsflow.sar_pack import pack_files, pack_jinja, zip_pack
from rightsflow.storemap import StoreMap, plain_value

# -- inputs and results (opaque references only) ---------------------------------------------------


# -- gathering (catalogue-driven) --------------------------------------------------------------------


def _primary_key(cat: ServiceCatalog, collection: str) -> str | None:
    for c in cat.dataset.collections:
        if c.name == collection:
            for f in c.fields:
                if f.fides_meta and f.fides_meta.primary_key:
                    return f.name
    return None


def _references(cat: ServiceCatalog, collection: str) -> dict[str, tuple[str, str]]:
    """field -> (target collection, target field) for the fields of ``collection`` with references."""
    out: dict[str, tuple[str, str]] = {}
    for c in cat.dataset.collections:
        if c.name != collection:
            continue
        for f in c.fields:
            for ref in (f.fides_meta.references or []) if f.fides_meta else []:
                target, _, target_field = ref.field.partition(".")
                out[f.name] = (target, target_field)
    return out


def _fields_with_category(cat: ServiceCatalog, collection: str, prefix: str) -> list[str]:
    return [
        f
        for f in cat.columns[collection]
        if any(c.startswith(prefix) for c in cat.field_categories(collection, f))
    ]


class _Typed:
    """Converts opaque string keys to the store column's Python type, so index lookups work everywhere."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._types: dict[tuple[str, str], type] = {}

    def values(self, table: str, column: str, values: list[Any]) -> list[Any]:
        if (table, column) not in self._types:
            for col in inspect(self.engine).get_columns(table):
                try:
                    self._types[(table, col["name"])] = col["type"].python_type
                except NotImplementedError:
                    self._types[(table, col["name"])] = str
        kind = self._types.get((table, column), str)
        out = []
        for v in values:
            try:
                out.append(kind(v) if kind in (int, str) else v)
            except (TypeError, ValueError):
                continue
        return out


def gather_records(cat: ServiceCatalog, engine: Any, record_keys: list[str]) -> dict[str, Any]:
    """Everything the catalogue maps about the subject in one store, plus the third parties' names.

    person rows (the subject key), family links (the household link collection), household-level
    collections (rows referencing the household/case, when not about another member) and
    person-level collections (rows referencing the subject). Other members' rows are never
    included: they give only the names and identifiers to withhold.
    """
    smap = StoreMap(cat)
    typed = _Typed(engine)
    subj = cat.subject
    person, pkey = subj.collection, subj.key
    hh = subj.household
    records: list[dict[str, Any]] = []
    third: list[dict[str, Any]] = []
    keep: set[str] = set()
    professionals: set[str] = set()

    def rows(q: Any, conn: Any) -> list[dict[str, Any]]:
        return [{k: plain_value(v) for k, v in r._mapping.items()} for r in conn.execute(q)]

    with engine.connect() as conn:
        keys = typed.values(person, pkey, record_keys)
        pcol = smap.c(person, pkey)
        subject_rows = rows(select(smap.t(person)).where(pcol.in_(keys)), conn)
        names_first = [f for f in _fields_with_category(cat, person, "user.name.first")]
        names_last = [f for f in _fields_with_category(cat, person, "user.name.last")]
        for r in subject_rows:
            for f in names_first + names_last:
                if r.get(f):
                    keep.add(str(r[f]).casefold())
            full = " ".join(str(r[f]) for f in names_first[:1] + names_last[:1] if r.get(f))
            if full:
                keep.add(full.casefold())
        records.append({"collection": person, "level": "person", "key_field": pkey, "rows": subject_rows})

        # the household / family
        groups: list[Any] = []
        group_target: tuple[str, str] | None = None
        others: set[Any] = set()
        link = smap.t(hh.collection)
        if hh.via in ("column", "membership"):
            assert hh.group_column
            group_target = _references(cat, hh.collection).get(hh.group_column)
            groups = [
                r[0]
                for r in conn.execute(
                    select(link.c[hh.group_column]).where(link.c[hh.person_column].in_(keys)).distinct()
                )
            ]
            if groups:
                others = {
                    r[0]
                    for r in conn.execute(
                        select(link.c[hh.person_column]).where(link.c[hh.group_column].in_(groups)).distinct()
                    )
                }
            if hh.collection != person:
                link_rows = rows(select(link).where(link.c[hh.person_column].in_(keys)), conn)
                records.append(
                    {
                        "collection": hh.collection,
                        "level": "family_link",
                        "key_field": _primary_key(cat, hh.collection),
                        "rows": link_rows,
                    }
                )
        else:
            assert hh.related_column
            link_rows = rows(
                select(link).where(
                    or_(link.c[hh.person_column].in_(keys), link.c[hh.related_column].in_(keys))
                ),
                conn,
            )
            for r in link_rows:
                others.add(r[hh.person_column])
                others.add(r[hh.related_column])
            records.append(
                {
                    "collection": hh.collection,
                    "level": "family_link",
                    "key_field": _primary_key(cat, hh.collection),
                    "rows": link_rows,
                    "person_fields": [hh.person_column, hh.related_column],
                }
            )
        others -= set(keys)
        other_rows = rows(select(smap.t(person)).where(pcol.in_(list(others))), conn) if others else []
        if subj.professional_field:
            other_rows = [r for r in other_rows if not r.get(subj.professional_field)]
        relation_fields = _fields_with_category(cat, person, "user.childrens.family_relationships")
        identifier_fields = [
            f
            for f in cat.columns[person]
            if any(
                c.startswith(("user.government_id", "user.contact.phone_number", "user.contact.email"))
                for c in cat.field_categories(person, f)
            )
        ]
        kind = RELATED_PERSON if hh.via == "relationship" else HOUSEHOLD_MEMBER
        members_summary = []
        for r in other_rows:
            given = next((str(r[f]) for f in names_first if r.get(f)), None)
            family = next((str(r[f]) for f in names_last if r.get(f)), None)
            third.append({"text": f"{given} {family}" if given and family else None, "kind": kind})
            third.append({"text": given, "kind": kind})
            for f in identifier_fields:
                third.append({"text": r.get(f), "kind": kind, "identifier": True})
            if relation_fields:
                members_summary.append({"relationship": r.get(relation_fields[0]), "name": MASK})
        if members_summary and hh.via == "column":
            records.append(
                {
                    "collection": f"{person} (other household members)",
                    "level": "family_link",
                    "key_field": None,
                    "rows": members_summary,
                }
            )

        # every other mapped collection, by its references to the subject or the household
        for collection in cat.columns:
            if collection in (person, hh.collection):
                continue
            table = smap.t(collection)
            refs = _references(cat, collection)
            person_refs = [f for f, tgt in refs.items() if tgt == (person, pkey)]
            group_refs = [f for f, tgt in refs.items() if group_target and tgt == group_target]
            if group_target and collection == group_target[0]:
                if not groups:
                    continue
                q = select(table).where(table.c[group_target[1]].in_(groups))
                level = "household"
            elif person_refs and group_refs and groups:
                q = select(table).where(
                    or_(
                        *(table.c[f].in_(keys) for f in person_refs),
                        and_(
                            or_(*(table.c[f].in_(groups) for f in group_refs)),
                            *(table.c[f].is_(None) for f in person_refs),
                        ),
                    )
                )
                level = "person_or_household"
            elif person_refs:
                q = select(table).where(or_(*(table.c[f].in_(keys) for f in person_refs)))
                level = "person"
            elif group_refs and groups:
                q = select(table).where(or_(*(table.c[f].in_(groups) for f in group_refs)))
                level = "household"
            else:
                continue
            found = rows(q, conn)
            entry = {
                "collection": collection,
                "level": level,
                "key_field": _primary_key(cat, collection),
                "rows": found,
                "person_fields": person_refs,
            }
            records.append(entry)

        # people referenced from gathered rows who are not the subject: staff are named, others withheld
        referenced: set[Any] = set()
        for entry in records:
            for r in entry["rows"]:
                for f in entry.get("person_fields", []):
                    if r.get(f) is not None and r[f] not in keys:
                        referenced.add(r[f])
        if referenced:
            ref_rows = rows(select(smap.t(person)).where(pcol.in_(list(referenced))), conn)
            staff = {
                r[pkey]: " ".join(str(r[f]) for f in names_first[:1] + names_last[:1] if r.get(f))
                for r in ref_rows
                if subj.professional_field and r.get(subj.professional_field)
            }
            professionals.update(staff.values())
            for entry in records:
                for r in entry["rows"]:
                    for f in entry.get("person_fields", []):
                        v = r.get(f)
                        if v is None or v in keys:
                            continue
                        if v in staff:
                            r[f"{f} (name)"] = staff[v]
                        else:
                            r[f] = MASK
                            entry.setdefault("masked_ids", 0)
                            entry["masked_ids"] += 1

        # the names this store holds: a held given name alone in free text is a private individual
        given_vocab: set[str] = set()
        family_vocab: set[str] = set()
        for f in names_first:
            given_vocab |= {str(v) for (v,) in conn.execute(select(smap.c(person, f)).distinct()) if v}
        for f in names_last:
            family_vocab |= {str(v) for (v,) in conn.execute(select(smap.c(person, f)).distinct()) if v}

    return {
        "service": cat.service,
        "name": cat.name,
        "authority": cat.authority,
        "records": records,
        "third_parties": [t for t in third if t.get("text")],
        "keep": sorted(keep),
        "professionals": sorted(professionals),
        "given_names": sorted(given_vocab),
        "family_names": sorted(family_vocab),
    }


def requester_own_names(register: Register, request_id: str) -> set[str]:
    """The names of a parent who asks for their child's records (casefolded), else nothing."""
    try:
        details = register.requester_details(request_id) or {}
    except LookupError:
        return set()
    name = " ".join(str(details.get("name") or "").split())
    if details.get("kind") != "parent" or " " not in name:
        return set()
    parts = name.split()
    # "Grace Okafor" and "Grace": in notes families are written about by first name
    return {name.casefold(), " ".join(parts[:-1]).casefold(), *(p.casefold() for p in parts[:-1])}


def redact_dossiers(
    dossiers: list[dict[str, Any]],
    released: set[str],
    added: list[AddedRedaction],
    requester_names: set[str] | None = None,
) -> tuple[list[dict[str, Any]], list[Redaction]]:
    """Apply third-party redaction across every service's records (names travel across services).

    ``requester_names``: a parent asking for their child's records; their own name in the records
    is theirs to see, not a third party's (casefolded full name and given names)."""
    red = Redactor(released=released)
    red.keep |= requester_names or set()
    for d in dossiers:
        red.keep |= set(d["keep"])
        red.given_names |= set(d["given_names"])
        red.family_names |= set(d["family_names"])
    for d in dossiers:
        for t in d["third_parties"]:
            red.add(t["text"], t["kind"], identifier=bool(t.get("identifier")))
    for a in added:
        red.add(a.text, DPO_ADDED, basis=BASES[a.basis], overrides_professional=True)
    found: dict[str, Redaction] = {}
    out = []
    for d in dossiers:
        collections = []
        for entry in d["records"]:
            key_field = entry.get("key_field")
            new_rows = []
            for i, r in enumerate(entry["rows"]):
                record_key = str(r.get(key_field)) if key_field and r.get(key_field) is not None else str(i)
                new_rows.append(
                    {
                        k: red.redact_value(
                            v,
                            service=d["service"],
                            collection=entry["collection"],
                            record_key=record_key,
                            field_name=k,
                            found=found,
                        )
                        if isinstance(v, str) and k != key_field
                        else v
                        for k, v in r.items()
                    }
                )
            collections.append(
                {
                    "collection": entry["collection"],
                    "level": entry["level"],
                    "key_field": key_field,
                    "rows": new_rows,
                }
            )
        out.append(
            {
                "service": d["service"],
                "name": d["name"],
                "authority": d["authority"],
                "collections": collections,
            }
        )
    return out, sorted(found.values(), key=lambda r: (r.service, r.collection, r.record_key, r.field))


# -- the activities ---------------------------------------------------------------------------------


class SubjectAccessActivities:
    def __init__(
        self, settings: Settings, catalog: Catalog, register: Register, claims: ClaimStore | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.register = register
        self.claims = claims or ClaimStore(settings)

    @activity.defn
    def record_event(self, inp: RecordInput) -> None:
        """Audit entry (once per key) and the request's stage/status/dates in the register."""
        self.register.record_event(
            inp.request_id,
            inp.key,
            action=inp.action,
            actor=inp.actor,
            detail=inp.detail,
            legal_basis=inp.legal_basis,
            stage=inp.stage,
            status=inp.status,
            clock_start=inp.clock_start,
            deadline=inp.deadline,
            decision=inp.decision,
            attention=inp.attention,
        )

    @activity.defn
    @fails_fast
    def confirm_matches(self, inp: MatchDecisionInput) -> None:
        for ref in inp.confirmed:
            service, _, key = ref.partition("/")
            self.register.confirm_match(inp.request_id, service, key)

    @activity.defn
    @heartbeats
    @fails_fast
    def gather_service(self, inp: GatherInput) -> GatherResult:
        cat = service_entry(self.catalog, inp.service)
        dossier = gather_records(cat, store_engine(cat, self.settings), inp.record_keys)
        key = opaque_key("work", inp.request_id, "gathered", f"{inp.service}.bin")
        self.claims.put(key, dossier)
        n = sum(len(e["rows"]) for e in dossier["records"])
        self.register.audit(
            f"{inp.request_id}:gathered:{inp.service}",
            actor="rightsflow",
            action="subject_access.gathered",
            request_id=inp.request_id,
            service=inp.service,
            detail={
                "records": n,
                "collections": {e["collection"]: len(e["rows"]) for e in dossier["records"]},
            },
        )
        activity.logger.info("gathered %d record(s) from %s for %s", n, inp.service, inp.request_id)
        return GatherResult(
            service=inp.service,
            claim_key=key,
            records=n,
            collections=sum(1 for e in dossier["records"] if e["rows"]),
        )

    @activity.defn
    @heartbeats
    @fails_fast
    def redact(self, inp: RedactInput) -> RedactResult:
        dossiers = [self.claims.get(k) for k in inp.gathered]
        redacted, redactions = redact_dossiers(
            dossiers, set(inp.released), inp.added, requester_own_names(self.register, inp.request_id)
        )
        key = opaque_key("work", inp.request_id, "redacted", f"v{inp.version}.bin")
        self.claims.put(key, {"services": redacted, "redactions": [asdict(r) for r in redactions]})
        by_kind: dict[str, int] = {}
        for r in redactions:
            if not r.released:
                by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
        released = sum(r.released for r in redactions)
        self.register.audit(
            f"{inp.request_id}:redacted:v{inp.version}",
            actor="rightsflow",
            action="subject_access.redacted",
            request_id=inp.request_id,
            legal_basis="DPA 2018 Sch 2 para 16; Sch 3 (where the DPO decided)",
            detail={
                "version": inp.version,
                "withheld": by_kind,
                "released": released,
                "added_by_dpo": len(inp.added),
                "redaction_ids": [r.redaction_id for r in redactions],
            },
        )
        return RedactResult(
            claim_key=key,
            redactions=len(redactions) - released,
            released=released,
            by_kind=by_kind,
            redaction_ids=[r.redaction_id for r in redactions],
        )

    def _subject(self, subject_ref: str) -> dict[str, Any]:
        ids = self.register.subject_identifiers(subject_ref)
        return {
            "name": " ".join(p for p in (ids.given_name, ids.family_name) if p) or None,
            "date_of_birth": ids.date_of_birth.isoformat() if ids.date_of_birth else None,
        }

    @activity.defn
    @heartbeats
    @fails_fast
    def build_and_deliver_pack(self, inp: PackInput) -> PackResult:
        """Render, write under Object Lock with SSE at a keyed-hash key, presign, record what was sent."""
        doc = self.claims.get(inp.redacted_key)
        redactions = [Redaction(**r) for r in doc["redactions"]]
        subject = self._subject(inp.subject_ref)
        today = datetime.now(UTC).date()
        letters = Letters(self.settings, self.catalog, self.register, self.claims.client)
        cover = None
        if letters.controller_code(inp.request_id):  # the council's letter, signed, addressed
            cover = partial(letters.render_html, inp.request_id, "sar_cover")
        files = pack_files(
            self.settings, self.catalog, subject, inp, doc["services"], redactions, today, cover
        )
        body = zip_pack(files)
        token = keyed_hash(load_hash_key(self.settings), inp.request_id, "sar.pack")[:32]
        key = opaque_key("packs", token, "subject-access-pack.zip")
        client = self.claims.client
        retain_until = datetime.now(UTC) + timedelta(days=inp.retention_days)
        try:  # idempotent: a retry after the write finds the object and does not write it again
            head = client.head_object(Bucket=self.claims.bucket, Key=key)
            stored = client.get_object(Bucket=self.claims.bucket, Key=key)["Body"].read()
            sha = hashlib.sha256(stored).hexdigest()
            retain_until = head.get("ObjectLockRetainUntilDate") or retain_until
        except Exception:  # noqa: BLE001 - absent: write it
            put = put_locked_object(client, self.claims.bucket, key, body, "application/zip", retain_until)
            sha = put["sha256"]
        link = presigned_get(client, self.claims.bucket, key, inp.link_expiry_seconds)
        expires = datetime.now(UTC) + timedelta(seconds=inp.link_expiry_seconds)
        self.register.audit(
            f"{inp.request_id}:pack-sent",
            actor="rightsflow",
            action="subject_access.pack_sent",
            request_id=inp.request_id,
            detail={
                "pack_key": key,
                "sha256": sha,
                "files": sorted(files),
                "bytes": len(body),
                "retain_until": retain_until.isoformat(),
                "link_expires_at": expires.isoformat(),
                "withheld": sum(not r.released for r in redactions),
                "services": [
                    s["service"] for s in doc["services"] if any(c["rows"] for c in s["collections"])
                ],
            },
        )
        return PackResult(
            pack_key=key,
            sha256=sha,
            files=sorted(files),
            retain_until=retain_until.isoformat(),
            link=link,
            link_expires_at=expires.isoformat(),
        )

    @activity.defn
    @fails_fast
    def write_letter(self, inp: LetterInput) -> str:
        """The extension or refusal letter, stored under Object Lock; returns its (opaque) key."""
        env = pack_jinja(self.settings)
        html = (
            env.get_template(f"sar_{inp.kind}_letter.html.j2")
            .render(
                request_id=inp.request_id,
                subject=self._subject(inp.subject_ref),
                text=inp.text,
                clock_start=inp.clock_start,
                deadline=inp.deadline,
                extended_deadline=inp.extended_deadline,
                today=datetime.now(UTC).date().isoformat(),
                ico=LETTER_ICO,
            )
            .encode()
        )
        token = keyed_hash(load_hash_key(self.settings), f"{inp.request_id}:{inp.kind}", "sar.letter")[:32]
        key = opaque_key("letters", token, f"{inp.kind}.html")
        client = self.claims.client
        try:
            client.head_object(Bucket=self.claims.bucket, Key=key)
        except Exception:  # noqa: BLE001 - absent: write it
            put_locked_object(
                client,
                self.claims.bucket,
                key,
                html,
                "text/html; charset=utf-8",
                datetime.now(UTC) + timedelta(days=inp.retention_days),
            )
        self.register.audit(
            f"{inp.request_id}:letter:{inp.kind}",
            actor="rightsflow",
            action=f"subject_access.{inp.kind}_letter",
            request_id=inp.request_id,
            detail={"letter_key": key},
        )
        return key

    @activity.defn
    def purge_working_copies(self, request_id: str) -> int:
        return self.claims.purge(work_prefix(request_id))
