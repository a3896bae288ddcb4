"""How a sending and a receiving authority find each other's parts of a transfer.

The names both sides derive from a transfer id (workflow ids, the receiver's intake task queue)
and the exchange bucket's layout: the sender copies each delivery to
``inbox/<receiver>/<transfer>/attempt-<n>/`` (``package.zip`` and ``notice.json``); a receiver on
another Temporal deployment, which no signal can reach, leaves its rejection of a delivery beside
it and its acknowledgement in ``inbox/<receiver>/<transfer>/acknowledgement.json``. The documents
are checked here, so the sender accepts only what is about this transfer, this receiver and this
package; the activities read and write them and record what they found.

Keys and documents carry opaque ids, authority codes, digests and counts: no personal data.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import select

from .contracts.transfer import AckNotice
from .register import AuditEntry, Register
from .s3 import opaque_key

_MISSING = ("404", "NoSuchKey", "NotFound")
OPAQUE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NOTICE_KEY = re.compile(
    r"^inbox/(?P<code>[^/]+)/(?P<tid>[^/]+)/attempt-(?P<attempt>[0-9]{1,4})/notice\.json$"
)


# -- names ------------------------------------------------------------------------------------------


def intake_task_queue(authority_code: str) -> str:
    """The receiving authority's intake task queue (its worker runs with RIGHTSFLOW_TASK_QUEUE set to it)."""
    return f"rightsflow-intake-{authority_code}"


def transfer_workflow_id(transfer_id: str) -> str:
    return f"transfer-{transfer_id}"


def intake_workflow_id(transfer_id: str) -> str:
    return f"intake-{transfer_id}"


def inbox_prefix(to_authority: str) -> str:
    """Where every delivery to ``to_authority`` lies (the inbox scan lists it)."""
    return opaque_key("inbox", to_authority) + "/"


def inbox_key(to_authority: str, transfer_id: str, attempt: int, name: str) -> str:
    """One file of one delivery: ``package.zip``, ``notice.json`` or ``rejection.json``."""
    return opaque_key("inbox", to_authority, transfer_id, f"attempt-{attempt}", name)


def exchange_ack_key(to_authority: str, transfer_id: str) -> str:
    """Where the receiver leaves its acknowledgement in the sender's bucket (beside the deliveries),
    for a sender on another Temporal deployment, which no signal can reach."""
    return opaque_key("inbox", to_authority, transfer_id, "acknowledgement.json")


def exchange_rejection_key(to_authority: str, transfer_id: str, attempt: int) -> str:
    """Where the receiver leaves its rejection of one delivery in the sender's bucket, beside it."""
    return inbox_key(to_authority, transfer_id, attempt, "rejection.json")


# -- the documents ----------------------------------------------------------------------------------


def notice_problem(doc: dict[str, Any], key: str, code: str, bucket: str) -> str | None:
    """None when a delivery notice agrees with where it lies; else what is wrong (a field name,
    never a value)."""
    m = NOTICE_KEY.match(key)
    if not m or m["code"] != code:
        return "key"
    tid, attempt = m["tid"], int(m["attempt"])
    if not OPAQUE_ID.match(tid) or doc.get("transfer_id") != tid:
        return "transfer_id"
    if doc.get("to_authority") != code:
        return "to_authority"
    if doc.get("attempt") != attempt:
        return "attempt"
    if doc.get("bucket") != bucket or doc.get("key") != key.rsplit("/", 1)[0] + "/package.zip":
        return "package location"
    if not re.fullmatch(r"[0-9a-f]{64}", str(doc.get("sha256", ""))):
        return "sha256"
    if not OPAQUE_ID.match(str(doc.get("from_authority", ""))):
        return "from_authority"
    if not OPAQUE_ID.match(str(doc.get("sender_workflow_id", ""))):
        return "sender_workflow_id"
    return None


def ack_problems(doc: dict[str, Any], transfer_id: str, to_authority: str, sha256: str) -> list[str]:
    """The fields on which an acknowledgement is not one of this package (empty: it is). A document
    for another transfer, receiver or package digest acknowledges nothing here."""
    return [
        name
        for name, ok in (
            ("transfer_id", doc.get("transfer_id") == transfer_id),
            ("to_authority", doc.get("to_authority") == to_authority),
            ("package_sha256", doc.get("package_sha256") == sha256),
            ("accepted_on", isinstance(doc.get("accepted_on"), str)),
        )
        if not ok
    ]


def ack_notice(doc: dict[str, Any], key: str, sha256: str) -> AckNotice:
    """An acknowledgement that passed ``ack_problems``, as the sender's workflow takes it."""
    return AckNotice(
        attempt=int(doc.get("attempt", 0)),
        ack_key=key,
        sha256=sha256,
        accepted_on=doc["accepted_on"],
        people_new=int(doc.get("people_new", 0)),
        people_matched=int(doc.get("people_matched", 0)),
        rows_inserted=int(doc.get("rows_inserted", 0)),
        not_placed=list(doc.get("not_placed") or []),
        imported=dict(doc.get("imported") or {}),
    )


def rejection_reasons(
    doc: dict[str, Any], transfer_id: str, to_authority: str, attempt: int
) -> list[str] | None:
    """The receiver's reasons for rejecting delivery ``attempt`` (bounded in number and length), or
    None when the document is not a rejection of that delivery."""
    if (
        doc.get("transfer_id") != transfer_id
        or doc.get("to_authority") != to_authority
        or doc.get("attempt") != attempt
        or not isinstance(doc.get("reasons"), list)
    ):
        return None
    return [str(r)[:300] for r in doc["reasons"][:50]]


# -- the exchange bucket ----------------------------------------------------------------------------


def object_exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
            return False
        raise


def read_json(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The JSON document at ``key``: None when there is none (not written yet, or removed since it
    was listed), ``{}`` when it is not JSON (checked like any wrong document, not an error)."""
    try:
        doc = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
            return None
        raise
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def lock_until(days: float) -> datetime:
    """The Object Lock date of a transfer's objects written now, ``days`` from now."""
    return datetime.now(UTC) + timedelta(days=days)


def audited(register: Register, key: str) -> bool:
    """Whether the audit entry under ``key`` has been written (a step already done)."""
    with register.session() as s:
        return s.scalar(select(AuditEntry.entry_id).where(AuditEntry.idempotency_key == key)) is not None
