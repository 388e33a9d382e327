"""Retries: attempts, backoff, NonRetriableError, RetryAfterError, StepFailedError on replay."""

from __future__ import annotations

from typing import Any

import pytest

import durablex
from durablex.core.clock import ManualClock

from .support import REPLAY_SLEEP_MS, steps_by_id, wait_status, wait_step


def flaky(failures: int, calls: list[int], value: Any = "ok") -> Any:
    def fn() -> Any:
        calls.append(1)
        if len(calls) <= failures:
            raise ConnectionError(f"try {len(calls)} failed")
        return value

    return fn


async def test_retried_until_success_and_every_attempt_recorded(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf", retries=3, backoff="1ms", backoff_max="2ms")
    async def wf(ctx: durablex.Context) -> Any:
        return await ctx.step.run("fetch", flaky(2, calls))

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "ok"
        run = await client.get_run(handle.run_id)
    assert len(calls) == 3
    step = steps_by_id(run)["fetch"]
    assert step.status == "completed"
    assert step.attempts == 3
    assert step.output == "ok"
    log = step.attempt_log
    assert [a.number for a in log] == [1, 2, 3]
    for attempt, expected in zip(log[:2], ["try 1 failed", "try 2 failed"], strict=True):
        assert attempt.error is not None
        assert attempt.error["type"] == "ConnectionError"
        assert attempt.error["message"] == expected
        assert "ConnectionError" in attempt.error["traceback"]
        assert attempt.started_at is not None and attempt.ended_at is not None
        assert attempt.started_at <= attempt.ended_at
    assert log[2].error is None
    assert log[0].ended_at <= log[1].started_at <= log[2].started_at  # type: ignore[operator]


async def test_retries_spent_raise_step_failed_error(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf", retries=2, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        try:
            await ctx.step.run("fetch", flaky(99, calls))
        except durablex.StepFailedError as exc:
            return {
                "cls": type(exc).__name__,
                "step_id": exc.step_id,
                "error_type": exc.error_type,
                "message": exc.message,
                "attempts": exc.attempts,
                "str": str(exc),
            }
        return None

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        out = await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert len(calls) == 3  # the first attempt and 2 retries
    assert out["cls"] == "StepFailedError"
    assert out["step_id"] == "fetch"
    assert out["error_type"] == "ConnectionError"
    assert out["message"] == "try 3 failed"
    assert out["attempts"] == 3
    assert "fetch" in out["str"] and "ConnectionError" in out["str"]
    step = steps_by_id(run)["fetch"]
    assert step.status == "failed"
    assert step.attempts == 3
    assert len(step.attempt_log) == 3
    assert step.error is not None and step.error["message"] == "try 3 failed"


async def test_per_step_retries_override_workflow_retries(db: str) -> None:
    app = durablex.App("a")
    none: list[int] = []
    five: list[int] = []

    @app.workflow("wf", retries=2, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        with_none = await ctx.step.run("none", flaky(1, none), retries=0)
        return with_none

    @app.workflow("wf5", retries=0, backoff="1ms", backoff_max="1ms")
    async def wf5(ctx: durablex.Context) -> Any:
        return await ctx.step.run("five", flaky(5, five), retries=5)

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError):
            await handle.result(timeout=10)
        assert len(none) == 1
        handle5 = await client.start("wf5")
        assert await handle5.result(timeout=10) == "ok"
        assert len(five) == 6


async def test_escaping_step_failure_fails_the_run(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf", retries=1, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("fetch", flaky(99, []))

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=10)
    error = info.value.error
    assert error["type"] == "StepFailedError"
    assert "fetch" in error["message"] and "ConnectionError" in error["message"]
    assert error["traceback"]


async def test_non_retriable_error_fails_at_once(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    def refuse() -> None:
        calls.append(1)
        raise durablex.NonRetriableError("card is stolen")

    @app.workflow("wf", retries=5, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        try:
            await ctx.step.run("charge", refuse)
        except durablex.StepFailedError as exc:
            return [exc.error_type, exc.message, exc.attempts]
        return None

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == ["NonRetriableError", "card is stolen", 1]
    assert calls == [1]


async def test_retry_after_error_sets_next_attempt(db: str, clock: ManualClock) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    def limited() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise durablex.RetryAfterError("rate limited", "1h")
        return "done"

    @app.workflow("wf", retries=3, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        return await ctx.step.run("call", limited)

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        run = await wait_status(client, handle.run_id, "sleeping")
        step = steps_by_id(run)["call"]
        assert step.status == "sleeping"
        assert step.attempts == 1
        assert step.error is not None and step.error["type"] == "RetryAfterError"
        assert step.wake_at is not None
        assert step.attempt_log[0].ended_at is not None
        delay = (step.wake_at - step.attempt_log[0].ended_at).total_seconds()
        assert delay == pytest.approx(3600, abs=1)
        assert run.wake_at == step.wake_at
        clock.advance(1800)
        assert (await client.get_run(handle.run_id)).status == "sleeping"
        assert len(calls) == 1
        clock.advance(1801)
        assert await handle.result(timeout=10) == "done"
    assert len(calls) == 2


async def test_backoff_grows_exponentially_and_is_capped(db: str, clock: ManualClock) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf", retries=4, backoff="10s", backoff_max="30s")
    async def wf(ctx: durablex.Context) -> Any:
        return await ctx.step.run("fetch", flaky(4, calls))

    delays: list[float] = []
    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        for attempt in range(1, 5):
            await wait_step(client, handle.run_id, "fetch", "sleeping")

            async def attempts_now() -> int:
                run = await client.get_run(handle.run_id)
                return steps_by_id(run)["fetch"].attempts

            assert await attempts_now() == attempt
            run = await wait_status(client, handle.run_id, "sleeping")
            step = steps_by_id(run)["fetch"]
            assert step.wake_at is not None
            ended = step.attempt_log[-1].ended_at
            assert ended is not None
            delays.append((step.wake_at - ended).total_seconds())
            clock.advance(60)
            if attempt < 4:
                await wait_step(client, handle.run_id, "fetch", "sleeping", "running")

                async def advanced(n: int = attempt) -> bool:
                    run = await client.get_run(handle.run_id)
                    return steps_by_id(run)["fetch"].attempts > n

                from .support import eventually

                await eventually(advanced, what="next attempt")
        assert await handle.result(timeout=10) == "ok"
    assert len(calls) == 5
    # about 10s, 20s, then capped at 30s (jitter is within +-20%, never above the cap)
    assert 8 <= delays[0] <= 12
    assert 16 <= delays[1] <= 24
    assert 24 <= delays[2] <= 30
    assert 24 <= delays[3] <= 30


async def test_retry_wait_is_a_durable_pause(db: str, clock: ManualClock) -> None:
    """Waiting for a retry parks the run (no runner slot) and survives a runner restart."""
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf", retries=1, backoff="1h", backoff_max="1h")
    async def wf(ctx: durablex.Context) -> Any:
        return await ctx.step.run("fetch", flaky(1, calls))

    async with durablex.AsyncClient(db, clock=clock) as client:
        async with durablex.Runner(app, db=db, clock=clock) as runner:
            handle = await client.start("wf")
            await wait_status(client, handle.run_id, "sleeping")
            assert runner.active_runs == 0
        clock.advance(2 * 3600)
        async with durablex.Runner(app, db=db, clock=clock):
            assert await handle.result(timeout=10) == "ok"
    assert len(calls) == 2


async def test_same_failure_is_raised_on_every_later_pass(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []
    seen: list[tuple[Any, ...]] = []

    @app.workflow("wf", retries=1, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        try:
            await ctx.step.run("fetch", flaky(99, calls))
        except durablex.StepFailedError as exc:
            seen.append((type(exc), exc.step_id, exc.error_type, exc.message, exc.attempts))
            # compensation runs once, and a sleep forces one more pass (longer than a runner
            # holds a run in memory for a near timer)
            await ctx.step.run("refund", lambda: "refunded")
            await ctx.step.sleep("settle", REPLAY_SLEEP_MS)
        return "compensated"

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "compensated"
        run = await client.get_run(handle.run_id)
    assert len(calls) == 2
    assert len(seen) >= 2
    assert all(item == seen[0] for item in seen)
    assert seen[0] == (durablex.StepFailedError, "fetch", "ConnectionError", "try 2 failed", 2)
    steps = steps_by_id(run)
    assert steps["fetch"].status == "failed"
    assert steps["refund"].status == "completed"
    assert run.status == "completed"
