"""The receiving authority's checks on a delivered package, and the documents it answers with.

A delivery is accepted only when the package is the one the sender announced (its SHA-256), a
readable zip holding a valid BagIt bag whose manifest fits one of the receiver's catalogued
services, and about this transfer. The reasons for a refusal name files and fields, never a value
from the records, since they go back to the sender and into the register. The acknowledgement and
the rejection are plain JSON documents of ids, codes, digests, dates and counts.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table

from .bagging import safe_extract, validate_bag_dir
from .canonical import RECORD_FILE
from .catalog import Catalog, ServiceCatalog
from .contracts.transfer import AckInput
from .storemap import is_int_key, primary_key

MAX_REASONS = 50


@dataclass
class BagCheck:
    """What the receiver found in a delivered package."""

    sha256: str
    reasons: list[str] = field(default_factory=list)
    target: ServiceCatalog | None = None
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def collections(self) -> dict[str, int]:
        """Rows of each record type, as the manifest counts them."""
        return {c["name"]: c["rows"] for c in (self.manifest or {}).get("collections", [])}


def target_service(catalog: Catalog, to_authority: str, wanted: str | None) -> ServiceCatalog | None:
    """The receiving service: the one asked for, else the authority's first catalogued service (the
    canonical record fits every catalogued store)."""
    if wanted:
        return catalog.services.get(wanted)
    mine = [s for s in catalog if s.authority_code == to_authority]
    return mine[0] if mine else None


def check_bag(
    body: bytes,
    *,
    announced_sha256: str,
    catalog: Catalog,
    to_authority: str,
    wanted: str | None,
    transfer_id: str,
) -> BagCheck:
    """Check a delivered package: digest, zip, bag, receiving service, transfer (at most
    ``MAX_REASONS`` reasons)."""
    check = BagCheck(sha256=hashlib.sha256(body).hexdigest())
    if check.sha256 != announced_sha256:
        check.reasons.append("the package's SHA-256 differs from the digest the sender announced")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            root = safe_extract(body, Path(tmp))
        except (zipfile.BadZipFile, ValueError) as exc:
            check.reasons = [*check.reasons, f"the package is not a readable zip bag ({exc})"][:20]
            return check
        check.target = target_service(catalog, to_authority, wanted)
        if check.target is None:
            check.reasons.append(
                f"no service of authority {to_authority} in the receiving catalogue fits the bag"
            )
        bag_reasons, check.manifest = validate_bag_dir(root, check.target)
        check.reasons += bag_reasons
        if check.manifest and check.manifest.get("transfer_id") != transfer_id:
            check.reasons.append("the bag belongs to another transfer")
    check.reasons = check.reasons[:MAX_REASONS]
    return check


def canonical_record(body: bytes) -> dict[str, Any]:
    """The canonical family record inside an accepted package."""
    with tempfile.TemporaryDirectory() as tmp:
        root = safe_extract(body, Path(tmp))
        return json.loads((root / "data" / RECORD_FILE).read_text(encoding="utf-8"))


def integer_keyed(cat: ServiceCatalog, engine: Engine) -> bool:
    """Whether any of the store's tables has an integer primary key. Such a store allocates its
    own keys, so an import cannot find its rows again by key: it must not run twice."""
    md = MetaData()
    return any(
        (pk := primary_key(cat, c.name)) and is_int_key(Table(c.name, md, autoload_with=engine), pk)
        for c in cat.dataset.collections
    )


def acknowledgement(inp: AckInput, accepted_on: date) -> dict[str, Any]:
    """The written acceptance: who takes responsibility for which transfer, and what was imported
    (counts and record-type labels; the records not placed are named by type and field)."""
    imported = inp.imported
    return {
        "transfer_id": inp.transfer_id,
        "from_authority": inp.from_authority,
        "to_authority": inp.to_authority,
        "accepted_on": accepted_on.isoformat(),
        "attempt": inp.attempt,
        "package_sha256": inp.sha256,
        "people_new": imported.people_new,
        "people_matched": imported.people_matched,
        "rows_inserted": sum(imported.inserted.values()),
        "imported": imported.labelled,
        "not_placed": imported.not_placed,
        "candidates_to_confirm": len(imported.candidates),
        "statement": f"{inp.to_authority} accepts responsibility for the records of transfer "
        f"{inp.transfer_id} from {inp.from_authority}.",
    }


def rejection(
    transfer_id: str, to_authority: str, attempt: int, sha256: str, rejected_on: date, reasons: list[str]
) -> dict[str, Any]:
    """The refusal of one delivery, which the sender reads to resend from its locked copy."""
    return {
        "transfer_id": transfer_id,
        "to_authority": to_authority,
        "attempt": attempt,
        "package_sha256": sha256,
        "rejected_on": rejected_on.isoformat(),
        "reasons": reasons,
    }
