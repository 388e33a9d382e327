"""Small builders for the store contract tests: registered workflows, claimed runs, steps."""

from __future__ import annotations

import orjson

from durablex.store.base import ClaimedRun, StepRow, Store, WorkflowRegistration

APP = "shop"
LEASE_US = 30_000_000


async def register(
    store: Store, *workflows: tuple[str, tuple[str, ...]], runner: str = "r1"
) -> None:
    regs = [WorkflowRegistration(app=APP, name=name, triggers=trig) for name, trig in workflows]
    await store.register_runner(runner, "host", 1, [APP], regs)


async def started(store: Store, workflow: str = "wf", data: object = None) -> str:
    payload = None if data is None else orjson.dumps(data)
    return await store.start_run(APP, workflow, payload)


async def claim_one(store: Store, runner: str = "r1", lease_us: int = LEASE_US) -> ClaimedRun:
    claimed = await store.claim(runner, [APP], 10, lease_us)
    assert len(claimed) == 1, claimed
    return claimed[0]


def step(
    step_id: str,
    seq: int,
    *,
    kind: str = "run",
    status: str = "completed",
    output: object = None,
    wake_at_us: int | None = None,
    child_run_id: str | None = None,
) -> StepRow:
    return StepRow(
        step_id=step_id,
        seq=seq,
        kind=kind,
        status=status,
        attempts=1 if kind == "run" else 0,
        output=None if output is None else orjson.dumps(output),
        wake_at_us=wake_at_us,
        child_run_id=child_run_id,
    )
