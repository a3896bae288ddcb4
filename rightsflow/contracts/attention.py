"""A request that needs attention: a step failed in a way retrying cannot fix (a service not in
the catalogue, a value a store cannot hold, a store whose tables differ from its catalogue entry).

The activity raises a non-retryable error whose type is one of ``ERROR_TYPES``; the workflow
records the reason code in the register (status ``needs_attention``; never personal data), stays
queryable and waits for the DPO to ``resolve`` it: ``retry`` once the cause is fixed (the catalogue
corrected, the store repaired), or ``close`` the request.
"""

from __future__ import annotations

from dataclasses import dataclass

NEEDS_ATTENTION = "needs_attention"

# Non-retryable error type raised by an activity -> the reason code kept in the register.
ERROR_TYPES: dict[str, str] = {
    "UnknownService": "unknown_service",
    "InvalidValue": "invalid_value",
    "MissingCatalogueEntry": "missing_catalogue_entry",
    "SchemaMismatch": "schema_mismatch",
}
# Reason code -> what the DPO reads, and what to do.
REASONS: dict[str, str] = {
    "unknown_service": "the request names a service that is not in the catalogue: correct the catalogue "
    "or close the request and file it again with the right service",
    "invalid_value": "a value given with the request is not valid for the field it corrects: close the "
    "request and file it again with a valid value",
    "missing_catalogue_entry": "the catalogue lacks an entry this step needs: complete the catalogue, "
    "then retry",
    "schema_mismatch": "a store's tables or columns do not match its catalogue entry: correct the "
    "catalogue or the store, then retry",
    "activity_failed": "a step failed in a way retrying cannot fix: see the worker log, then retry or close",
}
ACTIONS = ("retry", "close")


@dataclass(kw_only=True)
class Attention:
    reason: str  # a key of REASONS
    step: str  # the step that failed, e.g. "rectify_service:lewisham_early_help" (no personal data)
    since: str  # ISO timestamp (workflow time)
    times: int = 1  # how many times this request has needed attention


@dataclass(kw_only=True)
class ResolveInput:
    action: str  # retry | close
    decided_by: str = "dpo"
    note: str = ""  # the DPO's reasons (kept in the encrypted payload only)


def reason_text(code: str) -> str:
    return REASONS.get(code, REASONS["activity_failed"])
