"""Step.after: the edges of a run's graph (sequence, fork/join, nested branches, TaskGroup)."""

from __future__ import annotations

import asyncio
from typing import Any

import durablex

from .support import steps_by_id


async def graph_of(db: str, app: durablex.App) -> dict[str, list[str]]:
    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    return {step.id: step.after for step in run.steps}


async def test_sequential_steps(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("a", lambda: 1)
        await ctx.step.sleep("b", 1)  # a later pass continues the chain
        await ctx.step.run("c", lambda: 3)
        await ctx.step.emit("d", name="x")

    assert await graph_of(db, app) == {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}


async def test_gather_fork_and_join(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("start", lambda: 0)
        await asyncio.gather(
            ctx.step.run("left", lambda: 1),
            ctx.step.run("right", lambda: 2),
            ctx.step.sleep("nap", 1),
        )
        await ctx.step.run("join", lambda: 3)
        await ctx.step.run("end", lambda: 4)

    graph = await graph_of(db, app)
    assert graph["start"] == []
    assert graph["left"] == ["start"]
    assert graph["right"] == ["start"]
    assert graph["nap"] == ["start"]
    assert sorted(graph["join"]) == ["left", "nap", "right"]
    assert graph["end"] == ["join"]


async def test_gather_first_in_run(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await asyncio.gather(ctx.step.run("x", lambda: 1), ctx.step.run("y", lambda: 2))
        await ctx.step.run("z", lambda: 3)

    assert await graph_of(db, app) == {"x": [], "y": [], "z": ["x", "y"]}


async def test_nested_gather_in_a_helper_coroutine(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        async def load_user() -> Any:
            user = await ctx.step.run("user", lambda: "u")
            return await asyncio.gather(
                ctx.step.run("avatar", lambda: user),
                ctx.step.run("friends", lambda: user),
            )

        async def load_plan() -> Any:
            plan = await ctx.step.run("plan", lambda: "p")
            await ctx.step.sleep("plan-wait", 1)
            return plan

        await ctx.step.run("begin", lambda: 0)
        await asyncio.gather(load_user(), load_plan(), ctx.step.run("flags", lambda: 1))
        await ctx.step.run("render", lambda: 2)

    graph = await graph_of(db, app)
    assert graph["begin"] == []
    assert graph["user"] == ["begin"]
    assert graph["avatar"] == ["user"]
    assert graph["friends"] == ["user"]
    assert graph["plan"] == ["begin"]
    assert graph["plan-wait"] == ["plan"]
    assert graph["flags"] == ["begin"]
    assert sorted(graph["render"]) == ["avatar", "flags", "friends", "plan-wait"]


async def test_task_group(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("a", lambda: 0)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(ctx.step.run("b", lambda: 1))
            tg.create_task(ctx.step.run("c", lambda: 2))
        await ctx.step.run("d", lambda: 3)

    graph = await graph_of(db, app)
    assert graph["a"] == []
    assert graph["b"] == ["a"] and graph["c"] == ["a"]
    assert sorted(graph["d"]) == ["b", "c"]


async def test_branch_without_steps_does_not_count(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        async def no_steps() -> int:
            await asyncio.sleep(0)
            return 1

        await ctx.step.run("a", lambda: 0)
        await asyncio.gather(no_steps(), ctx.step.run("b", lambda: 1))
        await ctx.step.run("c", lambda: 2)

    assert await graph_of(db, app) == {"a": [], "b": ["a"], "c": ["b"]}


async def test_graph_is_the_same_across_replays(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("a", lambda: 0)
        await asyncio.gather(ctx.step.sleep("s1", 2), ctx.step.sleep("s2", 5))
        await ctx.step.run("b", lambda: 1)
        await asyncio.gather(ctx.step.run("c", lambda: 2), ctx.step.sleep("s3", 2))
        await ctx.step.run("d", lambda: 3)

    graph = await graph_of(db, app)
    assert graph["s1"] == ["a"] and graph["s2"] == ["a"]
    assert sorted(graph["b"]) == ["s1", "s2"]
    assert graph["c"] == ["b"] and graph["s3"] == ["b"]
    assert sorted(graph["d"]) == ["c", "s3"]


async def test_retried_step_keeps_its_edges(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("again")
        return "ok"

    @app.workflow("wf", retries=3, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("a", lambda: 0)
        await ctx.step.run("flaky", flaky)
        await ctx.step.run("b", lambda: 1)

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    steps = steps_by_id(run)
    assert steps["flaky"].after == ["a"]
    assert steps["b"].after == ["flaky"]
