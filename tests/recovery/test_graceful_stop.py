"""SIGTERM: the runner exits 0 within its grace period and releases its runs at once."""

from __future__ import annotations

import time

import pytest

from .harness import Harness

pytestmark = pytest.mark.slow

GRACE = 1.0


def test_sigterm_mid_step_exits_within_grace_and_releases_the_run(harness: Harness) -> None:
    # A long lease: if the run were not released, another runner would wait 30 s for it.
    first = harness.spawn("r1", block=["slow"], lease="30s", grace=GRACE)
    run_id = harness.client.start("mid_step", {"x": 5}).run_id
    harness.wait_until(lambda: harness.began(run_id, "slow") == 1, 10, "the slow step to begin")

    code, elapsed = harness.terminate(first, timeout=GRACE + 10)
    assert code == 0, harness.logs()
    assert elapsed < GRACE + 3, f"took {elapsed:.2f}s to stop with a {GRACE}s grace period"
    run = harness.client.get_run(run_id)
    assert run.status == "queued", run.status

    started = time.monotonic()
    harness.spawn("r2", lease="30s")
    assert harness.result(run_id, timeout=15) == [1, 2, 5, 3]
    assert time.monotonic() - started < 5
    assert harness.executions(run_id, "a") == (1, 1)
    assert harness.executions(run_id, "b") == (1, 1)
    assert harness.executions(run_id, "slow") == (2, 1)
    assert harness.check_exactly_once_after_commit() == 1


def test_sigterm_lets_a_running_step_finish_within_grace(harness: Harness) -> None:
    first = harness.spawn("r1", block=["slow"], block_seconds=1.5, grace=8.0)
    run_id = harness.client.start("mid_step", {"x": 6}).run_id
    harness.wait_until(lambda: harness.began(run_id, "slow") == 1, 10, "the slow step to begin")

    code, elapsed = harness.terminate(first, timeout=15)
    assert code == 0, harness.logs()
    assert elapsed < 5
    run = harness.client.get_run(run_id)
    assert run.status == "completed" and run.output == [1, 2, 6, 3]
    for step_id in ("a", "b", "slow", "c"):
        assert harness.executions(run_id, step_id) == (1, 1), step_id
    assert harness.check_exactly_once_after_commit() == 0


def test_sigterm_leaves_parked_runs_parked(harness: Harness) -> None:
    first = harness.spawn("r1", grace=5.0)
    run_id = harness.client.start("sleeper", {"nap_ms": 60_000}).run_id
    harness.wait_until(lambda: harness.status(run_id) == "sleeping", 10, "the run to sleep")

    code, elapsed = harness.terminate(first, timeout=10)
    assert code == 0, harness.logs()
    assert elapsed < 3
    run = harness.client.get_run(run_id)
    assert run.status == "sleeping" and run.wake_at is not None
    assert harness.executions(run_id, "a") == (1, 1)


def test_leases_are_kept_during_the_grace_period(harness: Harness) -> None:
    # r1 finishes its step during a grace period longer than the lease; r2, alive meanwhile,
    # must not take the run over (that would run the step body a second time).
    first = harness.spawn("r1", block=["slow"], block_seconds=3.0, grace=8.0)
    run_id = harness.client.start("mid_step", {"x": 7}).run_id
    harness.wait_until(lambda: harness.began(run_id, "slow") == 1, 10, "the slow step to begin")
    harness.spawn("r2")

    code, elapsed = harness.terminate(first, timeout=15)
    assert code == 0, harness.logs()
    assert elapsed < 6
    assert harness.result(run_id) == [1, 2, 7, 3]
    for step_id in ("a", "b", "slow", "c"):
        assert harness.executions(run_id, step_id) == (1, 1), step_id
    assert harness.client.get_run(run_id).runner == "r1"
    assert harness.check_exactly_once_after_commit() == 0
