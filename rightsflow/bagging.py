"""BagIt packaging of a family's records (RFC 8493, with the Library of Congress ``bagit`` library).

A transfer bag holds ``data/manifest.json`` (what each native collection is, its fields, data
categories, keys and links), the sender's native rows as JSON and CSV (for audit), and the
canonical family record (``data/canonical/family_record.json``), which is what a receiver imports.
``build_bag_zip`` makes the zipped bag, in memory, with the same bytes for the same records;
``validate_bag_dir`` checks a received one: bagit's checksums, completeness and Payload-Oxum, the
manifest, and the canonical record against its JSON Schema. Reasons name files, fields and counts,
never values. Nothing here knows Temporal, S3 or a store.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from rightsflow.catalog import ServiceCatalog
from rightsflow.storemap import json_default

# /2: the bag carries the canonical family record (rightsflow/canonical); the receiver imports that,
# through its own catalogue, whatever schema either side runs. The native rows travel for audit.
MANIFEST_VERSION = "rightsflow-transfer/2"
BAG_PROFILE = "rightsflow inter-authority transfer"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same records give the same bytes
BAGIT_DECLARATION = "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
BAG_SOFTWARE = "rightsflow 0.1 (BagIt 0.97, as bagit-python writes it)"


def payload_files(manifest: dict[str, Any], records: dict[str, list[dict[str, Any]]]) -> dict[str, bytes]:
    """The bag payload: the manifest, and each record type as JSON and CSV as the manifest names them."""
    files: dict[str, bytes] = {"manifest.json": json.dumps(manifest, indent=2, sort_keys=True).encode()}
    for c in manifest["collections"]:
        rows = records[c["name"]]
        fields = [f["name"] for f in c["fields"]]
        files[c["json"]] = json.dumps(rows, indent=2, sort_keys=True, default=json_default).encode()
        files[c["csv"]] = _csv_bytes(fields, rows)
    return files


def _csv_bytes(fields: list[str], rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(
            {
                k: ""
                if r.get(k) is None
                else json_default(r[k])
                if not isinstance(r[k], str | int | float | bool)
                else r[k]
                for k in fields
            }
        )
    return buf.getvalue().encode()


def manifest_for(cat: ServiceCatalog, counts: dict[str, int]) -> dict[str, Any]:
    """Fields, data categories, keys, identities and links of every collection in the bag."""
    collections = []
    for c in cat.dataset.collections:
        if c.name not in counts:
            continue
        fields = []
        for f in c.fields:
            meta = f.fides_meta
            fields.append(
                {
                    "name": f.name,
                    "data_categories": list(f.data_categories or []),
                    "primary_key": bool(meta and meta.primary_key),
                    "identity": meta.identity if meta and meta.identity else None,
                    "references": [r.field for r in (meta.references or [])] if meta else [],
                }
            )
        collections.append(
            {
                "name": c.name,
                "description": c.description,
                "rows": counts[c.name],
                "json": f"records/{c.name}.json",
                "csv": f"records/{c.name}.csv",
                "fields": fields,
            }
        )
    hh = cat.subject.household
    return {
        "manifest_version": MANIFEST_VERSION,
        "source_service": cat.service,
        "source_service_name": cat.name,
        "source_authority": cat.authority,
        "lawful_basis": cat.lawful_basis.model_dump(),
        "purposes": cat.purposes,
        "retention": [
            {
                "record_class": r.record_class,
                "trigger": r.trigger,
                "years": r.period.years,
                "months": r.period.months,
                "action": r.action,
                "source": r.source,
            }
            for r in cat.retention
        ],
        "subject": {
            "collection": cat.subject.collection,
            "key": cat.subject.key,
            "restricted_field": cat.subject.restricted_field,
            "household": hh.model_dump(),
        },
        "collections": collections,
    }


def build_bag_zip(
    root_name: str, files: dict[str, bytes], info: dict[str, str]
) -> tuple[bytes, str, list[str]]:
    """Make a zipped BagIt bag (sha256) of ``files`` under ``root_name/``; return (zip bytes,
    Payload-Oxum, member names). The same files and info give the same bytes.

    Written in memory, the layout ``bagit.make_bag`` writes (BagIt 0.97 declaration, sorted
    bag-info, payload and tag manifests). bagit builds a bag only in place on disk, changing the
    process's working directory while it does: one bag at a time per process, and about 15 ms of
    file system work for a household's few kilobytes, which made the sweep's archiving serial.
    Every bag is still checked by bagit itself where it is read (``validate_bag_dir``)."""
    payload = {f"data/{name}": body for name, body in files.items()}
    manifest = "".join(
        f"{hashlib.sha256(body).hexdigest()}  {_tag_path(name)}\n" for name, body in sorted(payload.items())
    )
    oxum = f"{sum(len(b) for b in payload.values())}.{len(payload)}"
    fields = {"Bagging-Date": date.today().isoformat(), "Bag-Software-Agent": BAG_SOFTWARE, **info}
    fields["Payload-Oxum"] = oxum
    tags = {
        "bagit.txt": BAGIT_DECLARATION.encode(),
        "bag-info.txt": "".join(f"{k}: {_tag_value(fields[k])}\n" for k in sorted(fields)).encode(),
        "manifest-sha256.txt": manifest.encode(),
    }
    tags["tagmanifest-sha256.txt"] = "".join(
        f"{hashlib.sha256(body).hexdigest()} {name}\n" for name, body in sorted(tags.items())
    ).encode()
    members = {**payload, **tags}
    buf = io.BytesIO()
    names = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(members, key=lambda n: n.split("/")):
            name = f"{root_name}/{rel}"
            names.append(name)
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), members[rel], zipfile.ZIP_DEFLATED)
    return buf.getvalue(), oxum, names


def _tag_path(name: str) -> str:
    """A payload path as bagit writes it in a manifest (CR and LF percent-encoded)."""
    return name.replace("\r", "%0D").replace("\n", "%0A")


def _tag_value(value: object) -> str:
    """A bag-info value on one line, as bagit writes it."""
    return re.sub(r"\r\n|\r|\n", "", str(value))


def safe_extract(body: bytes, dest: Path) -> Path:
    """Extract a zipped bag; refuse absolute paths and '..'. Returns the bag's root folder."""
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        tops = set()
        for info in zf.infolist():
            p = Path(info.filename)
            if p.is_absolute() or ".." in p.parts:
                raise ValueError("the package holds an unsafe path")
            tops.add(p.parts[0])
        if len(tops) != 1:
            raise ValueError("the package must hold exactly one bag folder")
        zf.extractall(dest)
    return dest / tops.pop()


def _entry_mismatches(root: Path, bag: Any) -> list[str]:
    """Files whose SHA-256 differs from the bag's manifests, or that are missing."""
    out = []
    for rel, hashes in sorted(bag.entries.items()):
        expected = hashes.get("sha256")
        path = root / rel
        if not expected:
            continue
        if not path.is_file():
            out.append(f"file missing: {rel}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            out.append(f"checksum mismatch: {rel} (sha256)")
    return out


def validate_bag_dir(root: Path, tcat: ServiceCatalog | None) -> tuple[list[str], dict[str, Any] | None]:
    """bagit validation (checksums, completeness, Payload-Oxum) and the manifest/schema checks.

    Reasons name files, fields and counts only, never values.
    """
    import bagit

    reasons: list[str] = []
    bag = None
    try:
        bag = bagit.Bag(str(root))
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        for d in getattr(exc, "details", None) or []:
            if isinstance(d, bagit.ChecksumMismatch):
                reasons.append(f"checksum mismatch: {d.path} ({d.algorithm})")
            elif isinstance(d, bagit.FileMissing):
                reasons.append(f"file missing: {d.path}")
            elif isinstance(d, bagit.UnexpectedFile):
                reasons.append(f"unexpected file (not in the manifest): {d.path}")
            else:
                reasons.append(f"bag invalid: {type(d).__name__}")
        if not reasons:  # bagit stops at the first failed check (Payload-Oxum): name the files too
            reasons.append(f"bag invalid: {str(exc).split('.')[0][:120]}")
            reasons += _entry_mismatches(root, bag) if bag is not None else []
        return reasons, None
    except bagit.BagError as exc:
        return [f"not a valid bag: {str(exc)[:200]}"], None
    if "sha256" not in bag.algorithms:
        reasons.append("the bag has no SHA-256 manifest")
    mpath = root / "data" / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [*reasons, "data/manifest.json is missing or not JSON"], None
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        reasons.append(f"manifest_version is not {MANIFEST_VERSION}")
    # The native rows are the sender's, for audit: checked for completeness, never mapped here.
    for c in manifest.get("collections", []):
        fields = [f["name"] for f in c.get("fields", [])]
        jpath, cpath = root / "data" / c.get("json", ""), root / "data" / c.get("csv", "")
        try:
            rows = json.loads(jpath.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            reasons.append(f"data/{c.get('json')} is missing or not JSON")
            continue
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            reasons.append(f"data/{c.get('json')} is not a list of records")
            continue
        if len(rows) != c.get("rows"):
            reasons.append(f"data/{c.get('json')}: {len(rows)} records, the manifest says {c.get('rows')}")
        extra = sorted({k for r in rows for k in r} - set(fields))
        if extra:
            reasons.append(f"data/{c.get('json')}: fields not in the manifest: {', '.join(extra)}")
        try:
            with cpath.open(encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader, [])
                n = sum(1 for _ in reader)
            if header != fields or n != len(rows):
                reasons.append(f"data/{c.get('csv')} does not match the JSON records")
        except OSError:
            reasons.append(f"data/{c.get('csv')} is missing")
    subj = manifest.get("subject", {})
    if not any(c.get("name") == subj.get("collection") for c in manifest.get("collections", [])):
        reasons.append("the bag holds no person records")
    reasons += _canonical_reasons(root, manifest)
    return reasons, manifest


def _canonical_reasons(root: Path, manifest: dict[str, Any]) -> list[str]:
    """The canonical family record: present, valid against its JSON Schema, and the same family."""
    from rightsflow.canonical import RECORD_FILE, SCHEMA_VERSION, validate_record

    path = root / "data" / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"data/{RECORD_FILE} (the canonical family record) is missing or not JSON"]
    if (manifest.get("canonical_record") or {}).get("schema_version") != SCHEMA_VERSION:
        return [f"the canonical record is not schema version {SCHEMA_VERSION}"]
    reasons = validate_record(record)
    if not reasons and not record.get("people"):
        reasons.append("the canonical record holds no people")
    source = record.get("source") or {}
    if not reasons and source.get("transfer_id") != manifest.get("transfer_id"):
        reasons.append("the canonical record belongs to another transfer")
    return reasons
