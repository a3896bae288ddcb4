"""The package a sending authority hands over: a BagIt bag of one family's records.

The payload is the manifest (fields, data categories, keys and links of each record type, plus the
transfer's facts and the checks made before it left), each record type as JSON and CSV
(``rightsflow/bagging.py``) and the canonical family record any catalogued receiver imports into
its own schema (``rightsflow/canonical``). The bag-info names the two authorities, the transfer,
its date and the date an acknowledgement is due: ids, codes and dates only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .bagging import BAG_PROFILE, MANIFEST_VERSION, build_bag_zip, manifest_for, payload_files
from .canonical import RECORD_FILE, SCHEMA_VERSION, export_record
from .catalog import ServiceCatalog
from .contracts.transfer import FamilyCheck

Records = dict[str, list[dict[str, Any]]]
WITHHELD = "[withheld: third party]"  # what subject access gathering puts in place of another person


def mapped_rows(cat: ServiceCatalog, entries: list[dict[str, Any]], *, blank_withheld: bool) -> Records:
    """The rows of each catalogued collection in gathered ``entries`` (``collection``, ``key_field``,
    ``rows``, as subject access gathering and redaction give them): each row once, mapped fields
    only, the summaries a subject access pack adds left out. ``blank_withheld``: what gathering
    withheld as a third party's is left empty (a family's own records, moving whole); otherwise
    the marker stays (a person's own copy, which must not show anyone else)."""
    columns = cat.columns
    records: Records = {}
    for entry in entries:
        name = entry["collection"]
        if name not in columns:
            continue
        keyf = entry.get("key_field")
        have = records.setdefault(name, [])
        seen = {r.get(keyf) for r in have} if keyf else set()
        for r in entry["rows"]:
            if keyf and r.get(keyf) in seen:
                continue
            have.append(
                {
                    k: (None if blank_withheld and v == WITHHELD else v)
                    for k, v in r.items()
                    if k in columns[name]
                }
            )
    return records


def transfer_bag(
    cat: ServiceCatalog,
    records: Records,
    *,
    check: FamilyCheck,
    transfer_id: str,
    reason: str,
    to_authority: str,
    transfer_date: str,
    acknowledge_by: str,
    catalog_dir: Path | None = None,
) -> tuple[bytes, str, list[str]]:
    """(zip bytes, Payload-Oxum, file names) of the family's bag. The same input gives the same
    payload, so a package rebuilt on a retry carries the same records."""
    counts = {k: len(v) for k, v in records.items()}
    manifest = manifest_for(cat, counts)
    manifest.update(
        {
            "transfer_id": transfer_id,
            "reason": reason,
            "sending_authority": cat.authority,
            "receiving_authority": to_authority,
            "transfer_date": transfer_date,
            "acknowledge_by": acknowledge_by,
            "checks": {
                "members": len(check.member_keys),
                "restricted_members": check.restricted,
                "holds": check.holds,
                "consents_active": check.consents_active,
                "consents_withdrawn": check.consents_withdrawn,
            },
        }
    )
    record = export_record(
        cat,
        records,
        catalog_dir=catalog_dir,
        transfer_id=transfer_id,
        transfer_date=transfer_date,
        reason=reason,
    )
    manifest["canonical_record"] = {"file": RECORD_FILE, "schema_version": SCHEMA_VERSION}
    files = payload_files(manifest, records)
    files[RECORD_FILE] = json.dumps(record, indent=2, sort_keys=True).encode()
    info = {
        "Source-Organization": cat.authority,
        "Rightsflow-Receiving-Organization": to_authority,
        "External-Identifier": transfer_id,
        "External-Description": f"{BAG_PROFILE}: {cat.name} records of one family ({reason})",
        "Bagging-Date": transfer_date,
        "Rightsflow-Transfer-Date": transfer_date,
        "Rightsflow-Acknowledge-By": acknowledge_by,
        "Rightsflow-Source-Service": cat.service,
        "Rightsflow-Reason": reason,
        "Rightsflow-Manifest-Version": MANIFEST_VERSION,
    }
    return build_bag_zip(transfer_id, files, info)
