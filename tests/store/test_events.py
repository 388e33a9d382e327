"""Events: triggers, waiters resolved by one acceptance, match filters, and wake-ups."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from durablex.core.clock import ManualClock
from durablex.core.ids import new_id
from durablex.core.matching import matches
from durablex.store.base import ClaimedRun, NewEvent, Store, WaiterWrite

from .helpers import APP, LEASE_US, claim_one, register, started, step


def event(name: str, data: Any = None, *, event_id: str | None = None) -> NewEvent:
    payload = None if data is None else orjson.dumps(data)
    return NewEvent(event_id=event_id or new_id(), name=name, data=payload, app=None)


async def _waiting_run(
    store: Store, name: str, match: dict[str, Any] | None = None, *, wake_at_us: int | None = None
) -> tuple[str, ClaimedRun]:
    run_id = await started(store)
    held = next(c for c in await store.claim("r1", [APP], 100, LEASE_US) if c.id == run_id)
    row = step("wait", 0, kind="wait_for_event", status="waiting", wake_at_us=wake_at_us)
    await store.record_step(run_id, held.fence, row, waiter=WaiterWrite(name, match))
    assert await store.park_run(run_id, held.fence, "waiting", wake_at_us) is True
    return run_id, held


async def test_triggers_start_runs_and_a_repeated_id_is_accepted_once(store: Store) -> None:
    await register(store, ("on_order", ("order",)), ("audit", ("order", "refund")))
    first = await store.send_event(event("order", {"id": 1}, event_id="e-1"))
    assert len(first.run_ids) == 2 and first.resumed == 0
    again = await store.send_event(event("order", {"id": 2}, event_id="e-1"))
    assert again == first
    assert await store.count_runs() == 2
    stored = await store.get_event("e-1")
    assert stored is not None and stored.data == {"id": 1}
    assert list(stored.started_run_ids) == first.run_ids
    run = await store.get_run(first.run_ids[0])
    assert run is not None and run.input == {"id": 1} and run.event_name == "order"
    assert (await store.send_event(event("nothing"))).run_ids == []


async def test_one_event_resumes_every_matching_waiter(store: Store) -> None:
    await register(store, ("wf", ()))
    plain = [(await _waiting_run(store, "paid"))[0] for _ in range(3)]
    mine, _ = await _waiting_run(store, "paid", {"order.id": 7})
    other, _ = await _waiting_run(store, "paid", {"order.id": 8})
    elsewhere, _ = await _waiting_run(store, "shipped")
    result = await store.send_event(event("paid", {"order": {"id": 7}}, event_id="pay-7"))
    assert result.resumed == 4
    statuses = await store.run_statuses([*plain, mine, other, elsewhere])
    assert [statuses[r] for r in plain] == ["queued"] * 3
    assert statuses[mine] == "queued"
    assert statuses[other] == "waiting" and statuses[elsewhere] == "waiting"
    run = await store.get_run(mine)
    assert run is not None and run.steps[0].status == "completed"
    assert run.steps[0].output == {"order": {"id": 7}}
    assert sorted(await store.resumed_by_event("pay-7")) == sorted([*plain, mine])
    stored = await store.get_event("pay-7")
    assert stored is not None and stored.resumed == 4
    # resolved waiters are gone: a second event resumes only the one still waiting
    assert (await store.send_event(event("paid", {"order": {"id": 8}}))).resumed == 1


async def test_an_event_for_a_held_run_sets_wake_pending(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    held = await claim_one(store)
    row = step("wait", 0, kind="wait_for_event", status="waiting")
    await store.record_step(run_id, held.fence, row, waiter=WaiterWrite("go", None))
    assert (await store.send_event(event("go", 1))).resumed == 1
    assert await store.park_run(run_id, held.fence, "waiting", None) is False
    assert (await store.run_statuses([run_id]))[run_id] == "running"
    assert await store.park_run(run_id, held.fence, "sleeping", None) is True


async def test_a_wait_past_its_timeout_is_not_resolved(store: Store, clock: ManualClock) -> None:
    await register(store, ("wf", ()))
    due = clock.now_us() + 1_000_000
    run_id, _ = await _waiting_run(store, "late", wake_at_us=due)
    clock.advance(2)
    assert (await store.send_event(event("late", 1))).resumed == 0
    held = await claim_one(store)
    assert await store.resolve_wait_timeout(run_id, held.fence, "wait", "late") == (
        "completed",
        None,
    )


async def test_wait_timeout_loses_to_an_earlier_event(store: Store) -> None:
    await register(store, ("wf", ()))
    run_id = await started(store)
    held = await claim_one(store)
    row = step("wait", 0, kind="wait_for_event", status="waiting")
    await store.record_step(run_id, held.fence, row, waiter=WaiterWrite("go", None))
    await store.send_event(event("go", {"v": 1}))
    assert await store.resolve_wait_timeout(run_id, held.fence, "wait", "go") == (
        "completed",
        b'{"v":1}',
    )


async def test_events_for_an_app_reach_only_that_app(store: Store) -> None:
    await register(store, ("wf", ("ping",)))
    waiting, _ = await _waiting_run(store, "ping")
    scoped = NewEvent(event_id=new_id(), name="ping", data=None, app="another-app")
    result = await store.send_event(scoped)
    assert result.run_ids == [] and result.resumed == 0
    assert (await store.run_statuses([waiting]))[waiting] == "waiting"


# JSON equality of match filters: the store must agree with durablex.core.matching exactly.
CASES: list[tuple[dict[str, Any], Any]] = [
    ({"a": 1}, {"a": 1.0}),
    ({"a": 1}, {"a": True}),
    ({"a": True}, {"a": 1}),
    ({"a": False}, {"a": 0}),
    ({"a": None}, {"a": None}),
    ({"a": None}, {}),
    ({"a": "1"}, {"a": 1}),
    ({"a.b": [1, 2]}, {"a": {"b": [1.0, 2]}}),
    ({"a.b": [1, 2]}, {"a": {"b": [2, 1]}}),
    ({"a.b": {"x": 1}}, {"a": {"b": {"x": 1, "y": 2}}}),
    ({"a.b": {"x": True}}, {"a": {"b": {"x": True}}}),
    ({"items.0.id": 5}, {"items": [{"id": 5}]}),
    ({"items.1": 5}, {"items": [4, 5]}),
    ({"items.-1": 5}, {"items": [4, 5]}),
    ({"items.01": 5}, {"items": [4, 5]}),
    ({"items.+1": 5}, {"items": [4, 5]}),
    ({"items. 1": 5}, {"items": [4, 5]}),
    ({"items.9": 5}, {"items": [4, 5]}),
    ({"0": "k"}, {"0": "k"}),
    ({"0": "k"}, ["k"]),
    ({"a": "x\x00y"}, {"a": "x\x00y"}),
    ({"a": "x"}, {"a": "x", "nul": "\x00"}),
    ({"big": 2**60}, {"big": 2**60}),
    ({"big": 2**60}, {"big": float(2**60)}),
    ({"big": 10**18 + 1}, {"big": 1e18}),
    ({"f": 0.1}, {"f": 0.1}),
    # equal as Python compares them; the float's shortest text is not the integer's
    ({"f": 4.611686018427389e18}, {"f": 4611686018427388928}),
    ({"f": 4611686018427388928}, {"f": 4.611686018427389e18}),
    ({"s": "é"}, {"s": "é"}),
    ({"a": 1, "b": 2}, {"a": 1, "b": 3}),
    ({"a": 1, "b": 2}, {"a": 1.0, "b": 2}),
    ({"deep.x.y.z": []}, {"deep": {"x": {"y": {"z": []}}}}),
    ({"a": []}, {"a": {}}),
    ({"a.b": 1}, {"a": "b"}),
    ({"a": 1}, None),
    ({"a": 1}, 5),
]


@pytest.mark.parametrize(("match", "data"), CASES)
async def test_match_has_the_json_equality_of_the_engine(
    store: Store, match: dict[str, Any], data: Any
) -> None:
    await register(store, ("wf", ()))
    run_id, _ = await _waiting_run(store, "m", match)
    result = await store.send_event(event("m", data))
    expected = matches(match, data)
    assert result.resumed == int(expected), (match, data, expected)
    status = (await store.run_statuses([run_id]))[run_id]
    assert status == ("queued" if expected else "waiting")
