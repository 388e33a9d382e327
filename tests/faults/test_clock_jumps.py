"""The wall clock jumps forward and back (an injected ManualClock, ``set_us``).

A backward jump wakes no sleeper and no wait early and loses no run: parked runs stay
parked, events still reach their waiters, runs started after the jump run at once. A forward
jump wakes every sleeper and times out every wait that is now due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import durablex
from durablex.core.clock import ManualClock
from pgtest import fresh_database

T0 = 1_900_000_000_000_000
MINUTE = 60_000_000
HOUR = 60 * MINUTE

app = durablex.App("jumps")


@app.workflow("nap")
async def nap(ctx: durablex.Context) -> Any:
    await ctx.step.sleep("nap", "10m")
    return await ctx.step.run("after", lambda: "woke")


@app.workflow("wait")
async def wait(ctx: durablex.Context) -> Any:
    got = await ctx.step.wait_for_event("w", event="ping", timeout="10m", match=ctx.data)
    return await ctx.step.run("after", lambda: got)


@app.workflow("quick")
async def quick(ctx: durablex.Context) -> Any:
    return await ctx.step.run("one", lambda: ctx.data)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/x.db"
        return
    with fresh_database() as url:
        yield url


async def status_of(client: durablex.AsyncClient, run_id: str) -> str:
    return (await client.get_run(run_id)).status


async def until_status(client: durablex.AsyncClient, run_id: str, *wanted: str) -> None:
    for _ in range(500):
        if await status_of(client, run_id) in wanted:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run_id} never became {wanted}: {await status_of(client, run_id)}")


@pytest.mark.timeout(60)
async def test_backward_and_forward_jumps(db: str) -> None:
    clock = ManualClock(T0)
    async with (
        durablex.Runner(app, db=db, clock=clock, name="jumper") as _runner,
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        sleeper = await client.start("nap")
        waiter = await client.start("wait", {"k": 1})
        timing_out = await client.start("wait", {"k": 2})
        await until_status(client, sleeper.run_id, "sleeping")
        await until_status(client, waiter.run_id, "waiting")
        await until_status(client, timing_out.run_id, "waiting")

        # back an hour: nothing wakes, nothing is lost
        clock.set_us(T0 - HOUR)
        await asyncio.sleep(0.5)
        assert await status_of(client, sleeper.run_id) == "sleeping"
        assert await status_of(client, waiter.run_id) == "waiting"
        fresh = await client.start("quick", {"q": 1})
        assert await fresh.result(timeout=10) == {"q": 1}
        # an event accepted now (its time before the wait's start) still resumes the waiter
        # that parked before it
        sent = await client.send("ping", {"k": 1})
        assert sent.resumed == 1
        assert await waiter.result(timeout=10) == {"k": 1}

        # forward, but not past the original deadlines: still asleep
        clock.set_us(T0 + 9 * MINUTE)
        await asyncio.sleep(0.5)
        assert await status_of(client, sleeper.run_id) == "sleeping"
        assert await status_of(client, timing_out.run_id) == "waiting"

        # forward past them: the sleeper wakes, the other wait times out
        clock.set_us(T0 + 11 * MINUTE)
        assert await sleeper.result(timeout=10) == "woke"
        assert await timing_out.result(timeout=10) is None
        run = await client.get_run(sleeper.run_id)
        assert [s.status for s in run.steps] == ["completed", "completed"]


@pytest.mark.timeout(60)
async def test_a_run_queued_before_a_backward_jump_is_delayed_not_lost(db: str) -> None:
    """A known limit (docs/reliability.md): a run is due at the time it was queued, by the
    clock of then; after a backward jump it waits until the clock is back at that time."""
    clock = ManualClock(T0)
    async with durablex.Runner(app, db=db, clock=clock, name="registers"):
        pass  # the workflows are known from now on
    async with durablex.AsyncClient(db, clock=clock) as client:
        queued = await client.start("quick", {"q": 2})
        clock.set_us(T0 - MINUTE)
        async with durablex.Runner(app, db=db, clock=clock, name="late") as _runner:
            fresh = await client.start("quick", {"q": 3})
            assert await fresh.result(timeout=10) == {"q": 3}
            assert await status_of(client, queued.run_id) == "queued"
            clock.set_us(T0)
            assert await queued.result(timeout=10) == {"q": 2}
