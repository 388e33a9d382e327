"""Parallel steps: gather and TaskGroup, failure cancels siblings, all-settled, parallel parks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import durablex
from durablex.core.clock import ManualClock

from .support import REPLAY_SLEEP_MS, steps_by_id, wait_status


async def test_gathered_steps_start_together_and_keep_their_results(db: str) -> None:
    app = durablex.App("a")
    calls: list[str] = []

    def fetch(name: str, barrier: asyncio.Barrier) -> Any:
        async def fn() -> str:
            calls.append(name)
            # only passes if all three steps are running at the same time
            await asyncio.wait_for(barrier.wait(), timeout=10)
            return name.upper()

        return fn

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        barrier = asyncio.Barrier(3)
        results = await asyncio.gather(
            ctx.step.run("user", fetch("user", barrier)),
            ctx.step.run("prefs", fetch("prefs", barrier)),
            ctx.step.run("plan", fetch("plan", barrier)),
        )
        await ctx.step.sleep("replay", REPLAY_SLEEP_MS)
        return results

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == ["USER", "PREFS", "PLAN"]
        run = await client.get_run(handle.run_id)
    assert sorted(calls) == ["plan", "prefs", "user"]
    steps = steps_by_id(run)
    assert {k: s.output for k, s in steps.items() if s.kind == "run"} == {
        "user": "USER",
        "prefs": "PREFS",
        "plan": "PLAN",
    }
    assert [s.id for s in run.steps][:3] == ["user", "prefs", "plan"]  # the order they started


async def test_task_group_steps_run_concurrently(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        barrier = asyncio.Barrier(2)

        async def meet(label: str) -> str:
            await asyncio.wait_for(barrier.wait(), timeout=10)
            return label

        async with asyncio.TaskGroup() as tg:
            one = tg.create_task(ctx.step.run("one", lambda: meet("1")))
            two = tg.create_task(ctx.step.run("two", lambda: meet("2")))
        return [one.result(), two.result()]

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == ["1", "2"]


async def test_one_failure_fails_run_and_cancels_running_sibling(db: str) -> None:
    app = durablex.App("a")
    finished: list[str] = []

    async def slow() -> str:
        await asyncio.sleep(10)
        finished.append("slow")
        return "slow"

    def bad() -> None:
        raise ValueError("nope")

    @app.workflow("wf", retries=1, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        return await asyncio.gather(
            ctx.step.run("slow", slow),
            ctx.step.run("quick", lambda: "quick"),
            ctx.step.run("bad", bad),
        )

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=8)
        # the failure and the cancellation are one commit, made before result() raised
        run = await client.get_run(handle.run_id)
    assert info.value.error["type"] == "StepFailedError"
    steps = steps_by_id(run)
    assert steps["bad"].status == "failed"
    assert steps["bad"].attempts == 2
    assert steps["quick"].status == "completed"
    assert steps["slow"].status == "cancelled"
    assert steps["slow"].ended_at is not None
    assert run.status == "failed"
    assert finished == []


async def test_failure_cancels_sleeping_and_waiting_siblings(db: str) -> None:
    app = durablex.App("a")

    async def bad_later() -> None:
        await asyncio.sleep(0.05)
        raise ValueError("late failure")

    @app.workflow("wf", retries=0)
    async def wf(ctx: durablex.Context) -> Any:
        return await asyncio.gather(
            ctx.step.sleep("nap", "1h"),
            ctx.step.wait_for_event("w", event="never", timeout="1h"),
            ctx.step.run("bad", bad_later),
        )

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError):
            await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
        steps = steps_by_id(run)
        assert steps["bad"].status == "failed"
        assert steps["nap"].status == "cancelled"
        assert steps["w"].status == "cancelled"
        assert (await client.send("never")).resumed == 0


async def test_a_completed_run_cancels_the_steps_it_left_unfinished(db: str) -> None:
    """A workflow may return while steps it did not await still run, sleep or wait: the run's
    end records them cancelled (a running one too, before its running marker was written) and
    removes the waiter, so a later event resumes nothing."""
    app = durablex.App("a")
    started = asyncio.Event()
    left: list[asyncio.Future[Any]] = []

    async def forever() -> None:
        started.set()
        await asyncio.sleep(10)

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> str:
        left.append(asyncio.ensure_future(ctx.step.run("forever", forever)))
        left.append(asyncio.ensure_future(ctx.step.sleep("nap", "1h")))
        left.append(
            asyncio.ensure_future(ctx.step.wait_for_event("w", event="never", timeout="1h"))
        )
        await started.wait()
        return "done"

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "done"
        run = await client.get_run(handle.run_id)
        assert (await client.send("never")).resumed == 0
    steps = steps_by_id(run)
    assert {key: steps[key].status for key in ("forever", "nap", "w")} == dict.fromkeys(
        ("forever", "nap", "w"), "cancelled"
    )


async def test_a_run_ending_in_a_later_pass_cancels_a_wait_an_earlier_pass_left(db: str) -> None:
    """The wait is in the journal the next pass loads, not in that pass's own steps."""
    app = durablex.App("a")
    left: list[asyncio.Future[Any]] = []

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> str:
        left.append(
            asyncio.ensure_future(ctx.step.wait_for_event("w", event="never", timeout="1h"))
        )
        await ctx.step.sleep("nap", REPLAY_SLEEP_MS)  # parks: the run ends in the next pass
        return "done"

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "done"
        run = await client.get_run(handle.run_id)
        assert (await client.send("never")).resumed == 0
    assert steps_by_id(run)["w"].status == "cancelled"
    assert steps_by_id(run)["nap"].status == "completed"


async def test_return_exceptions_is_all_settled(db: str) -> None:
    app = durablex.App("a")

    async def slowish() -> str:
        await asyncio.sleep(0.05)
        return "slowish"

    def bad() -> None:
        raise ValueError("nope")

    @app.workflow("wf", retries=0)
    async def wf(ctx: durablex.Context) -> Any:
        settled = await asyncio.gather(
            ctx.step.run("bad", bad),
            ctx.step.run("slowish", slowish),
            return_exceptions=True,
        )
        return [
            {"error": r.error_type, "step": r.step_id}
            if isinstance(r, durablex.StepFailedError)
            else r
            for r in settled
        ]

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == [
            {"error": "ValueError", "step": "bad"},
            "slowish",
        ]
        run = await client.get_run(handle.run_id)
    steps = steps_by_id(run)
    assert steps["bad"].status == "failed"
    assert steps["slowish"].status == "completed"
    assert run.status == "completed"


async def test_parallel_sleeps_park_alongside_and_wake_in_turn(db: str, clock: ManualClock) -> None:
    app = durablex.App("a")
    calls: list[str] = []

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        async def branch(name: str, duration: str) -> str:
            await ctx.step.sleep(f"sleep-{name}", duration)
            return str(await ctx.step.run(f"after-{name}", lambda: calls.append(name) or name))

        return await asyncio.gather(
            branch("short", "1h"),
            branch("long", "2h"),
            ctx.step.run("now", lambda: "now"),
        )

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        run = await wait_status(client, handle.run_id, "sleeping")
        steps = steps_by_id(run)
        assert steps["now"].status == "completed"
        assert steps["sleep-short"].status == "sleeping"
        assert steps["sleep-long"].status == "sleeping"
        assert run.wake_at == steps["sleep-short"].wake_at
        clock.advance(3601)

        async def short_done() -> Any:
            run = await client.get_run(handle.run_id)
            s = steps_by_id(run)
            return run.status == "sleeping" and "after-short" in s and run

        from .support import eventually

        run = await eventually(short_done, what="short branch done")
        steps = steps_by_id(run)
        assert steps["sleep-long"].status == "sleeping"
        assert run.wake_at == steps["sleep-long"].wake_at
        assert calls == ["short"]
        clock.advance(3600)
        assert await handle.result(timeout=10) == ["short", "long", "now"]
    assert calls == ["short", "long"]


async def test_exception_in_workflow_while_step_running_cancels_step(db: str) -> None:
    app = durablex.App("a")
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(10)

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        task = asyncio.ensure_future(ctx.step.run("forever", forever))
        await started.wait()
        await asyncio.sleep(0.3)  # long enough for the running marker to be written
        raise RuntimeError("gave up")
        await task  # pragma: no cover

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert info.value.error["type"] == "RuntimeError"
    assert steps_by_id(run)["forever"].status == "cancelled"


async def test_timers_fire_while_a_sibling_step_is_still_running(db: str) -> None:
    """A short sleep, a retry wait and a wait timeout finish in the same pass as a long sibling
    step: they do not wait for it to end."""
    app = durablex.App("a")
    flaky_calls: list[int] = []

    def flaky() -> str:
        flaky_calls.append(1)
        if len(flaky_calls) < 3:
            raise ConnectionError("again")
        return "flaky-ok"

    @app.workflow("wf", retries=5, backoff="1ms", backoff_max="2ms")
    async def wf(ctx: durablex.Context) -> Any:
        slept = asyncio.Event()
        retried = asyncio.Event()
        timed_out = asyncio.Event()

        async def after_sleep() -> str:
            await ctx.step.sleep("short", "5ms")
            slept.set()
            return "slept"

        async def after_retry() -> Any:
            value = await ctx.step.run("flaky", flaky)
            retried.set()
            return value

        async def after_wait() -> Any:
            value = await ctx.step.wait_for_event("w", event="never", timeout="5ms")
            timed_out.set()
            return value

        async def blocker() -> str:
            # ends only once the three timers above were handled in this very pass
            await asyncio.wait_for(
                asyncio.gather(slept.wait(), retried.wait(), timed_out.wait()), timeout=5
            )
            return "unblocked"

        return await asyncio.gather(
            after_sleep(), after_retry(), after_wait(), ctx.step.run("blocker", blocker)
        )

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == ["slept", "flaky-ok", None, "unblocked"]
        run = await client.get_run(handle.run_id)
    steps = steps_by_id(run)
    assert steps["flaky"].attempts == 3
    assert len(steps["flaky"].attempt_log) == 3
    assert steps["short"].status == "completed"
    assert steps["w"].status == "completed" and steps["w"].output is None
