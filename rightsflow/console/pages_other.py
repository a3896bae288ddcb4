"""Retention (sweeps, dry runs, disposition review, certificates), transfers and reports."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rightsflow.register import AuditEntry, Decision, RightsRequest

from . import actions
from .bridge import console_actor
from .charts import bar_chart
from .queue import TYPE_LABELS, stage_label
from .security import checked_form, form_str, require
from .web import FormErrors, render

RETENTION_ROLES = ("records_manager", "auditor")
REPORT_ROLES = ("dpo", "records_manager", "auditor")


# -- retention -------------------------------------------------------------------------------------


def _sweeps(request: Request, limit: int = 20) -> list[dict[str, Any]]:
    with request.app.state.register.session() as s:
        rows = list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "retention.swept")
                .order_by(AuditEntry.entry_id.desc())
                .limit(limit)
            )
        )
    return [{"at": r.at, "by": r.actor, "service": r.service, **json.loads(r.detail)} for r in rows]


async def retention_page(request: Request, **extra: Any) -> Response:
    require(request, *RETENTION_ROLES)
    from rightsflow.catalog import HOLD_KINDS
    from rightsflow.review import list_reviews

    from . import holds

    catalog = request.app.state.catalog
    register = request.app.state.register
    rules = {(svc.service, r.rule_id): r for svc in catalog for r in svc.retention}
    items = list_reviews(register.engine)
    done = request.query_params.get("done", "")
    return render(
        request,
        "console/retention.html.j2",
        active="retention",
        sweeps=_sweeps(request),
        items=items,
        rules=rules,
        other_rules={
            svc.service: [(r.rule_id, r.record_class or r.rule_id) for r in svc.retention] for svc in catalog
        },
        case_refs=holds.review_case_refs(items, register),
        holds=holds.active_holds(request.app.state.settings, catalog, register),
        placeable=holds.PLACEABLE,
        hold_kinds=[(k, holds.KIND_LABELS.get(k, k)) for k in HOLD_KINDS],
        services=list(catalog),
        hold_services=[svc for svc in catalog if svc.roles.flags is not None],
        today=date.today().isoformat(),
        notice=actions.NOTICES.get(done)
        or {
            "decided": "The review decision has been recorded.",
            "hold_placed": "The hold has been placed: the sweep keeps the family's records.",
            "hold_lifted": "The hold has been lifted.",
        }.get(done),
        **extra,
    )


async def hold_place(request: Request) -> Response:
    """Place a legal hold or an inquiry hold on a family's records, by case reference."""
    form = await checked_form(request)
    user = require(request, "records_manager")
    from .holds import PLACEABLE, HoldError, place_hold

    errors = FormErrors()
    service, case_ref = form_str(form, "hold_service"), form_str(form, "case_ref")
    kind, reason = form_str(form, "hold_kind"), form_str(form, "hold_reason")
    if service not in {svc.service for svc in request.app.state.catalog}:
        errors.add("hold_service", "Choose the service that holds the family's records")
    if not case_ref or len(case_ref) > 64:
        errors.add("case_ref", "Enter the family's case reference in that service")
    if kind not in PLACEABLE:
        errors.add("hold_kind", "Choose the kind of hold")
    if len(reason) < 5:
        errors.add("hold_reason", "Enter why the records must be kept")
    if not errors:
        try:
            place_hold(
                request.app.state.settings,
                request.app.state.catalog,
                request.app.state.register,
                service=service,
                case_ref=case_ref,
                kind=kind,
                reason=reason,
                actor=console_actor(user.username),
            )
        except HoldError as exc:
            errors.add("case_ref", f"The hold could not be placed: {exc}")
    if errors:
        return await retention_page(request, errors=errors, form=dict(form), status_code=400)
    return RedirectResponse("/retention?done=hold_placed#holds", status_code=303)


async def hold_lift(request: Request) -> Response:
    form = await checked_form(request)
    user = require(request, "records_manager")
    from .holds import HoldError, lift_hold

    errors = FormErrors()
    service, case_ref, kind = (
        form_str(form, "service"),
        form_str(form, "case_ref"),
        form_str(form, "hold_kind"),
    )
    reason = form_str(form, "lift_reason")
    field = f"lift-{service}-{case_ref}-{kind}"
    if len(reason) < 5:
        errors.add(field, "Enter why the hold is lifted")
    if not errors:
        try:
            lift_hold(
                request.app.state.settings,
                request.app.state.catalog,
                request.app.state.register,
                service=service,
                case_ref=case_ref,
                kind=kind,
                reason=reason,
                actor=console_actor(user.username),
            )
        except HoldError as exc:
            errors.add(field, f"The hold could not be lifted: {exc}")
    if errors:
        return await retention_page(request, errors=errors, status_code=400)
    return RedirectResponse("/retention?done=hold_lifted#holds", status_code=303)


async def dry_run(request: Request) -> Response:
    """A dry run on demand: what a sweep today would dispose of and keep, and why."""
    form = await checked_form(request)
    user = require(request, "records_manager")
    services = [v for k, v in form.multi_items() if k == "service" and isinstance(v, str) and v]
    from rightsflow.cli.sweep import _report, _run_sweep

    try:
        result = await _run_sweep(
            request.app.state.settings, date.today().isoformat(), services or None, True, False, user.username
        )
    except Exception as exc:  # noqa: BLE001 - shown on the page, nothing was changed
        errors = FormErrors()
        errors.add("service", f"The dry run could not run: {type(exc).__name__}")
        return await retention_page(request, errors=errors, status_code=400)
    return await retention_page(request, dry_run=_report(result), dry_run_as_of=result.as_of)


async def review_decide(request: Request) -> Response:
    form = await checked_form(request)
    user = require(request, "records_manager")
    from rightsflow.review import ReviewError, decide

    ref = request.path_params["ref"]
    decision = form_str(form, "decision")
    errors = FormErrors()
    kwargs: dict[str, Any] = {}
    if decision == "approve":
        kwargs["approve"] = True
    elif decision == "extend":
        try:
            kwargs["extend_to"] = date.fromisoformat(form_str(form, "extend_to"))
        except ValueError:
            errors.add(f"extend-{ref}", "Enter the date to keep the records until, like 2027-06-30")
    elif decision == "move":
        kwargs["move_to"] = form_str(form, "move_to")
        if not kwargs["move_to"]:
            errors.add(f"move-{ref}", "Choose the rule to assess the records under")
    elif decision == "hold":
        kwargs["hold"], kwargs["reason"] = form_str(form, "hold_kind"), form_str(form, "reason")
        if not kwargs["hold"] or len(kwargs["reason"] or "") < 5:
            errors.add(f"hold-{ref}", "Choose the kind of hold and give its reason")
    else:
        errors.add(f"decision-{ref}", "Choose a decision")
    if not errors:
        try:
            decide(
                request.app.state.settings,
                request.app.state.catalog,
                request.app.state.register,
                ref,
                by=user.username,
                service=form_str(form, "service") or None,
                rule=form_str(form, "rule") or None,
                **kwargs,
            )
        except (ReviewError, LookupError, KeyError, ValueError) as exc:
            errors.add(f"decision-{ref}", f"This could not be done: {str(exc)[:200]}")
    if errors:
        return await retention_page(request, errors=errors, status_code=400)
    return RedirectResponse("/retention?done=decided", status_code=303)


async def certificate(request: Request) -> Response:
    """A short-lived link to a sweep's disposal certificate (no personal data), audited."""
    user = require(request, *RETENTION_ROLES)
    sweep_id, service = request.path_params["sweep_id"], request.path_params["service"]
    match = next(
        (s for s in _sweeps(request, 500) if s.get("sweep_id") == sweep_id and s["service"] == service), None
    )
    if match is None or not match.get("certificate"):
        raise HTTPException(404, "There is no certificate for this sweep.")
    from rightsflow.s3 import presigned_get, s3_client

    request.app.state.register.audit(
        f"certificate:{sweep_id}:{service}:{user.username}:{datetime.now().isoformat()}",
        actor=user.username,
        action="console.certificate.downloaded",
        service=service,
        detail={"sweep_id": sweep_id},
    )
    settings = request.app.state.settings
    url = presigned_get(
        s3_client(settings), settings.s3_bucket, match["certificate"], actions.DOWNLOAD_SECONDS
    )
    return RedirectResponse(url, status_code=303)


# -- transfers -------------------------------------------------------------------------------------


async def transfers_page(request: Request, **extra: Any) -> Response:
    require(request, "dpo", "auditor")
    with request.app.state.register.session() as s:
        rows = list(
            s.scalars(
                select(RightsRequest)
                .where(RightsRequest.request_type.in_(("transfer", "portability")))
                .order_by(RightsRequest.created_at.desc())
            )
        )
    return render(
        request,
        "console/transfers.html.j2",
        active="transfers",
        rows=[{"req": r, "type": TYPE_LABELS[r.request_type], "stage": stage_label(r.stage)} for r in rows],
        notice={"approve": "The transfer was approved.", "refuse": "The transfer was refused."}.get(
            request.query_params.get("done", "")
        ),
        **extra,
    )


async def transfer_decide(request: Request) -> Response:
    form = await checked_form(request)
    user = require(request, "dpo")
    request_id, decision = request.path_params["request_id"], form_str(form, "decision")
    errors = FormErrors()
    reason = form_str(form, "reason")
    if decision not in ("approve", "refuse"):
        errors.add(f"reason-{request_id}", "Choose approve or refuse")
    elif decision == "refuse" and len(reason) < 5:
        errors.add(f"reason-{request_id}", "Enter why the transfer is refused")
    if not errors:
        svc = actions.service(request)
        try:
            if decision == "approve":
                await svc.approve_transfer(request_id, actor=console_actor(user.username))
            else:
                await svc.refuse_transfer(request_id, reason=reason, actor=console_actor(user.username))
        except Exception as exc:  # noqa: BLE001 - the workflow's refusal, shown on the page
            errors.add(f"reason-{request_id}", f"This could not be done: {actions._refusal(exc)}")
    if errors:
        return await transfers_page(request, errors=errors, status_code=400)
    return RedirectResponse(f"/transfers?done={decision}", status_code=303)


# -- reports ---------------------------------------------------------------------------------------


def report_rows(request: Request) -> list[dict[str, Any]]:
    """Per month and request type: received, closed, closed within the deadline, extensions, refusals."""
    from rightsflow.retention import RetentionDisposal

    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    with request.app.state.register.session() as s:
        reqs = list(s.scalars(select(RightsRequest).where(RightsRequest.request_type != "subject_search")))
        kinds = {r.request_id: r.request_type for r in reqs}
        for r in reqs:
            if r.received_on:
                counts[(r.received_on.strftime("%Y-%m"), r.request_type)]["received"] += 1
            if r.closed_at:
                month = r.closed_at.strftime("%Y-%m")
                counts[(month, r.request_type)]["closed"] += 1
                if r.deadline and r.closed_at.date() <= r.deadline:
                    counts[(month, r.request_type)]["on_time"] += 1
        for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("%.extended"))):
            if e.request_id in kinds:
                counts[(e.at.strftime("%Y-%m"), kinds[e.request_id])]["extended"] += 1
        for d in s.scalars(select(Decision).where(Decision.legal_basis.is_not(None))):
            if d.request_id in kinds and d.decision in ("rejected", "refused"):
                counts[(d.decided_at.strftime("%Y-%m"), kinds[d.request_id])]["exemptions"] += 1
        for d in s.scalars(select(RetentionDisposal).where(RetentionDisposal.status == "done")):
            counts[(d.disposed_on.strftime("%Y-%m"), "retention")]["disposals"] += 1
    out = []
    for (month, kind), c in sorted(counts.items()):
        closed = c["closed"]
        out.append(
            {
                "month": month,
                "type": TYPE_LABELS.get(kind, "Retention disposals" if kind == "retention" else kind),
                "received": c["received"],
                "closed": closed,
                "on_time": c["on_time"],
                "share_on_time": f"{100 * c['on_time'] / closed:.0f}%" if closed else "-",
                "extended": c["extended"],
                "exemptions": c["exemptions"],
                "disposals": c["disposals"],
            }
        )
    return out


async def reports_page(request: Request) -> Response:
    require(request, *REPORT_ROLES)
    rows = report_rows(request)
    by_month: dict[str, list[int]] = {}
    for r in rows:
        m = by_month.setdefault(r["month"], [0, 0])
        m[0] += r["received"]
        m[1] += r["closed"]
    broken = request.app.state.register.verify_audit_chain()
    return render(
        request,
        "console/reports.html.j2",
        active="reports",
        rows=rows,
        chart=bar_chart(
            [(month, v) for month, v in sorted(by_month.items())[-12:]],
            ("Received", "Closed"),
            title="Requests received and closed per month",
        ),
        chain_ok=broken is None,
        chain_broken_at=broken,
    )


async def reports_csv(request: Request) -> Response:
    require(request, *REPORT_ROLES)
    rows = report_rows(request)
    out = io.StringIO()
    headers = {
        "month": "Month",
        "type": "Type",
        "received": "Received",
        "closed": "Closed",
        "on_time": "Closed within the deadline",
        "share_on_time": "Share within the deadline",
        "extended": "Extensions",
        "exemptions": "Refusals with an exemption",
        "disposals": "Households disposed",
    }
    w = csv.DictWriter(out, fieldnames=list(headers))
    w.writerow(headers)
    w.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="rightsflow-report.csv"'},
    )


def routes() -> list[Route]:
    return [
        Route("/retention", retention_page),
        Route("/retention/dry-run", dry_run, methods=["POST"]),
        Route("/retention/reviews/{ref}", review_decide, methods=["POST"]),
        Route("/retention/holds", hold_place, methods=["POST"]),
        Route("/retention/holds/lift", hold_lift, methods=["POST"]),
        Route("/retention/certificates/{sweep_id}/{service}", certificate),
        Route("/transfers", transfers_page),
        Route("/transfers/{request_id}", transfer_decide, methods=["POST"]),
        Route("/reports", reports_page),
        Route("/reports.csv", reports_csv),
    ]
