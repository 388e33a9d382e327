"""sleep and sleep_until: duration and instant forms, recorded inputs, parking, waking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import durablex
from durablex.core.clock import ManualClock

from .support import steps_by_id, wait_status

HOUR_MS = 3_600_000


@pytest.mark.parametrize(
    ("duration", "ms"),
    [
        (5, 5),
        (2.5, 2.5),
        (timedelta(seconds=3), 3000),
        ("500ms", 500),
        ("10s", 10_000),
        ("5m", 300_000),
        ("1h", HOUR_MS),
        ("1h30m", 5_400_000),
        ("1.5h", 5_400_000),
        ("2d", 2 * 24 * HOUR_MS),
        ("1w", 7 * 24 * HOUR_MS),
    ],
)
async def test_sleep_forms_record_duration_and_wake_on_time(
    db: str, clock: ManualClock, duration: Any, ms: float
) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> str:
        await ctx.step.run("before", lambda: calls.append(1))
        await ctx.step.sleep("nap", duration)
        return "awake"

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        run = await wait_status(client, handle.run_id, "sleeping")
        step = steps_by_id(run)["nap"]
        assert step.kind == "sleep"
        assert step.status == "sleeping"
        assert step.input == {"duration_ms": ms}
        assert step.started_at is not None and step.wake_at is not None
        assert (step.wake_at - step.started_at) / timedelta(milliseconds=1) == pytest.approx(ms)
        assert run.wake_at == step.wake_at
        clock.advance(ms / 1000 - 0.001 if ms > 1 else 0)
        if ms > 1:
            assert (await client.get_run(handle.run_id)).status == "sleeping"
        clock.advance(0.002)
        assert await handle.result(timeout=10) == "awake"
        run = await client.get_run(handle.run_id)
    assert calls == [1]
    step = steps_by_id(run)["nap"]
    assert step.status == "completed"
    assert step.ended_at is not None


async def test_sleep_zero_completes_at_once(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> str:
        await ctx.step.sleep("none", 0)
        await ctx.step.sleep("none-td", timedelta(0))
        return "ok"

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "ok"
        run = await client.get_run(handle.run_id)
    assert [(s.id, s.status, s.input) for s in run.steps] == [
        ("none", "completed", {"duration_ms": 0}),
        ("none-td", "completed", {"duration_ms": 0}),
    ]


BASE = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (BASE + timedelta(hours=2), "2030-01-01T14:00:00Z"),
        (datetime(2030, 1, 1, 14, 0, 0), "2030-01-01T14:00:00Z"),  # naive is UTC
        (datetime.fromisoformat("2030-01-01T16:00:00+02:00"), "2030-01-01T14:00:00Z"),
        ("2030-01-01T14:00:00Z", "2030-01-01T14:00:00Z"),
        ("2030-01-01T14:00:00", "2030-01-01T14:00:00Z"),  # no offset is UTC
        ("2030-01-01T15:00:00+01:00", "2030-01-01T14:00:00Z"),
        (int((BASE + timedelta(hours=2)).timestamp() * 1000), "2030-01-01T14:00:00Z"),
        (float((BASE + timedelta(hours=2)).timestamp() * 1000), "2030-01-01T14:00:00Z"),
    ],
)
async def test_sleep_until_forms(db: str, at: Any, expected: str) -> None:
    clock = ManualClock(int(BASE.timestamp() * 1_000_000))
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> str:
        await ctx.step.sleep_until("renewal", at)
        return "renewed"

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        run = await wait_status(client, handle.run_id, "sleeping")
        step = steps_by_id(run)["renewal"]
        assert step.kind == "sleep_until"
        assert step.input == {"until": expected}
        assert step.wake_at == BASE + timedelta(hours=2)
        clock.advance(2 * 3600 - 1)
        assert (await client.get_run(handle.run_id)).status == "sleeping"
        clock.advance(1)
        assert await handle.result(timeout=10) == "renewed"


async def test_sleep_until_in_the_past_wakes_at_once_and_is_recorded(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> str:
        await ctx.step.sleep_until("past", datetime(2000, 1, 1, tzinfo=UTC))
        await ctx.step.sleep_until("epoch", 0)
        return "ok"

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "ok"
        run = await client.get_run(handle.run_id)
    steps = steps_by_id(run)
    assert steps["past"].status == "completed"
    assert steps["past"].input == {"until": "2000-01-01T00:00:00Z"}
    assert steps["epoch"].input == {"until": "1970-01-01T00:00:00Z"}


async def test_sleeping_run_holds_no_runner_slot_and_survives_restart(
    db: str, clock: ManualClock
) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> str:
        await ctx.step.run("once", lambda: calls.append(1))
        await ctx.step.sleep("long", "3d")
        await ctx.step.run("after", lambda: calls.append(2))
        return "done"

    async with durablex.AsyncClient(db, clock=clock) as client:
        async with durablex.Runner(app, db=db, clock=clock) as runner:
            handle = await client.start("wf")
            await wait_status(client, handle.run_id, "sleeping")
            assert runner.active_runs == 0
        clock.advance(3 * 86400)
        async with durablex.Runner(app, db=db, clock=clock, name="second"):
            assert await handle.result(timeout=10) == "done"
    assert calls == [1, 2]


async def test_sequential_sleeps_each_recorded(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> int:
        for i in range(3):
            await ctx.step.sleep(f"s{i}", 2)
        return 3

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == 3
        run = await client.get_run(handle.run_id)
    assert [(s.id, s.status) for s in run.steps] == [
        ("s0", "completed"),
        ("s1", "completed"),
        ("s2", "completed"),
    ]
