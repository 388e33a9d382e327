"""Workflows whose ids, outputs, inputs, warnings and errors are hostile markup, and a run
of thousands of steps: what the console must render as plain text and keep usable."""

from __future__ import annotations

import asyncio
from typing import Any

import durablex

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
LARGE_STEP = "large"
HOSTILE_IDS = (SCRIPT, IMG)

app = durablex.App("hostile")


@app.workflow("xss", on="xss.go", retries=0)
async def xss(ctx: durablex.Context) -> Any:
    await ctx.step.run("plain", {"payload": SCRIPT}, lambda payload: SCRIPT)
    await ctx.step.run(SCRIPT, lambda: IMG)
    await asyncio.gather(
        ctx.step.run(IMG, lambda: {"html": SCRIPT, IMG: IMG}),
        ctx.step.sleep("nap" + SCRIPT, 0.05),
    )
    await ctx.step.run("large", lambda: {"blob": "x" * 30_000, "tail": SCRIPT})
    await ctx.step.run("dup" + IMG, lambda: 1)
    await ctx.step.run("dup" + IMG, lambda: 2)
    if ctx.data and ctx.data.get("fail"):
        await ctx.step.run("boom", _boom)
    return {"result": SCRIPT, "img": IMG}


def _boom() -> None:
    raise ValueError(f"bad {SCRIPT} {IMG}")


@app.workflow("many", on="many.go")
async def many(ctx: durablex.Context) -> Any:
    """About 2,000 steps: a long chain, a wide fork and join, another chain with sleeps."""
    chain = int(ctx.data.get("chain", 900))
    wide = int(ctx.data.get("wide", 800))
    tail = int(ctx.data.get("tail", 300))
    for i in range(chain):
        await ctx.step.run(f"seq-{i}", lambda i=i: i)
    await asyncio.gather(*(ctx.step.run(f"par-{i}", lambda i=i: i) for i in range(wide)))
    for i in range(tail):
        if i % 50 == 0:
            await ctx.step.sleep(f"pause-{i}", 0.001)
        else:
            await ctx.step.run(f"tail-{i}", lambda i=i: i)
    return chain + wide + tail
