"""An injected ManualClock: month-long pauses complete in milliseconds of real time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import durablex
from durablex.core.clock import ManualClock

from .support import steps_by_id, wait_status

DAY = 86_400.0
START = datetime(2031, 3, 1, tzinfo=UTC)


def manual() -> ManualClock:
    return ManualClock(int(START.timestamp() * 1_000_000))


async def test_thirty_day_sleep_completes_when_the_clock_moves(db: str) -> None:
    clock = manual()
    app = durablex.App("a")

    @app.workflow("trial")
    async def trial(ctx: durablex.Context) -> Any:
        await ctx.step.run("start-trial", lambda: "started")
        await ctx.step.sleep("trial-period", "30d")
        await ctx.step.sleep_until("billing-day", START + timedelta(days=45))
        expired = await ctx.step.wait_for_event("upgrade", event="upgraded", timeout="7d")
        await ctx.step.run("bill", lambda: "billed")
        return {"upgraded": expired}

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("trial")
        run = await wait_status(client, handle.run_id, "sleeping")
        assert run.created_at == START
        assert run.wake_at == START + timedelta(days=30)
        clock.advance(29 * DAY)
        assert (await client.get_run(handle.run_id)).status == "sleeping"
        clock.advance(1 * DAY)
        run = await wait_status(client, handle.run_id, "sleeping")
        await _wait_wake(client, handle.run_id, START + timedelta(days=45))
        clock.advance(15 * DAY)
        run = await wait_status(client, handle.run_id, "waiting")
        assert run.wake_at == START + timedelta(days=52)
        clock.advance(7 * DAY)
        assert await handle.result(timeout=10) == {"upgraded": None}
        run = await client.get_run(handle.run_id)
    steps = steps_by_id(run)
    assert steps["trial-period"].ended_at is not None
    assert steps["trial-period"].ended_at >= START + timedelta(days=30)
    assert steps["upgrade"].output is None
    assert run.ended_at == START + timedelta(days=52)


async def _wait_wake(client: durablex.AsyncClient, run_id: str, wake: datetime) -> None:
    from .support import eventually

    async def check() -> bool:
        run = await client.get_run(run_id)
        return run.status == "sleeping" and run.wake_at == wake

    await eventually(check, what=f"run parked until {wake}")


async def test_timestamps_come_from_the_injected_clock(db: str) -> None:
    clock = manual()
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return ctx.event.ts.isoformat()

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == START.isoformat()
        run = await client.get_run(handle.run_id)
    assert run.created_at == START
    assert run.ended_at == START
    assert all(s.started_at == START for s in run.steps)


async def test_many_runs_sleeping_for_a_month(db: str) -> None:
    clock = manual()
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.sleep("month", timedelta(days=30))
        return ctx.data

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handles = [await client.start("wf", i) for i in range(20)]
        for h in handles:
            await wait_status(client, h.run_id, "sleeping")
        clock.advance(30 * DAY)
        assert [await h.result(timeout=10) for h in handles] == list(range(20))


def test_blocking_client_with_a_manual_clock(db: str) -> None:
    from .support import runner_in_thread

    clock = manual()
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.sleep("month", "30d")
        return "done"

    with runner_in_thread(app, db=db, clock=clock), durablex.Client(db, clock=clock) as client:
        handle = client.start("wf")
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while handle.status() != "sleeping":
            assert datetime.now(UTC) < deadline
            time.sleep(0.01)
        clock.advance(30 * DAY)
        assert handle.result(timeout=10) == "done"
