"""Claims, fences and leases: who may write for a run, and when another runner takes it."""

from __future__ import annotations

import pytest

from durablex.core.clock import ManualClock
from durablex.core.ids import new_id
from durablex.store.base import LeaseLostError, NewEvent, Store, StoreError, WaiterWrite

from .helpers import APP, LEASE_US, claim_one, register, started, step


async def test_claim_takes_due_runs_once_and_fences_them(store: Store) -> None:
    await register(store, ("wf", ()))
    run_ids = [await started(store) for _ in range(3)]
    first = await store.claim("r1", [APP], 2, LEASE_US)
    second = await store.claim("r2", [APP], 10, LEASE_US)
    assert len(first) == 2 and len(second) == 1
    assert {c.id for c in first + second} == set(run_ids)
    assert all(c.fence == 1 and c.workflow == "wf" and c.app == APP for c in first + second)
    assert await store.claim("r3", [APP], 10, LEASE_US) == []
    assert await store.claim("r1", ["other-app"], 10, LEASE_US) == []
    run = await store.get_run(first[0].id)
    assert run is not None and run.status == "running" and run.runner == "r1"


async def test_claimed_run_carries_its_event(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store, data={"n": 1})
    claimed = await claim_one(store)
    assert claimed.id == run_id and claimed.input == b'{"n":1}'
    assert claimed.event_name == "durablex/workflow.invoked" and claimed.parent_run_id is None
    assert claimed.event_ts_us == claimed.created_at_us


async def test_writes_with_a_stale_fence_are_refused(store: Store, clock: ManualClock) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    old = await claim_one(store, "r1", lease_us=1_000_000)
    await store.record_step(run_id, old.fence, step("a", 0, output=1))
    clock.advance(2)  # the lease expired: another runner takes the run
    new = await claim_one(store, "r2")
    assert new.fence == old.fence + 1
    with pytest.raises(LeaseLostError):
        await store.record_step(run_id, old.fence, step("b", 1, output=2))
    with pytest.raises(LeaseLostError):
        await store.complete_run(run_id, old.fence, b"1")
    with pytest.raises(LeaseLostError):
        await store.park_run(run_id, old.fence, "sleeping", None)
    await store.record_step(run_id, new.fence, step("b", 1, output=2))
    await store.complete_run(run_id, new.fence, b"3")
    run = await store.get_run(run_id)
    assert run is not None and run.status == "completed" and run.output == 3
    assert [s.id for s in run.steps] == ["a", "b"] and run.runner == "r2"


async def test_a_refused_write_does_not_undo_its_batch_neighbours(store: Store) -> None:
    await register(store, ("wf", ()))
    a, b = await started(store), await started(store)
    claimed = {c.id: c for c in await store.claim("r1", [APP], 10, LEASE_US)}
    good = store.record_step_nowait(a, claimed[a].fence, step("x", 0, output=1))
    bad = store.record_step_nowait(b, claimed[b].fence + 5, step("x", 0, output=1))
    await store.record_step(a, claimed[a].fence, step("y", 1, output=2))
    await good
    with pytest.raises(LeaseLostError):
        await bad
    assert [s.seq for s in await store.load_steps(a)] == [0, 1]
    assert await store.load_steps(b) == []


async def test_leases_renew_expire_and_release(store: Store, clock: ManualClock) -> None:
    await register(store, ("wf", ()))
    a, b = await started(store), await started(store)
    await store.claim("r1", [APP], 10, 1_000_000)
    assert await store.held_runs("r1", [a, b]) == {a, b}
    assert await store.held_runs("r2", [a, b]) == set()
    clock.advance(0.9)
    await store.renew_leases("r1", [a], 1_000_000)  # only the runs still executing
    clock.advance(0.5)
    taken = await store.claim("r2", [APP], 10, LEASE_US)
    assert [c.id for c in taken] == [b]
    assert await store.held_runs("r1", [a, b]) == {a}
    await store.release_runs("r1")
    run = await store.get_run(a)
    assert run is not None and run.status == "queued"
    assert [c.id for c in await store.claim("r3", [APP], 10, LEASE_US)] == [a]


async def test_release_run_requires_its_fence(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    claimed = await claim_one(store)
    await store.release_run(run_id, claimed.fence + 1)
    assert (await store.run_statuses([run_id])) == {run_id: "running"}
    await store.release_run(run_id, claimed.fence)
    assert (await store.run_statuses([run_id])) == {run_id: "queued"}


async def test_next_due_and_timers(store: Store, clock: ManualClock) -> None:
    await register(store, ("wf", ()))
    assert await store.next_due_us([APP]) is None
    run_id = await started(store)
    assert await store.next_due_us([APP]) == clock.now_us()
    claimed = await claim_one(store)
    due = clock.now_us() + 5_000_000
    await store.record_step(run_id, claimed.fence, step("nap", 0, kind="sleep", status="sleeping"))
    assert await store.park_run(run_id, claimed.fence, "sleeping", due) is True
    assert await store.next_due_us([APP]) == due
    assert await store.claim("r1", [APP], 10, LEASE_US) == []
    clock.advance(5)
    again = await claim_one(store)
    assert again.fence == claimed.fence + 1
    store.complete_sleep_nowait(run_id, again.fence, "nap")
    await store.complete_run(run_id, again.fence, None)
    run = await store.get_run(run_id)
    assert run is not None and run.steps[0].status == "completed"


async def test_runner_pin(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await store.start_run(APP, "wf", None, runner_pin="r2")
    assert await store.claim("r1", [APP], 10, LEASE_US) == []
    assert [c.id for c in await store.claim("r2", [APP], 10, LEASE_US)] == [run_id]


async def test_warnings_are_kept_once(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    claimed = await claim_one(store)
    for _ in range(2):
        await store.add_warning_nowait(run_id, claimed.fence, "careful")
    await store.release_run(run_id, claimed.fence)
    again = await claim_one(store)
    assert again.warnings == ("careful",)


async def test_a_run_ends_only_with_the_steps_it_requires(store: Store) -> None:
    """A pass queues a step's record without waiting and ends the run in a later write: the
    end must be refused when such a record is not stored, or a run could end without it."""
    await register(store, ("wf", ()))
    run_id = await started(store)
    claimed = await claim_one(store)
    await store.record_step(run_id, claimed.fence, step("a", 0, output=1))
    with pytest.raises(StoreError, match=r"\['b'\]"):
        await store.complete_run(run_id, claimed.fence, b"1", ["a", "b"])
    run = await store.get_run(run_id)
    assert run is not None and run.status == "running" and run.output is None
    queued = store.record_step_nowait(run_id, claimed.fence, step("b", 1, output=2))
    await store.complete_run(run_id, claimed.fence, b"2", ["a", "b"])
    assert queued.done() and queued.exception() is None
    run = await store.get_run(run_id)
    assert run is not None and run.status == "completed" and run.output == 2
    assert [s.id for s in run.steps] == ["a", "b"]


async def test_flush_commits_queued_records(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    claimed = await claim_one(store)
    queued = store.record_step_nowait(run_id, claimed.fence, step("a", 0, output=1))
    store.flush()
    await queued
    run = await store.get_run(run_id)
    assert run is not None and [(s.id, s.status, s.output) for s in run.steps] == [
        ("a", "completed", 1)
    ]


async def test_journals_of_a_claimed_batch_load_in_one_read(store: Store) -> None:
    await register(store, ("wf", ()))
    a, b, c = await started(store), await started(store), await started(store)
    claimed = {x.id: x for x in await store.claim("r1", [APP], 10, LEASE_US)}
    await store.record_step(a, claimed[a].fence, step("x", 0, output=1))
    await store.record_step(a, claimed[a].fence, step("y", 1, output=2))
    await store.record_step(c, claimed[c].fence, step("z", 0, output=3))
    journals = await store.load_journals([a, b, c])
    assert {k: [r.step_id for r in rows] for k, rows in journals.items()} == {
        a: ["x", "y"],
        b: [],
        c: ["z"],
    }
    assert journals[a] == await store.load_steps(a)


async def test_next_due_leaves_out_runs_pinned_to_another_runner(store: Store) -> None:
    """A runner must not see a run it can never claim as due, or it would wake for it
    again and again."""
    await register(store, ("wf", ()))
    await store.start_run(APP, "wf", None, runner_pin="other")
    assert await store.next_due_us([APP], "r1") is None
    assert await store.next_due_us([APP], "other") is not None
    assert await store.claim("r1", [APP], 10, LEASE_US) == []
    mine = await store.start_run(APP, "wf", None, runner_pin="r1")
    assert await store.next_due_us([APP], "r1") is not None
    assert [c.id for c in await store.claim("r1", [APP], 10, LEASE_US)] == [mine]


async def test_live_runners_counts_those_serving_the_apps(store: Store, clock: ManualClock) -> None:
    await register(store, ("wf", ()), runner="r1")
    await register(store, ("wf", ()), runner="r2")
    await store.register_runner("r3", "host", 1, ["other-app"], [])
    assert await store.live_runners([APP]) == 2
    assert await store.live_runners([APP, "other-app"]) == 3
    assert await store.live_runners(["nobody-serves-this"]) == 0
    await store.runner_stopped("r2")
    assert await store.live_runners([APP]) == 1
    clock.advance(31)  # r1 missed its heartbeats for longer than a runner is thought alive
    assert await store.live_runners([APP]) == 0
    await store.runner_heartbeat("r1")
    assert await store.live_runners([APP]) == 1


async def test_a_first_claim_has_fence_1_and_later_ones_do_not(store: Store) -> None:
    """Runners skip the journal read of a run claimed with fence 1: it must have no steps."""
    await register(store, ("wf", ()))
    run_id = await started(store)
    first = await claim_one(store)
    assert first.fence == 1 and await store.load_steps(run_id) == []
    await store.record_step(run_id, first.fence, step("a", 0, output=1))
    await store.release_run(run_id, first.fence)
    again = await claim_one(store)
    assert again.fence == 2 and [s.step_id for s in await store.load_steps(run_id)] == ["a"]


async def test_a_held_run_shows_sleeping_and_keeps_its_lease_until_the_grace_ends(
    store: Store, clock: ManualClock
) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    claimed = await claim_one(store, "r1")
    await store.record_step(run_id, claimed.fence, step("nap", 0, kind="sleep", status="sleeping"))
    until = clock.now_us() + 3_000_000
    assert await store.hold_run(run_id, claimed.fence, until) is True
    run = await store.get_run(run_id)
    assert run is not None and run.status == "sleeping" and run.runner == "r1"
    assert await store.held_runs("r1", [run_id]) == {run_id}
    assert await store.next_due_us([APP]) == until
    clock.advance(2)
    assert await store.claim("r2", [APP], 10, LEASE_US) == []  # r1 still holds it
    await store.resume_held_nowait(run_id, claimed.fence, LEASE_US)
    assert (await store.run_statuses([run_id])) == {run_id: "running"}
    await store.resume_held_nowait(run_id, claimed.fence, LEASE_US)  # once more: still ours, fine
    store.complete_sleep_nowait(run_id, claimed.fence, "nap")
    await store.complete_run(run_id, claimed.fence, b"1")
    run = await store.get_run(run_id)
    assert run is not None and run.status == "completed" and run.steps[0].status == "completed"


async def test_a_held_run_whose_runner_died_is_claimed_after_the_grace(
    store: Store, clock: ManualClock
) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    old = await claim_one(store, "r1")
    assert await store.hold_run(run_id, old.fence, clock.now_us() + 3_000_000) is True
    clock.advance(3)
    new = await claim_one(store, "r2")
    assert new.id == run_id and new.fence == old.fence + 1
    with pytest.raises(LeaseLostError):
        await store.resume_held_nowait(run_id, old.fence, LEASE_US)
    assert await store.held_runs("r1", [run_id]) == set()


async def test_held_runs_are_released_on_stop_and_cancellable(store: Store) -> None:
    await register(store, ("wf", ()))
    a, b = await started(store), await started(store)
    claimed = {c.id: c for c in await store.claim("r1", [APP], 10, LEASE_US)}
    for run_id in (a, b):
        assert await store.hold_run(run_id, claimed[run_id].fence, 10**18) is True
    assert await store.cancel_run(a) is True
    assert await store.held_runs("r1", [a, b]) == {b}
    with pytest.raises(LeaseLostError):
        await store.resume_held_nowait(a, claimed[a].fence, LEASE_US)
    await store.release_runs("r1")
    assert (await store.run_statuses([a, b])) == {a: "cancelled", b: "queued"}
    assert [c.id for c in await store.claim("r2", [APP], 10, LEASE_US)] == [b]


async def test_a_wake_up_during_the_pass_refuses_the_hold(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    claimed = await claim_one(store)
    row = step("wait", 0, kind="wait_for_event", status="waiting")
    await store.record_step(run_id, claimed.fence, row, waiter=WaiterWrite("go", None))
    sent = await store.send_event(NewEvent(new_id(), "go", None, None))
    assert sent.resumed == 1
    assert await store.hold_run(run_id, claimed.fence, 10**18) is False
    assert (await store.run_statuses([run_id])) == {run_id: "running"}
