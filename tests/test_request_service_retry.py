"""A DPO's decision while Temporal is slow to answer (a worker busy with a burst of requests):
sent again under the same update id, so Temporal applies it once, and said plainly if it never
gets through."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from rightsflow.config import Settings
from rightsflow.request_service import UPDATE_ATTEMPTS, RequestService, Unavailable


class _SlowWorkflow:
    """The workflow handle as Temporal's client gives it, unanswered ``unanswered`` times."""

    def __init__(self, unanswered: int) -> None:
        self.unanswered = unanswered
        self.update_ids: list[str] = []

    async def execute_update(self, update: Any, arg: Any, *, id: str) -> str:
        self.update_ids.append(id)
        if len(self.update_ids) <= self.unanswered:
            raise WorkflowUpdateRPCTimeoutOrCancelledError()
        return "approved"

    def get_workflow_handle(self, workflow_id: str) -> _SlowWorkflow:
        return self


def _service(settings: Settings, workflow: _SlowWorkflow, monkeypatch: pytest.MonkeyPatch) -> RequestService:
    rs = RequestService(settings, client=workflow)
    request = SimpleNamespace(request_type="subject_access", workflow_id="sar-test")
    monkeypatch.setattr(rs, "_request", lambda request_id: request)
    return rs


async def test_an_unanswered_decision_is_sent_again_under_the_same_id(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = _SlowWorkflow(unanswered=UPDATE_ATTEMPTS - 1)
    rs = _service(settings, workflow, monkeypatch)
    assert await rs.approve("SAR-1", actor="dpo") == "approved"
    assert len(workflow.update_ids) == UPDATE_ATTEMPTS and len(set(workflow.update_ids)) == 1


async def test_a_decision_never_answered_says_so_and_that_it_may_still_apply(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = _SlowWorkflow(unanswered=UPDATE_ATTEMPTS)
    rs = _service(settings, workflow, monkeypatch)
    with pytest.raises(Unavailable, match="may still be applied"):
        await rs.approve("SAR-1", actor="dpo")
    assert len(workflow.update_ids) == UPDATE_ATTEMPTS


async def test_a_second_identical_decision_is_an_update_of_its_own(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = _SlowWorkflow(unanswered=0)
    rs = _service(settings, workflow, monkeypatch)
    await rs.approve("SAR-1", actor="dpo")
    await rs.approve("SAR-1", actor="dpo")
    assert len(set(workflow.update_ids)) == 2
