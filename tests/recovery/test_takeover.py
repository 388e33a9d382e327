"""Two runners on one database: leases keep a live runner's runs, and a dead one's move over."""

from __future__ import annotations

import time

import pytest

from .harness import Harness

pytestmark = pytest.mark.slow


def test_a_live_runner_keeps_its_lease_through_a_long_step(harness: Harness) -> None:
    harness.spawn("r1", block=["slow"], block_seconds=3.0)  # 3 leases long
    run_id = harness.client.start("mid_step", {"x": 8}).run_id
    harness.wait_until(lambda: harness.began(run_id, "slow") == 1, 10, "the slow step to begin")
    harness.spawn("r2")

    assert harness.result(run_id) == [1, 2, 8, 3]
    for step_id in ("a", "b", "slow", "c"):
        assert harness.executions(run_id, step_id) == (1, 1), step_id
    run = harness.client.get_run(run_id)
    assert run.runner == "r1"
    assert run.steps[2].attempts == 1
    assert harness.check_exactly_once_after_commit() == 0


def test_a_surviving_runner_takes_over_once_the_lease_expires(harness: Harness) -> None:
    first = harness.spawn("r1", block=["slow"])
    run_id = harness.client.start("mid_step", {"x": 9}).run_id
    harness.wait_until(lambda: harness.began(run_id, "slow") == 1, 10, "the slow step to begin")
    harness.spawn("r2")
    time.sleep(1.5)  # r1 renews its 1 s lease meanwhile: r2 must leave the run alone
    assert harness.began(run_id, "slow") == 1
    assert harness.client.get_run(run_id).runner == "r1"

    harness.kill(first)
    killed_at = harness.stops[-1]
    assert harness.result(run_id) == [1, 2, 9, 3]
    assert harness.client.get_run(run_id).runner == "r2"
    second = harness.effects_of(run_id, "slow", "begin")[1]
    assert 0 < second.ts - killed_at < 3.0
    assert harness.executions(run_id, "slow") == (2, 1)
    assert harness.check_exactly_once_after_commit() == 1


def test_a_retry_wait_survives_a_kill_and_fires_on_time(harness: Harness) -> None:
    first = harness.spawn("r1")
    run_id = harness.client.start("flaky", {"retry_after": "2s"}).run_id
    harness.wait_until(lambda: harness.status(run_id) == "sleeping", 10, "the retry wait")
    step = harness.steps(run_id)["f"]
    assert step.status == "sleeping" and step.attempts == 1

    harness.kill(first)
    harness.spawn("r2")
    assert harness.result(run_id) == ["first", "second"]

    (failed,) = harness.effects_of(run_id, "f", "fail")
    begins = harness.effects_of(run_id, "f", "begin")
    assert len(begins) == 2 and len(harness.effects_of(run_id, "f", "end")) == 1
    assert 1.9 <= begins[1].ts - failed.ts < 3.5
    assert harness.executions(run_id, "a") == (1, 1)
    step = harness.steps(run_id)["f"]
    assert step.status == "completed" and step.attempts == 2
    assert [a.error["type"] if a.error else None for a in step.attempt_log] == [
        "RetryAfterError",
        None,
    ]
    assert harness.check_exactly_once_after_commit() == 0


def test_a_runner_restarted_under_the_same_name_recovers_its_runs(harness: Harness) -> None:
    # The new process must not mistake the dead one's leases for its own (and renew them
    # forever): they expire, and it claims the runs like any other runner would.
    first = harness.spawn("worker", block=["slow", "c2"])
    mid = harness.client.start("mid_step", {"x": 10}).run_id
    parent = harness.client.start("parent", {"n": 2}).run_id
    harness.wait_until(lambda: harness.began(mid, "slow") == 1, 10, "the slow step to begin")
    harness.wait_until(
        lambda: any(harness.began(c.id, "c2") for c in harness.client.list_runs(workflow="child")),
        10,
        "the child's step c2 to begin",
    )
    harness.kill(first)
    harness.spawn("worker")

    assert harness.result(mid) == [1, 2, 10, 3]
    assert harness.result(parent) == {"a": "p", "child": {"sum": 22}, "z": "done"}
    assert len(harness.client.list_runs(workflow="child")) == 1
    assert harness.check_exactly_once_after_commit() == 2
