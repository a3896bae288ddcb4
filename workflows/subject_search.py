"""SubjectSearch: find one subject in every service's store, in parallel.

Input and output carry only the register's opaque references; the identifiers themselves
stay sealed in the register and are opened inside the activities.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.kit import discover_one, list_services

with workflow.unsafe.imports_passed_through():
    from rightsflow.contracts.discovery import ServiceMatches, SubjectSearchInput, SubjectSearchResult


# A store that is down is retried for a day before the search gives up on it.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5), backoff_coefficient=2.0
)


@workflow.defn
class SubjectSearch:
    def __init__(self) -> None:
        self._pending: list[str] = []

    @workflow.query
    def pending_services(self) -> list[str]:
        return list(self._pending)

    @workflow.run
    async def run(self, inp: SubjectSearchInput) -> SubjectSearchResult:
        services = inp.services or await list_services()
        self._pending = list(services)

        async def one(service: str) -> ServiceMatches:
            result = await discover_one(
                inp.request_id,
                inp.subject_ref,
                service,
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=STORE_RETRY,
            )
            self._pending.remove(service)
            return result

        found = await asyncio.gather(*(one(s) for s in services))
        return SubjectSearchResult(request_id=inp.request_id, services=list(found))


__all__ = ["SubjectSearch", "SubjectSearchInput", "SubjectSearchResult"]
