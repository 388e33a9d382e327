"""A runner paused (SIGSTOP) past its lease, then continued (SIGCONT), after another runner
took its run over and finished it: the paused runner's late writes are refused (fencing), so
nothing it does overwrites the new owner's work and no step is recorded twice."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recovery.harness import Harness

pytestmark = pytest.mark.slow


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    try:
        yield h
    finally:
        for worker in h.workers:  # never leave a stopped process behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.proc.pid, signal.SIGCONT)
        h.close()


def snapshot(db: Path, run_id: str) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {
            "run": conn.execute(
                "SELECT status, output, fence, ended_at FROM runs WHERE id = ?", (run_id,)
            ).fetchall(),
            "steps": conn.execute(
                "SELECT step_id, status, attempts, output, started_at, ended_at FROM steps"
                " WHERE run_id = ? ORDER BY step_id",
                (run_id,),
            ).fetchall(),
            "attempts": conn.execute(
                "SELECT * FROM attempts WHERE run_id = ? ORDER BY step_id, number", (run_id,)
            ).fetchall(),
        }


@pytest.mark.timeout(90)
def test_a_paused_runner_cannot_overwrite_the_runner_that_took_over(harness: Harness) -> None:
    # the stale runner is inside "slow" for 2 s (two leases) when it is paused
    stale = harness.spawn("stale", block=["slow"], block_seconds=2.0, lease="1s")
    run_id = harness.client.start("mid_step", {"x": 5}).run_id
    harness.wait_until(lambda: harness.began(run_id, "slow") == 1, 15, "slow to begin")
    os.kill(stale.proc.pid, signal.SIGSTOP)
    paused_at = time.time()

    harness.spawn("fresh", lease="1s")
    assert harness.result(run_id, timeout=30) == [1, 2, 5, 3]
    run = harness.client.get_run(run_id)
    assert run.runner == "fresh"
    assert (paused_at + 0.9) <= run.ended_at.timestamp()  # taken over only after the lease
    before = snapshot(harness.db, run_id)
    fresh_ends = harness.effects_of(run_id, "slow", "end")
    assert len(fresh_ends) == 1
    assert run.steps[2].output["token"] == fresh_ends[0].token

    os.kill(stale.proc.pid, signal.SIGCONT)
    # the stale runner's execution of "slow" now ends: its result must be refused
    harness.wait_until(
        lambda: len(harness.effects_of(run_id, "slow", "end")) == 2, 15, "the stale step to end"
    )
    time.sleep(1.0)  # time for the stale runner to try to record it and go on
    assert stale.alive, harness.logs()
    assert snapshot(harness.db, run_id) == before
    stale_token = harness.effects_of(run_id, "slow", "end")[1].token
    assert stale_token != fresh_ends[0].token
    # the stale pass went no further: it never began the next step
    assert harness.executions(run_id, "c") == (1, 1)
    assert harness.executions(run_id, "a") == (1, 1)

    # and the continued runner is healthy: it serves new runs
    harness.kill(harness.workers[1])
    assert harness.result(harness.client.start("mid_step", {"x": 6}).run_id, 30) == [1, 2, 6, 3]
