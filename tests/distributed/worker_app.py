"""The app the distributed tests serve, and the entry point of one runner process.

Usage: python worker_app.py DB_URL RUNNER_NAME EFFECTS_FILE

Every step body appends ``run_id step_id runner`` to EFFECTS_FILE (one ``O_APPEND`` write, so
lines of concurrent processes never interleave): the test counts executions from it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import durablex

PINNED = "runner-1"

app = durablex.App("dist")
_effects_fd: int | None = None
_runner = "?"


def mark(run_id: str, step_id: str, value: Any) -> Any:
    assert _effects_fd is not None
    os.write(_effects_fd, f"{run_id} {step_id} {_runner}\n".encode())
    return value


@app.workflow("mixed")
async def mixed(ctx: durablex.Context) -> dict[str, Any]:
    n = ctx.data["n"]
    rid = ctx.run_id
    a = await ctx.step.run("a", lambda: mark(rid, "a", n))
    b, c = await asyncio.gather(
        ctx.step.run("b", lambda: mark(rid, "b", n + 1)),
        ctx.step.run("c", lambda: mark(rid, "c", n + 2)),
    )
    await ctx.step.sleep("nap", "300ms")
    pin = PINNED if n % 10 == 0 else None
    kid = await ctx.step.run_workflow("kid", name="kid", data={"n": n}, runner=pin)
    got = await ctx.step.wait_for_event("go", event="go", timeout="10m", match={"n": n})
    await ctx.step.emit("done", name="done", data={"n": n})
    d = await ctx.step.run("d", lambda: mark(rid, "d", a + b + c))
    return {"n": n, "kid": kid, "got": got, "sum": d}


@app.workflow("kid")
async def kid(ctx: durablex.Context) -> int:
    rid = ctx.run_id
    n = ctx.data["n"]
    return int(await ctx.step.run("k", lambda: mark(rid, "k", n * 2)))


def main() -> None:
    global _effects_fd, _runner
    url, name, effects = sys.argv[1:4]
    _runner = name
    _effects_fd = os.open(effects, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s {name} %(levelname)s %(name)s %(message)s"
    )
    # a lease long enough that a runner starved of CPU by a busy machine keeps its runs
    runner = durablex.Runner(app, db=url, name=name, lease="10s", grace=2)
    print(f"runner {name} starting", flush=True)
    runner.run()


if __name__ == "__main__":
    main()
