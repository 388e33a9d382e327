"""Round trip of a parent run that runs one child (one step each), runner and client in one
process: ``python child_latency.py [K]`` prints the p50 and p99 of K trips (after 20 warm-up
trips). Run it in this checkout and in a worktree of another engine, alternating."""

import asyncio
import statistics
import sys
import tempfile
import time
from typing import Any

import durablex

app = durablex.App("pc")


@app.workflow("parent")
async def parent(ctx: durablex.Context) -> Any:
    return await ctx.step.run_workflow("kid", name="kid", data=1)


@app.workflow("kid")
async def kid(ctx: durablex.Context) -> Any:
    return await ctx.step.run("s", lambda: ctx.data)


async def main(trips: int) -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/c.db"
    async with durablex.Runner(app, db=url), durablex.AsyncClient(url) as client:
        for _ in range(20):
            await (await client.start("parent")).result(timeout=30)
        times = []
        for _ in range(trips):
            started = time.perf_counter()
            await (await client.start("parent")).result(timeout=30)
            times.append(time.perf_counter() - started)
    p50 = statistics.median(times) * 1e3
    p99 = sorted(times)[int(len(times) * 0.99)] * 1e3
    print(f"p50 {p50:.2f} ms  p99 {p99:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
