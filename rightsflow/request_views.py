"""What the request service shows: one request's status, the redactions under review, and whether
a text the DPO wants withheld occurs in what was gathered. Read-only; used through RequestService.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .request_service import RequestService

SERVICE_STATES = {
    "pending": "waiting to be searched",
    "discovering": "searching the store",
    "awaiting_confirmation": "possible matches to confirm",
    "gathering": "gathering records",
    "store_unavailable": "the service's store cannot be reached; retrying",
    "gathered": "records gathered",
    "not_found": "no records of the person",
}


def _register_view(req: Any) -> dict[str, Any]:
    return {
        "request_id": req.request_id,
        "type": req.request_type,
        "status": req.status,
        "stage": req.stage,
        "attention": getattr(req, "attention", None),
        "received_on": req.received_on.isoformat() if req.received_on else None,
        "clock_start": req.clock_start.isoformat() if req.clock_start else None,
        "deadline": req.deadline.isoformat() if req.deadline else None,
    }


def archive_reachable(service: RequestService) -> bool:
    """Whether the archive bucket answers: one quick HEAD, no retries (the DPO is waiting)."""
    try:
        import boto3
        from botocore.config import Config

        from .s3 import s3_credentials

        access_key, secret_key = s3_credentials(service.settings)
        client = boto3.client(
            "s3",
            endpoint_url=service.settings.s3_endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                region_name=service.settings.s3_region,
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=3,
                retries={"max_attempts": 1},
            ),
        )
        client.head_bucket(Bucket=service.settings.s3_bucket)
        return True
    except Exception:  # noqa: BLE001 - any failure means the DPO should be told it is unreachable
        return False


def archive_problem(service: RequestService) -> str:
    return (
        f"the archive (S3) at {service.settings.s3_endpoint or 'AWS'} is unreachable: the request "
        "waits and carries on by itself once it answers; check RIGHTSFLOW_S3_ENDPOINT and that the "
        "S3 server runs"
    )


async def request_status(service: RequestService, req: Any) -> dict[str, Any]:
    """The live workflow state where Temporal has it, else what the register holds."""
    from .request_decisions import RIGHTS
    from .request_service import _workflow_class, workflow_id

    out = _register_view(req)
    kind = req.request_type
    if kind == "subject_access" and req.status == "closed":  # the register holds the outcome
        for e in service.register().audit_trail(req.request_id):
            if e.action == "subject_access.pack_sent":
                out["pack_key"] = e.detail.get("pack_key")
                out["pack_sent_at"] = e.at.isoformat()
        out["live"] = False
        return out
    if kind != "subject_access" and kind not in RIGHTS:
        out["live"] = False
        return out
    wf = _workflow_class(kind)
    try:
        client = await service.client()
        handle = client.get_workflow_handle(req.workflow_id or workflow_id(kind, req.request_id))
        st = await handle.query(wf.status, rpc_timeout=timedelta(seconds=10))
    except Exception as exc:  # noqa: BLE001 - the register's view is still worth showing
        out["live"] = False
        out["live_error"] = type(exc).__name__
        out["problem"] = (
            f"Temporal at {service.settings.temporal_address} did not answer for this request "
            f"({type(exc).__name__}): showing what the register holds; is the worker running?"
        )
        return out
    if kind != "subject_access":
        view = asdict(st)
        view.update({"type": kind, "status": req.status, "live": True})
        return view
    clock = st.clock
    out.update(
        {
            "live": True,
            "stage": st.stage,
            "clock_started": clock.clock_started,
            "clock_start": clock.clock_start,
            "deadline": clock.deadline,
            "one_month_deadline": clock.one_month_deadline,
            "extended": clock.extended,
            "clock_state": clock.state,
            "waiting_for": clock.waiting_for,
            "days_left": st.days_left,
            "overdue": st.overdue,
            "paused_days": clock.paused_days,
            "pauses": clock.pauses,
            "services": [asdict(s) for s in st.services],
            "redactions": st.redactions,
            "released": st.released,
            "decision": st.decision,
            "pack_key": st.pack_key,
            "clock_events": st.events,
            "attention": asdict(st.attention) if getattr(st, "attention", None) else out["attention"],
        }
    )
    waiting = [s for s in out["services"] if s["state"] == "store_unavailable"]
    archive_down = bool(waiting) and not archive_reachable(service)
    for s in out["services"]:
        s.pop("claim_key", None)
        s["state_label"] = SERVICE_STATES.get(s["state"], s["state"].replace("_", " "))
        if archive_down and s["state"] == "store_unavailable":
            s["state"] = "archive_unavailable"
            s["state_label"] = "the archive (S3) cannot be reached; retrying"
    if archive_down:
        out["problem"] = archive_problem(service)
    return out


async def redacted_document(service: RequestService, request_id: str) -> dict[str, Any]:
    """The current redacted version of a SAR under review (holds the withheld text)."""
    from .request_service import Refused

    st = await service._call(request_id, lambda h, wf: h.query(wf.status), "subject_access")
    if st.stage != "awaiting_review":
        raise Refused(f"request {request_id} has no redactions to review (stage: {st.stage})")
    from .s3 import opaque_key

    key = opaque_key("work", request_id, "redacted", f"v{st.review_version}.bin")
    return _claims(service, lambda c: c.get(key))


def _claims(service: RequestService, read: Any) -> Any:
    from .request_service import Unavailable

    try:
        from rightsflow.claims import ClaimStore

        return read(ClaimStore(service.settings))
    except Exception as exc:  # noqa: BLE001 - keys first; otherwise the archive did not answer
        from .request_service import _key_error

        if (key := _key_error(exc)) is not None:
            raise key from None
        if type(exc).__name__ in ("NoSuchKey", "ClientError"):
            raise
        raise Unavailable(archive_problem(service)) from None


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


async def text_occurs_in_gathered(service: RequestService, request_id: str, text: str) -> bool:
    """Whether ``text`` occurs (as the redaction engine matches it: whole words, any case, spacing
    normalised) in any record gathered for the request. The dossiers are read from S3 here, never
    in the workflow."""
    from .request_service import Refused

    words = " ".join(text.split())
    if len(words) < 2:
        raise Refused("the text to withhold must be at least two characters")
    st = await service._call(request_id, lambda h, wf: h.query(wf.status), "subject_access")
    if st.stage != "awaiting_review":
        raise Refused(f"request {request_id} has no redactions to review (stage: {st.stage})")
    keys = [s.claim_key for s in st.services if getattr(s, "claim_key", None)]
    pattern = re.compile(rf"\b{re.escape(words)}\b", re.IGNORECASE)

    def search(claims: Any) -> bool:
        for key in keys:
            dossier = claims.get(key)
            for value in _strings(dossier.get("records", dossier)):
                if pattern.search(" ".join(value.split())):
                    return True
        return False

    return bool(_claims(service, search))
