"""Many runs of a mixed workflow while the runner is SIGKILLed again and again."""

from __future__ import annotations

import random
import time

import pytest

from .harness import Harness

pytestmark = pytest.mark.slow

SEED = 1729
RUNS = 50
KILLS = 3
JITTER_MS = 60
CONCURRENCY = 16
# Step bodies that run to their end without any crash: per parent a, b1, b2, c; per child
# k1, k2; per listener heard.
BODIES = RUNS * 7
INVOKED = "durablex/workflow.invoked"


def test_fifty_runs_survive_three_sigkills_at_random_moments(harness: Harness) -> None:
    rng = random.Random(SEED)
    # Kill once this many step bodies have run to their end (so each kill lands amid work),
    # after a further random pause.
    marks = sorted(rng.sample(range(BODIES // 10, BODIES * 6 // 10), KILLS))
    pauses = [rng.uniform(0.0, 0.1) for _ in range(KILLS)]

    def ended() -> int:
        return sum(1 for e in harness.effects() if e.phase == "end")

    worker = harness.spawn("r0", jitter_ms=JITTER_MS, concurrency=CONCURRENCY)
    parents = {n: harness.client.start("mixed", {"n": n}).run_id for n in range(RUNS)}
    for number, (mark, pause) in enumerate(zip(marks, pauses, strict=True), start=1):
        harness.wait_until(lambda: ended() >= mark, 30, f"{mark} step bodies to end")  # noqa: B023
        time.sleep(pause)
        unfinished = [r for r in harness.client.list_runs(limit=1000) if not r.done]
        assert unfinished, (
            f"kill {number} came after all the work was done: {ended()} bodies ended, "
            f"{len(harness.client.list_runs(limit=1000))} runs"
        )
        harness.kill(worker)
        worker = harness.spawn(f"r{number}", jitter_ms=JITTER_MS, concurrency=CONCURRENCY)

    outputs = {n: harness.result(run_id, timeout=60) for n, run_id in parents.items()}
    parent_of = {run_id: n for n, run_id in parents.items()}
    for n, output in outputs.items():
        assert output["c"] == 5 * n + 3, (n, output)
    event_ids = {output["event_id"] for output in outputs.values()}
    assert len(event_ids) == RUNS

    children = harness.client.list_runs(workflow="mixed_child", limit=1000)
    assert sorted(c.parent_run_id or "" for c in children) == sorted(parents.values())
    for child in children:
        assert child.status == "completed"
        assert child.output == 2 * parent_of[child.parent_run_id or ""]
    child_ids = {c.id for c in children}
    for run_id in parents.values():
        steps = harness.steps(run_id)
        assert all(s.status == "completed" for s in steps.values()), run_id
        assert steps["kid"].child_run_id in child_ids
        assert steps["tell"].output in event_ids

    events = harness.client.list_events(name="mixed.done", limit=1000).events
    assert sorted(e.id for e in events) == sorted(event_ids)
    assert sorted(e.source_run_id or "" for e in events) == sorted(parents.values())
    invoked = harness.client.list_events(name=INVOKED, limit=1000).events
    assert len(invoked) == 2 * RUNS  # one per started parent, one per child

    listeners = harness.client.list_runs(workflow="mixed_listener", limit=1000)
    assert sorted(r.event_id or "" for r in listeners) == sorted(event_ids)
    # Listeners are not awaited by anyone: wait for each of them.
    assert sorted(harness.result(r.id) for r in listeners) == list(range(RUNS))

    everything = harness.client.list_runs(limit=1000)
    assert len(everything) == 3 * RUNS
    assert all(r.status == "completed" for r in everything)
    repeated = harness.check_exactly_once_after_commit()
    finished = {(e.run_id, e.step_id) for e in harness.effects() if e.phase == "end"}
    assert len(finished) == BODIES
    print(f"kills at {marks} bodies; {repeated} executions repeated after a kill")
