"""The app the recovery tests run in real runner processes, and its ``__main__``.

``python worker_app.py DB_PATH RUNNER_NAME [--lease 1s] [--grace 10] [--concurrency N]``
runs ``durablex.Runner(app, ...).run()`` until SIGTERM/SIGINT (or until it is SIGKILLed).
With ``--start-here WORKFLOW --input JSON --note PATH`` it also starts a run of ``WORKFLOW``
from an ``AsyncClient`` on the runner's own event loop (which hands the run to this runner in
its start transaction) and writes ``"<run_id> <status when start() returned>"`` to ``PATH``.

Environment:

- ``DX_EFFECTS``: the side-effect file. Every step body appends
  ``"<run_id> <step_id> begin <ts>"`` when it starts and ``"<run_id> <step_id> end <ts> <token>"``
  just before it returns (``O_APPEND``, flushed and fsynced), so the tests can tell which
  bodies started, which ran to their end, and which execution produced the stored value
  (``token`` is returned inside the step's output).
- ``DX_BLOCK``: comma-separated step ids whose bodies block after ``begin`` (for
  ``DX_BLOCK_SECONDS``, default 30): the moment at which a test kills the runner.
- ``DX_JITTER_MS``: every body sleeps a deterministic pseudo-random 0..N ms before ``end``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import durablex

app = durablex.App("recovery")

BLOCK = frozenset(filter(None, os.environ.get("DX_BLOCK", "").split(",")))
JITTER_MS = float(os.environ.get("DX_JITTER_MS", "0"))
BLOCK_SECONDS = float(os.environ.get("DX_BLOCK_SECONDS", "30"))


def _append(line: str) -> None:
    path = os.environ["DX_EFFECTS"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def body(run_id: str, step_id: str, value: Any = None) -> Callable[[], dict[str, Any]]:
    """A step body with an observable side effect; returns ``{"v": value, "token": ...}``."""

    def run() -> dict[str, Any]:
        _append(f"{run_id} {step_id} begin {time.time():.6f}")
        if step_id in BLOCK:
            time.sleep(BLOCK_SECONDS)
        if JITTER_MS:
            time.sleep(random.Random(f"{run_id}/{step_id}").uniform(0, JITTER_MS) / 1000)
        token = uuid.uuid4().hex
        _append(f"{run_id} {step_id} end {time.time():.6f} {token}")
        return {"v": value, "token": token}

    return run


def failing_once(
    run_id: str, step_id: str, value: Any, retry_after: str
) -> Callable[[], dict[str, Any]]:
    """Like ``body``, but the first execution ends with a ``"fail"`` line and raises
    ``RetryAfterError``; later ones succeed."""
    succeed = body(run_id, step_id, value)

    def run() -> dict[str, Any]:
        path = os.environ["DX_EFFECTS"]
        with open(path) as effects:
            earlier = sum(1 for line in effects if line.startswith(f"{run_id} {step_id} fail "))
        if earlier:
            return succeed()
        _append(f"{run_id} {step_id} begin {time.time():.6f}")
        _append(f"{run_id} {step_id} fail {time.time():.6f}")
        raise durablex.RetryAfterError("not yet", retry_after)

    return run


async def step(ctx: durablex.Context, step_id: str, value: Any = None) -> Any:
    result = await ctx.step.run(step_id, body(ctx.run_id, step_id, value))
    return result["v"]


@app.workflow("noop")
async def noop(ctx: durablex.Context) -> Any:
    return 1


@app.workflow("loop_hog", retries=0)
async def loop_hog(ctx: durablex.Context) -> Any:
    """Its step's body runs on the event loop itself: blocked there (``DX_BLOCK``), the loop
    commits nothing, not even the start of a run begun before its start committed."""

    async def on_the_loop() -> Any:
        return body(ctx.run_id, "hog")()["v"]

    return await ctx.step.run("hog", on_the_loop)


@app.workflow("mid_step", retries=0)
async def mid_step(ctx: durablex.Context) -> Any:
    a = await step(ctx, "a", 1)
    b = await step(ctx, "b", 2)
    slow = await step(ctx, "slow", ctx.data["x"])
    c = await step(ctx, "c", 3)
    return [a, b, slow, c]


@app.workflow("flaky", retries=2)
async def flaky(ctx: durablex.Context) -> Any:
    a = await step(ctx, "a", "first")
    f = await ctx.step.run("f", failing_once(ctx.run_id, "f", "second", ctx.data["retry_after"]))
    return [a, f["v"]]


@app.workflow("sleeper", retries=0)
async def sleeper(ctx: durablex.Context) -> Any:
    a = await step(ctx, "a", "before")
    await ctx.step.sleep("nap", ctx.data["nap_ms"])
    b = await step(ctx, "b", "after")
    return [a, b]


@app.workflow("fanout", retries=0)
async def fanout(ctx: durablex.Context) -> Any:
    values = await asyncio.gather(*(step(ctx, f"p{i}", i * i) for i in range(10)))
    total = await step(ctx, "total", sum(values))
    return {"values": list(values), "total": total}


@app.workflow("waiter", retries=0)
async def waiter(ctx: durablex.Context) -> Any:
    a = await step(ctx, "a", "ready")
    got = await ctx.step.wait_for_event(
        "w", event="go", timeout=ctx.data.get("timeout", "2m"), match={"key": ctx.data["key"]}
    )
    after = await step(ctx, "after", got)
    return {"a": a, "got": got, "after": after}


@app.workflow("parent", retries=0)
async def parent(ctx: durablex.Context) -> Any:
    a = await step(ctx, "a", "p")
    child = await ctx.step.run_workflow("kid", name="child", data={"n": ctx.data["n"]})
    z = await step(ctx, "z", "done")
    return {"a": a, "child": child, "z": z}


@app.workflow("child", retries=0)
async def child(ctx: durablex.Context) -> Any:
    c1 = await step(ctx, "c1", ctx.data["n"])
    c2 = await step(ctx, "c2", ctx.data["n"] * 10)
    return {"sum": c1 + c2}


@app.workflow("emitter", retries=0)
async def emitter(ctx: durablex.Context) -> Any:
    a = await step(ctx, "a", "before-emit")
    event_id = await ctx.step.emit("announce", name="announced", data={"source": ctx.run_id})
    b = await step(ctx, "b", "after-emit")
    return {"a": a, "event_id": event_id, "b": b}


@app.workflow("listener", on="announced", retries=0)
async def listener(ctx: durablex.Context) -> Any:
    heard = await step(ctx, "hear", ctx.data["source"])
    return {"heard": heard}


@app.workflow("mixed", retries=0)
async def mixed(ctx: durablex.Context) -> Any:
    n = ctx.data["n"]
    a = await step(ctx, "a", n)
    b1, b2 = await asyncio.gather(step(ctx, "b1", n + 1), step(ctx, "b2", n + 2))
    await ctx.step.sleep("nap", 300)
    kid = await ctx.step.run_workflow("kid", name="mixed_child", data={"n": n})
    event_id = await ctx.step.emit("tell", name="mixed.done", data={"source": ctx.run_id, "n": n})
    c = await step(ctx, "c", a + b1 + b2 + kid)
    return {"c": c, "event_id": event_id}


@app.workflow("mixed_child", retries=0)
async def mixed_child(ctx: durablex.Context) -> Any:
    k1 = await step(ctx, "k1", ctx.data["n"])
    return await step(ctx, "k2", k1 * 2)


@app.workflow("mixed_listener", on="mixed.done", retries=0)
async def mixed_listener(ctx: durablex.Context) -> Any:
    return await step(ctx, "heard", ctx.data["n"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("name")
    parser.add_argument("--lease", default="1s")
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--start-here")
    parser.add_argument("--input", default="null")
    parser.add_argument("--note")
    args = parser.parse_args()
    url = f"sqlite:///{os.path.abspath(args.db)}"
    runner = durablex.Runner(
        app,
        db=url,
        name=args.name,
        lease=args.lease,
        grace=args.grace,
        concurrency=args.concurrency,
    )
    if args.start_here is None:
        runner.run()
        return
    asyncio.run(serve_and_start(runner, url, args.start_here, json.loads(args.input), args.note))


async def serve_and_start(
    runner: durablex.Runner, url: str, workflow: str, data: Any, note: str
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with runner, durablex.AsyncClient(url) as client:
        # the runner counts the live runners when it claims this one, and takes runs as they
        # start on its loop while that count is fresh
        await (await client.start("noop")).result(timeout=30)
        handle = await client.start(workflow, data)
        run = await client.get_run(handle.run_id, with_steps=False)
        await asyncio.to_thread(Path(note).write_text, f"{handle.run_id} {run.status}\n")
        await stop.wait()


if __name__ == "__main__":
    main()
