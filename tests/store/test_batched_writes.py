"""Step records and ends of many runs queued together, as a runner's passes queue them: each
lands on its own run, and a refused one is refused alone (SQLite makes such writes a statement
for many runs at a time, PostgreSQL pipelines them)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from durablex.core.clock import ManualClock
from durablex.core.ids import new_id
from durablex.store.base import (
    ClaimedRun,
    LeaseLostError,
    NewChildRun,
    NewEvent,
    Store,
    StoreError,
    WaiterWrite,
)

from .helpers import APP, LEASE_US, register, started, step

RUNS = 40


async def _claimed(store: Store, count: int) -> list[ClaimedRun]:
    for _ in range(count):
        await started(store)
    held = await store.claim("r1", [APP], count, LEASE_US)
    assert len(held) == count
    return held


async def _end_together(
    store: Store, held: list[ClaimedRun], required: dict[str, list[str]] | None = None
) -> list[BaseException | None]:
    """Each run's last step and its end, queued in one turn of the loop (a step, then its
    run's end, run after run), as the passes of a runner ending together do."""
    writes = []
    for run in held:
        writes.append(store.record_step(run.id, run.fence, step("last", 1, output=run.id)))
        needs = (required or {}).get(run.id, ["last"])
        output = orjson.dumps({"run": run.id})
        writes.append(store.complete_run(run.id, run.fence, output, needs, open_steps=False))
    return await asyncio.gather(*writes, return_exceptions=True)


async def test_each_run_gets_its_own_step_and_output_when_many_end_together(
    store: Store,
) -> None:
    await register(store, ("wf", ()))
    held = await _claimed(store, RUNS)
    assert await _end_together(store, held) == [None] * (2 * RUNS)
    for run in held:
        stored = await store.get_run(run.id)
        assert stored is not None and stored.status == "completed"
        assert stored.output == {"run": run.id}
        assert [(s.id, s.status, s.output) for s in stored.steps] == [("last", "completed", run.id)]


async def test_a_refused_write_among_many_is_refused_alone(store: Store) -> None:
    await register(store, ("wf", ()))
    held = await _claimed(store, RUNS)
    cancelled, unrecorded = held[3], held[17]
    assert await store.cancel_run(cancelled.id) is True
    results = await _end_together(store, held, {unrecorded.id: ["last", "never-recorded"]})
    for run, step_result, end_result in zip(held, results[::2], results[1::2], strict=True):
        stored = await store.get_run(run.id)
        assert stored is not None
        if run is cancelled:
            assert isinstance(step_result, LeaseLostError)
            assert isinstance(end_result, LeaseLostError)
            assert stored.status == "cancelled" and stored.steps == []
        elif run is unrecorded:
            assert step_result is None
            assert isinstance(end_result, StoreError)
            assert "['never-recorded'] were not stored" in str(end_result)
            assert stored.status == "running"  # to be taken again, its step kept
            assert [s.id for s in stored.steps] == ["last"]
        else:
            assert (step_result, end_result) == (None, None)
            assert stored.status == "completed" and stored.output == {"run": run.id}


async def test_a_child_ending_among_many_runs_reports_to_its_parent(store: Store) -> None:
    await register(store, ("wf", ()), ("kid", ()))
    parent = await started(store)
    [held_parent] = await store.claim("r1", [APP], 1, LEASE_US)
    waiting = step("child", 0, kind="run_workflow", status="waiting", child_run_id="kid-1")
    await store.start_child(
        parent, held_parent.fence, waiting, NewChildRun("kid-1", APP, "kid", None, None)
    )
    assert await store.park_run(parent, held_parent.fence, "waiting", None) is True
    held = await _claimed(store, 10)  # nine runs and the child, in due order
    assert "kid-1" in {run.id for run in held}
    assert await _end_together(store, held) == [None] * 20
    stored = await store.get_run(parent)
    assert stored is not None and stored.status == "queued"
    assert stored.steps[0].status == "completed"
    assert stored.steps[0].output == {"run": "kid-1"}


@pytest.mark.parametrize("runs", [2, 300])
async def test_steps_and_ends_of_many_runs_all_commit(store: Store, runs: int) -> None:
    """More writes than one statement is given at a time (256) commit as well."""
    await register(store, ("wf", ()))
    held = await _claimed(store, runs)
    assert await _end_together(store, held) == [None] * (2 * runs)
    assert await store.count_runs("completed") == runs
    assert await store.count_runs() == runs


async def _woken_during_its_pass(store: Store, run: ClaimedRun) -> None:
    """An event arrives for the run while its pass still holds it (its wait was recorded)."""
    name = f"go-{run.id}"
    wait = step("wait", 0, kind="wait_for_event", status="waiting")
    await store.record_step(run.id, run.fence, wait, waiter=WaiterWrite(name, None))
    assert (await store.send_event(NewEvent(new_id(), name, None, None))).resumed == 1


@pytest.mark.parametrize("refusals", [True, False])
async def test_parks_of_many_runs_queued_together_each_park_or_say_why_not(
    store: Store, clock: ManualClock, refusals: bool
) -> None:
    await register(store, ("wf", ()))
    held = await _claimed(store, RUNS + 2)
    woken, cancelled = held[5], held[30]
    await _woken_during_its_pass(store, woken)
    assert await store.cancel_run(cancelled.id) is True
    if not refusals:  # the others park together, none refused
        held = [run for run in held if run not in (woken, cancelled)]
    due = clock.now_us() + 60_000_000
    results = await asyncio.gather(
        *(store.park_run(run.id, run.fence, "sleeping", due) for run in held),
        return_exceptions=True,
    )
    statuses = await store.run_statuses([run.id for run in held])
    for run, parked in zip(held, results, strict=True):
        if run is woken:
            assert parked is False and statuses[run.id] == "running"  # it runs again
        elif run is cancelled:
            assert isinstance(parked, LeaseLostError) and statuses[run.id] == "cancelled"
        else:
            assert parked is True and statuses[run.id] == "sleeping"
    if not refusals:  # its first park, alone: the wake-up is seen there
        assert await store.park_run(woken.id, woken.fence, "waiting", None) is False
    assert await store.park_run(woken.id, woken.fence, "waiting", None) is True  # now it parks
    clock.advance(61)
    due_now = await store.claim("r2", [APP], 2 * RUNS, LEASE_US)
    assert {run.id for run in due_now} == {run.id for run in held} - {woken.id, cancelled.id}
    assert len(due_now) == RUNS


@pytest.mark.parametrize("refusals", [True, False])
async def test_held_runs_held_and_resumed_together_each_keep_their_own_sleep(
    store: Store, clock: ManualClock, refusals: bool
) -> None:
    await register(store, ("wf", ()))
    held = await _claimed(store, RUNS)
    woken, cancelled = (held[2], held[11]) if refusals else (None, None)
    nap = step("nap", 1, kind="sleep", status="sleeping")
    await asyncio.gather(*(store.record_step(run.id, run.fence, nap) for run in held))
    if woken is not None:
        await _woken_during_its_pass(store, woken)
    until = clock.now_us() + 3_000_000
    holds = await asyncio.gather(*(store.hold_run(run.id, run.fence, until) for run in held))
    assert holds == [run is not woken for run in held]
    assert (await store.run_statuses([held[0].id]))[held[0].id] == "sleeping"
    if cancelled is not None:
        assert await store.cancel_run(cancelled.id) is True
    sleeping = [run for run in held if run is not woken]

    async def wake(run: ClaimedRun) -> list[BaseException | None]:
        """A held run's wake-up, as its pass queues it: running again, its sleep completed."""
        back = store.resume_held_nowait(run.id, run.fence, LEASE_US)
        slept = store.complete_sleep_nowait(run.id, run.fence, "nap")
        return await asyncio.gather(back, slept, return_exceptions=True)

    outcomes = await asyncio.gather(*(wake(run) for run in sleeping))
    for run, (back, slept) in zip(sleeping, outcomes, strict=True):
        stored = await store.get_run(run.id)
        assert stored is not None
        if run is cancelled:
            assert isinstance(back, LeaseLostError) and isinstance(slept, LeaseLostError)
            assert stored.status == "cancelled" and stored.steps[-1].status == "cancelled"
        else:
            assert (back, slept) == (None, None)
            assert stored.status == "running"
            assert [(s.id, s.status) for s in stored.steps] == [("nap", "completed")]
