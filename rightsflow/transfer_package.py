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
