"""A runner SIGKILLed in the middle of a step, a sleep, or a parallel batch."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

import durablex

from .harness import Harness

pytestmark = pytest.mark.slow


def wait_for_slow_step(harness: Harness, run_id: str) -> None:
    """Until mid_step's "slow" step is recorded as running (its body blocks there)."""

    def slow_running() -> bool:
        slow = harness.steps(run_id).get("slow")
        return slow is not None and slow.status == "running"

    harness.wait_until(slow_running, 10, "the slow step to be recorded as running")


def assert_only_slow_ran_again(harness: Harness, run_id: str) -> None:
    """mid_step's steps ran once each, but "slow", which the kill interrupted."""
    assert harness.executions(run_id, "a") == (1, 1)
    assert harness.executions(run_id, "b") == (1, 1)
    assert harness.executions(run_id, "slow") == (2, 1)  # at least once: the killed attempt
    assert harness.executions(run_id, "c") == (1, 1)


def test_kill_mid_step_reruns_only_the_interrupted_step(harness: Harness) -> None:
    first = harness.spawn("r1", block=["slow"])
    run_id = harness.client.start("mid_step", {"x": 42}).run_id

    wait_for_slow_step(harness, run_id)
    assert harness.began(run_id, "slow") == 1
    before = harness.steps(run_id)
    assert before["a"].status == before["b"].status == "completed"

    harness.kill(first)
    assert harness.status(run_id) == "running"  # still leased by the dead runner
    harness.spawn("r2")

    assert harness.result(run_id) == [1, 2, 42, 3]
    assert_only_slow_ran_again(harness, run_id)
    steps = harness.steps(run_id)
    assert [s.id for s in harness.client.get_run(run_id).steps] == ["a", "b", "slow", "c"]
    assert all(s.status == "completed" for s in steps.values())
    assert steps["slow"].attempts == 2
    log = steps["slow"].attempt_log
    assert [a.error["type"] if a.error else None for a in log] == ["Interrupted", None]
    assert steps["a"].attempts == steps["b"].attempts == steps["c"].attempts == 1
    assert harness.check_exactly_once_after_commit() == 1


def test_kill_mid_step_of_a_run_handed_over_as_it_started(harness: Harness) -> None:
    """A run started beside a runner goes to that runner in its start transaction, with no
    claim: killed in the middle of its step, it is taken over when the lease ends, as any
    claimed run, and its completed steps are not run again."""
    note = harness.root / "started.txt"
    first = harness.spawn(
        "r1",
        block=["slow"],
        extra=["--start-here", "mid_step", "--input", '{"x": 7}', "--note", str(note)],
    )
    harness.wait_until(note.exists, 15, "the in-process start")
    run_id, status = note.read_text().split()
    assert status == "running"  # the runner had it when start() returned

    wait_for_slow_step(harness, run_id)
    harness.kill(first)
    assert harness.status(run_id) == "running"  # still leased by the dead runner
    harness.spawn("r2")

    assert harness.result(run_id) == [1, 2, 7, 3]
    assert_only_slow_ran_again(harness, run_id)
    assert harness.client.get_run(run_id).runner == "r2"
    assert harness.check_exactly_once_after_commit() == 1


def test_kill_before_a_begun_runs_start_commits_leaves_no_trace_of_it(harness: Harness) -> None:
    """A run started beside its runner is begun before its start commits
    (tests/engine/test_begun_starts.py). Killed while its step's body holds the event loop,
    before that commit: ``start()`` never returned, nothing of the run is stored, and no runner
    ever runs it; its body ran once, as a body whose result was never committed may."""
    note = harness.root / "started.txt"
    first = harness.spawn(
        "r1", block=["hog"], extra=["--start-here", "loop_hog", "--note", str(note)]
    )
    began = harness.wait_until(
        lambda: [e for e in harness.effects() if e.step_id == "hog"], 15, "the body to begin"
    )
    run_id = began[0].run_id
    harness.kill(first)
    assert not note.exists()  # start() had not returned
    with pytest.raises(durablex.RunNotFoundError):
        harness.client.get_run(run_id)
    assert harness.client.list_runs(workflow="loop_hog") == []

    harness.spawn("r2")
    time.sleep(2.5)  # more than the dead runner's lease (1 s) and a claim round after it
    assert harness.client.list_runs(workflow="loop_hog") == []
    assert harness.executions(run_id, "hog") == (1, 0)


def test_kill_mid_sleep_wakes_on_time_on_another_runner(harness: Harness) -> None:
    first = harness.spawn("r1")
    run_id = harness.client.start("sleeper", {"nap_ms": 2500}).run_id
    harness.wait_until(lambda: harness.status(run_id) == "sleeping", 10, "the run to sleep")
    nap = harness.steps(run_id)["nap"]
    assert nap.status == "sleeping" and nap.wake_at is not None
    assert nap.started_at is not None
    assert nap.wake_at - nap.started_at == timedelta(milliseconds=2500)

    harness.kill(first)
    assert harness.status(run_id) == "sleeping"
    harness.spawn("r2")

    assert harness.result(run_id) == ["before", "after"]
    assert harness.executions(run_id, "a") == (1, 1)
    assert harness.executions(run_id, "b") == (1, 1)
    (b_begin,) = [e for e in harness.effects() if e.step_id == "b" and e.phase == "begin"]
    lateness = b_begin.ts - nap.wake_at.timestamp()
    assert 0 <= lateness < 1.5, f"woke {lateness:.3f}s after the sleep's end"
    steps = harness.steps(run_id)
    assert steps["nap"].status == "completed"
    assert steps["b"].after == ["nap"]
    assert harness.check_exactly_once_after_commit() == 0


def test_kill_mid_parallel_batch_keeps_the_completed_branches(harness: Harness) -> None:
    slow = [f"p{i}" for i in range(5, 10)]
    fast = [f"p{i}" for i in range(5)]
    first = harness.spawn("r1", block=slow)
    run_id = harness.client.start("fanout").run_id

    def batch_in_flight() -> bool:
        steps = harness.steps(run_id)
        done = all(s in steps and steps[s].status == "completed" for s in fast)
        return done and all(harness.began(run_id, s) == 1 for s in slow)

    harness.wait_until(batch_in_flight, 10, "the fast branches to commit, the slow to start")
    harness.kill(first)
    harness.spawn("r2")

    squares = [i * i for i in range(10)]
    assert harness.result(run_id) == {"values": squares, "total": sum(squares)}
    for step_id in fast:
        assert harness.executions(run_id, step_id) == (1, 1), step_id
    for step_id in slow:
        assert harness.executions(run_id, step_id) == (2, 1), step_id
    assert harness.executions(run_id, "total") == (1, 1)
    steps = harness.steps(run_id)
    assert sorted(steps["total"].after) == sorted(fast + slow)
    assert harness.check_exactly_once_after_commit() == len(slow)
