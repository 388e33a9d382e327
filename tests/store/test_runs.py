"""Children, ends of runs, cancellation, resume, and client starts."""

from __future__ import annotations

import pytest

from durablex.errors import AmbiguousWorkflowError, WorkflowNotFoundError
from durablex.store.base import (
    LeaseLostError,
    NewChildRun,
    Store,
    StoreError,
    WorkflowRegistration,
)

from .helpers import APP, LEASE_US, claim_one, register, started, step


async def _with_child(store: Store, parent: str, fence: int, child_id: str) -> None:
    row = step("child", 0, kind="run_workflow", status="waiting", child_run_id=child_id)
    await store.start_child(
        parent, fence, row, NewChildRun(child_id, APP, "kid", b'{"x":1}', runner_pin=None)
    )


async def test_child_start_and_completion_wake_the_parent(store: Store) -> None:
    await register(store, ("wf", ()), ("kid", ()))
    parent = await started(store)
    held = await claim_one(store)
    await _with_child(store, parent, held.fence, "child-1")
    assert await store.park_run(parent, held.fence, "waiting", None) is True
    kid = await claim_one(store)
    assert kid.id == "child-1" and kid.parent_run_id == parent and kid.input == b'{"x":1}'
    await store.complete_run(kid.id, kid.fence, b'"ok"')
    run = await store.get_run(parent)
    assert run is not None and run.status == "queued"
    assert run.steps[0].status == "completed" and run.steps[0].output == "ok"
    again = await claim_one(store)
    assert again.id == parent


async def test_failed_child_fails_the_parent_step(store: Store) -> None:
    await register(store, ("wf", ()), ("kid", ()))
    parent = await started(store)
    held = await claim_one(store)
    await _with_child(store, parent, held.fence, "child-2")
    kid = next(c for c in await store.claim("r1", [APP], 10, LEASE_US) if c.id == "child-2")
    error = {"type": "ValueError", "message": "bad", "traceback": None}
    await store.fail_run(kid.id, kid.fence, error, [])
    run = await store.get_run(parent)
    assert run is not None and run.status == "running"  # still held: woken when it parks
    assert run.steps[0].status == "failed"
    assert run.steps[0].error is not None
    assert run.steps[0].error["type"] == "ChildWorkflowFailedError"
    assert await store.park_run(parent, held.fence, "waiting", None) is False


async def test_cancel_cascades_to_descendants(store: Store) -> None:
    await register(store, ("wf", ()), ("kid", ()))
    parent = await started(store)
    held = await claim_one(store)
    await _with_child(store, parent, held.fence, "c1")
    kid = next(c for c in await store.claim("r1", [APP], 10, LEASE_US) if c.id == "c1")
    row = step("child", 0, kind="run_workflow", status="waiting", child_run_id="g1")
    await store.start_child("c1", kid.fence, row, NewChildRun("g1", APP, "kid", None, None))
    assert await store.cancel_run(parent) is True
    assert await store.run_statuses([parent, "c1", "g1"]) == {
        parent: "cancelled",
        "c1": "cancelled",
        "g1": "cancelled",
    }
    with pytest.raises(LeaseLostError):
        await store.record_step("c1", kid.fence, step("late", 1))
    assert await store.cancel_run(parent) is False
    with pytest.raises(LookupError):
        await store.cancel_run("no-such-run")
    run = await store.get_run(parent)
    assert run is not None and run.steps[0].status == "cancelled" and run.ended_at is not None


async def test_fail_and_resume_keep_completed_steps(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    held = await claim_one(store)
    await store.record_step(run_id, held.fence, step("a", 0, output=1))
    running = step("b", 1, status="running")
    error = {"type": "RuntimeError", "message": "boom", "traceback": None}
    failed = step("c", 2, status="failed")
    await store.record_step(run_id, held.fence, failed)
    cancelled = step("b", 1, status="cancelled")
    await store.record_step(run_id, held.fence, running)
    await store.fail_run(run_id, held.fence, error, [cancelled])
    run = await store.get_run(run_id)
    assert run is not None and run.status == "failed" and run.error == error
    assert {s.id: s.status for s in run.steps} == {
        "a": "completed",
        "b": "cancelled",
        "c": "failed",
    }
    with pytest.raises(ValueError, match="only a failed run"):
        await store.resume_run(await started(store))
    await store.resume_run(run_id)
    run = await store.get_run(run_id)
    assert run is not None and run.status == "queued" and run.error is None
    assert [s.id for s in run.steps] == ["a"]
    again = next(c for c in await store.claim("r1", [APP], 10, LEASE_US) if c.id == run_id)
    assert again.fence > held.fence


async def test_start_resolves_workflows(store: Store) -> None:
    await register(store, ("wf", ()))
    await store.register_runner(
        "r2", "h", 2, ["other"], [WorkflowRegistration(app="other", name="wf", triggers=())]
    )
    with pytest.raises(AmbiguousWorkflowError):
        await store.resolve_workflow("wf", None, None)
    assert await store.resolve_workflow("wf", None, "other") == ("other", "wf")
    assert await store.resolve_workflow("wf", APP, None) == (APP, "wf")
    with pytest.raises(WorkflowNotFoundError):
        await store.resolve_workflow("nope", None, None)
    with pytest.raises(WorkflowNotFoundError):
        await store.start_run(APP, "nope", None)
    with pytest.raises(AmbiguousWorkflowError):
        await store.start_run(None, "wf", None)
    rerun = await store.start_run(APP, "wf", b"1", rerun_of="r-0")
    run = await store.get_run(rerun)
    assert run is not None and run.input == 1 and run.status == "queued"


@pytest.mark.parametrize("required", [["a"], ["a", "b"]])
async def test_a_run_does_not_end_without_the_step_records_its_end_requires(
    store: Store, required: list[str]
) -> None:
    """A pass ends its run with the last steps' records still queued: if one of them was not
    stored, the end is refused and the run stays running, to be taken again."""
    await register(store, ("wf", ()))
    run_id = await started(store)
    held = await claim_one(store)
    await store.record_step(run_id, held.fence, step("a", 1, output=1))
    if len(required) == 2:
        await store.record_step(run_id, held.fence, step("b", 2, status="running"))
        with pytest.raises(StoreError, match=r"\['b'\] were not stored"):
            await store.complete_run(run_id, held.fence, b"1", required)
        run = await store.get_run(run_id, with_steps=False)
        assert run is not None and run.status == "running"
        await store.record_step(run_id, held.fence, step("b", 2, output=2))
    with pytest.raises(StoreError, match=r"\['z'\] were not stored"):
        await store.complete_run(run_id, held.fence, b"1", ["z"])
    await store.complete_run(run_id, held.fence, b"1", required)
    run = await store.get_run(run_id, with_steps=False)
    assert run is not None and run.status == "completed" and run.output == 1
