"""Step ids: repeated ids become id:2, id:3 with a warning; bad ids are refused at the call."""

from __future__ import annotations

from typing import Any

import pytest

import durablex

from .support import REPLAY_SLEEP_MS, steps_by_id


async def test_repeated_ids_are_numbered_in_call_order_with_one_warning(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        values = []
        for i in range(3):
            values.append(await ctx.step.run("fetch", lambda i=i: calls.append(i) or i))
        await ctx.step.sleep("nap", 1)
        await ctx.step.sleep("nap", 1)
        return values

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == [0, 1, 2]
        run = await client.get_run(handle.run_id)
    assert [s.id for s in run.steps] == ["fetch", "fetch:2", "fetch:3", "nap", "nap:2"]
    assert [s.output for s in run.steps[:3]] == [0, 1, 2]
    assert calls == [0, 1, 2]  # replays returned the saved values
    assert len(run.warnings) == 2
    fetch_warning = next(w for w in run.warnings if "'fetch'" in w)
    assert "fetch:2" in fetch_warning
    assert any("'nap'" in w for w in run.warnings)


async def test_user_id_that_looks_numbered_does_not_collide(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        first = await ctx.step.run("a", lambda: 1)
        explicit = await ctx.step.run("a:2", lambda: 2)
        repeated = await ctx.step.run("a", lambda: 3)
        await ctx.step.sleep("replay", REPLAY_SLEEP_MS)
        return [first, explicit, repeated]

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == [1, 2, 3]
        run = await client.get_run(handle.run_id)
    ids = [s.id for s in run.steps]
    assert ids[:2] == ["a", "a:2"]
    assert len(set(ids)) == len(ids)
    assert steps_by_id(run)[ids[2]].output == 3


async def test_unique_ids_give_no_warning(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("x" * 255, lambda: 1)  # the longest id
        await ctx.step.run("unicode-é-✓", lambda: 2)
        await ctx.step.sleep("nap", 1)
        return None

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert run.warnings == []
    assert run.steps[0].id == "x" * 255
    assert run.steps[1].id == "unicode-é-✓"


@pytest.mark.parametrize(
    ("bad", "error"),
    [("", ValueError), ("x" * 256, ValueError), (None, TypeError), (7, TypeError)],
)
async def test_bad_step_ids_are_refused_before_anything_is_recorded(
    db: str, bad: Any, error: type[Exception]
) -> None:
    app = durablex.App("a")
    messages: list[str] = []

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        calls = [
            lambda: ctx.step.run(bad, lambda: 1),
            lambda: ctx.step.run(bad, 1, lambda x: x),
            lambda: ctx.step.sleep(bad, 1),
            lambda: ctx.step.sleep_until(bad, 0),
            lambda: ctx.step.wait_for_event(bad, event="e", timeout=1),
            lambda: ctx.step.run_workflow(bad, name="wf"),
            lambda: ctx.step.emit(bad, name="e"),
        ]
        for call in calls:
            with pytest.raises(error) as info:
                await call()
            messages.append(str(info.value))
        return "ok"

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "ok"
        run = await client.get_run(handle.run_id)
    assert run.steps == []
    assert len(messages) == 7
    assert all("step id" in m for m in messages)
