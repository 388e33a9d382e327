"""The benchmark workflows, in one importable module so a runner subprocess can load them.

Every step body is a no-op returning ``{"i": i}``: either an ``async def`` (default) or a plain
function (``--sync-steps``), which the engine runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import durablex

APP = "bench"
GO_EVENT = "bench.go"


def body(i: int, sync: bool) -> Any:
    if sync:

        def plain() -> dict[str, int]:
            return {"i": i}

        return plain

    async def coro() -> dict[str, int]:
        return {"i": i}

    return coro


def make_app(sync_steps: bool = False) -> durablex.App:
    app = durablex.App(APP)

    def step(ctx: durablex.Context, sid: str, i: int) -> Any:
        return ctx.step.run(sid, body(i, sync_steps))

    @app.workflow("seq", retries=0)
    async def seq(ctx: durablex.Context) -> int:
        n = ctx.data["n"]
        for i in range(n):
            await step(ctx, f"s{i}", i)
        return n

    @app.workflow("parallel", retries=0)
    async def parallel(ctx: durablex.Context) -> int:
        p = ctx.data["p"]
        await asyncio.gather(*(step(ctx, f"p{i}", i) for i in range(p)))
        return p

    @app.workflow("sleep", retries=0)
    async def sleeper(ctx: durablex.Context) -> int:
        await step(ctx, "a", 0)
        await ctx.step.sleep("nap", ctx.data["d_ms"])
        await step(ctx, "b", 1)
        return 1

    @app.workflow("event", retries=0)
    async def waiter(ctx: durablex.Context) -> Any:
        data = await ctx.step.wait_for_event("wait", event=GO_EVENT, timeout="1h")
        await step(ctx, "after", 0)
        return data

    @app.workflow("parked", retries=0)
    async def parked(ctx: durablex.Context) -> int:
        await ctx.step.sleep("long", "1h")
        return 0

    @app.workflow("resume", retries=0)
    async def resume(ctx: durablex.Context) -> int:
        n = ctx.data["n"]
        for i in range(n):
            await step(ctx, f"s{i}", i)
        await ctx.step.wait_for_event("go", event=GO_EVENT, timeout="1h")
        return n

    return app
