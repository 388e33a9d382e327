"""A runner SIGKILLed while runs are parked on an event (or its timeout), on a child run, or
right after an emit."""

from __future__ import annotations

import time

import pytest

from .harness import Harness, Worker

pytestmark = pytest.mark.slow


def _park_on_event(harness: Harness, key: str, block: tuple[str, ...] = ()) -> tuple[Worker, str]:
    worker = harness.spawn("r1", block=block)
    run_id = harness.client.start("waiter", {"key": key}).run_id
    harness.wait_until(lambda: harness.status(run_id) == "waiting", 10, "the run to wait")
    assert harness.steps(run_id)["w"].status == "waiting"
    return worker, run_id


def _check_waiter(harness: Harness, run_id: str, data: dict[str, object], after_runs: int) -> None:
    assert harness.result(run_id) == {"a": "ready", "got": data, "after": data}
    assert harness.executions(run_id, "a") == (1, 1)
    assert harness.executions(run_id, "after") == (after_runs, 1)
    steps = harness.steps(run_id)
    assert steps["w"].status == "completed"
    assert steps["w"].output == data
    assert harness.check_exactly_once_after_commit() == after_runs - 1


def test_event_sent_while_no_runner_runs_resumes_the_run(harness: Harness) -> None:
    worker, run_id = _park_on_event(harness, "k1")
    harness.kill(worker)

    other = harness.client.send("go", {"key": "k2", "n": 0})
    assert other.resumed == 0
    data = {"key": "k1", "n": 1}
    sent = harness.client.send("go", data)
    assert sent.resumed == 1 and sent.run_ids == []
    assert harness.status(run_id) == "queued"
    assert harness.steps(run_id)["w"].output == data

    harness.spawn("r2")
    _check_waiter(harness, run_id, data, after_runs=1)


def test_event_sent_before_the_kill_is_not_lost(harness: Harness) -> None:
    worker, run_id = _park_on_event(harness, "k1", block=("after",))
    data = {"key": "k1", "n": 2}
    assert harness.client.send("go", data).resumed == 1
    harness.wait_until(lambda: harness.began(run_id, "after") == 1, 10, "the run to resume")
    harness.kill(worker)

    harness.spawn("r2")
    _check_waiter(harness, run_id, data, after_runs=2)


def test_event_sent_after_the_restart_resumes_the_run(harness: Harness) -> None:
    worker, run_id = _park_on_event(harness, "k1")
    harness.kill(worker)
    harness.spawn("r2")
    assert harness.status(run_id) == "waiting"

    data = {"key": "k1", "n": 3}
    assert harness.client.send("go", data).resumed == 1
    _check_waiter(harness, run_id, data, after_runs=1)


def test_kill_while_the_child_runs_starts_exactly_one_child(harness: Harness) -> None:
    worker = harness.spawn("r1", block=["c2"])
    parent_id = harness.client.start("parent", {"n": 7}).run_id

    def child_in_step() -> str | None:
        children = harness.client.list_runs(workflow="child")
        if children and harness.began(children[0].id, "c2") == 1:
            return children[0].id
        return None

    child_id = harness.wait_until(child_in_step, 10, "the child to be in its step c2")
    assert harness.status(parent_id) == "waiting"
    harness.kill(worker)
    harness.spawn("r2")

    assert harness.result(parent_id) == {"a": "p", "child": {"sum": 77}, "z": "done"}
    children = harness.client.list_runs(workflow="child")
    assert [c.id for c in children] == [child_id]
    child = harness.client.get_run(child_id)
    assert child.status == "completed" and child.output == {"sum": 77}
    assert child.parent_run_id == parent_id
    kid = harness.steps(parent_id)["kid"]
    assert kid.child_run_id == child_id and kid.output == {"sum": 77}
    assert harness.executions(parent_id, "a") == (1, 1)
    assert harness.executions(child_id, "c1") == (1, 1)
    assert harness.executions(child_id, "c2") == (2, 1)
    assert harness.check_exactly_once_after_commit() == 1


def test_kill_right_after_an_emit_publishes_the_event_once(harness: Harness) -> None:
    worker = harness.spawn("r1", block=["b", "hear"])
    run_id = harness.client.start("emitter").run_id
    harness.wait_until(lambda: "announce" in harness.steps(run_id), 10, "the emit step")
    harness.kill(worker)
    harness.spawn("r2")

    output = harness.result(run_id)
    page = harness.client.list_events(name="announced")
    assert [e.id for e in page.events] == [output["event_id"]]
    event = page.events[0]
    assert event.data == {"source": run_id} and event.source_run_id == run_id
    listeners = harness.client.list_runs(workflow="listener")
    assert len(listeners) == 1 and list(event.started_run_ids) == [listeners[0].id]
    assert harness.result(listeners[0].id) == {"heard": run_id}
    assert output == {"a": "before-emit", "event_id": event.id, "b": "after-emit"}
    assert harness.steps(run_id)["announce"].output == event.id
    assert harness.executions(run_id, "a") == (1, 1)
    assert harness.executions(listeners[0].id, "hear")[1] == 1
    harness.check_exactly_once_after_commit()


def test_a_wait_that_timed_out_while_no_runner_ran_returns_none(harness: Harness) -> None:
    # The timeout is a moment in time, whether or not a runner is alive at that moment: an
    # event accepted after it must not be delivered to the wait.
    worker = harness.spawn("r1")
    run_id = harness.client.start("waiter", {"key": "k1", "timeout": "1500ms"}).run_id
    harness.wait_until(lambda: harness.status(run_id) == "waiting", 10, "the run to wait")
    harness.kill(worker)
    expires = harness.steps(run_id)["w"].wake_at
    assert expires is not None
    time.sleep(max(0.0, expires.timestamp() - time.time()) + 0.3)

    assert harness.client.send("go", {"key": "k1", "late": True}).resumed == 0
    harness.spawn("r2")
    assert harness.result(run_id) == {"a": "ready", "got": None, "after": None}
    w = harness.steps(run_id)["w"]
    assert w.status == "completed" and w.output is None
    assert harness.executions(run_id, "a") == (1, 1)
