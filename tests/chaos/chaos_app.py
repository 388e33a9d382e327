"""The app the chaos driver runs in real runner processes, and its ``__main__``.

``python chaos_app.py DB_URL RUNNER_NAME [--lease 2s]`` runs ``durablex.Runner(app, ...)``
until SIGTERM/SIGINT or SIGKILL. With ``--beside-until TIME --beside-seed S`` it also starts
runs of ``chaos`` from a client on the runner's own loop until the wall-clock ``TIME``.

A run of ``chaos`` interprets the plan in its input (made by the driver's seeded random
generator), so its output is a function of the plan, except for the waits, whose results the
driver checks against the event log. Every step body appends to the side-effect file
(``DX_EFFECTS``, ``O_APPEND`` and fsynced)::

    <run_id> <step_id> begin <ts> <pid>
    <run_id> <step_id> end   <ts> <pid> <token>     (the token is returned in the output)
    <run_id> <step_id> fail  <ts> <pid>             (the execution raised, on purpose)

so the driver can tell which executions ran, in which process, and which one produced the
value the database holds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

from plans import make_plan  # this script's folder is on sys.path

import durablex

app = durablex.App("chaos")
EMITTED = "chaos.emitted"
GO = "chaos.go"
RETRIES = 3
# runs started beside a runner (``--beside-until``) and not yet ended, at most, per process
BESIDE_IN_FLIGHT = 4


def _append(line: str) -> None:
    fd = os.open(os.environ["DX_EFFECTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _mark(run_id: str, step_id: str, phase: str, token: str = "") -> None:
    _append(f"{run_id} {step_id} {phase} {time.time():.6f} {os.getpid()} {token}".rstrip())


def body(run_id: str, step_id: str, value: int, pause_ms: int) -> Callable[[], dict[str, Any]]:
    """A step body with an observable side effect; returns ``{"v": value, "token": ...}``."""

    def run() -> dict[str, Any]:
        _mark(run_id, step_id, "begin")
        if pause_ms:
            time.sleep(pause_ms / 1000)
        token = uuid.uuid4().hex
        _mark(run_id, step_id, "end", token)
        return {"v": value, "token": token}

    return run


def flaky(
    run_id: str, step_id: str, value: int, fails: int, how: str
) -> Callable[[], dict[str, Any]]:
    """Fails its first ``fails`` executions (counted in marker files that survive a crash):
    with ``RetryAfterError`` or a plain exception, as ``how`` says."""
    succeed = body(run_id, step_id, value, 0)
    folder = os.path.join(os.path.dirname(os.environ["DX_EFFECTS"]), "fails")

    def run() -> dict[str, Any]:
        done = 0
        while os.path.exists(os.path.join(folder, f"{run_id}.{step_id}.{done + 1}")):
            done += 1
        if done >= fails:
            return succeed()
        _mark(run_id, step_id, "begin")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{run_id}.{step_id}.{done + 1}"), "w"):
            pass
        _mark(run_id, step_id, "fail")
        if how == "after":
            raise durablex.RetryAfterError("not yet", "50ms")
        raise RuntimeError(f"planned failure {done + 1} of {fails}")

    return run


async def _op(ctx: durablex.Context, i: int, op: dict[str, Any], out: dict[str, Any]) -> int:
    kind = op["op"]
    rid = ctx.run_id
    if kind == "step":
        got = await ctx.step.run(f"s{i}", body(rid, f"s{i}", op["v"], op.get("ms", 0)))
        return int(got["v"])
    if kind == "par":
        parts: list[Any] = [
            ctx.step.run(f"p{i}x{j}", body(rid, f"p{i}x{j}", v, op.get("ms", 0)))
            for j, v in enumerate(op["vs"])
        ]
        if op.get("nap"):
            parts.append(ctx.step.sleep(f"p{i}z", op["nap"]))
        results = await asyncio.gather(*parts)
        return sum(int(r["v"]) for r in results if r is not None)
    if kind == "sleep":
        await ctx.step.sleep(f"z{i}", op["ms"])
        return 0
    if kind == "retry":
        got = await ctx.step.run(
            f"r{i}", flaky(rid, f"r{i}", op["v"], op["fails"], op["how"]), retries=RETRIES
        )
        return int(got["v"])
    if kind == "emit":
        event_id = await ctx.step.emit(
            f"e{i}", name=EMITTED, data={"src": rid, "step": f"e{i}", "v": op["v"]}
        )
        out["emits"][f"e{i}"] = event_id
        return 0
    if kind == "wait":
        got = await ctx.step.wait_for_event(
            f"w{i}", event=GO, timeout=op["timeout_ms"], match={"key": f"{rid}:w{i}"}
        )
        out["waits"][f"w{i}"] = got
        return 0
    if kind == "child":
        total = await ctx.step.run_workflow(f"c{i}", name="chaos_child", data={"plan": op["plan"]})
        return int(total["total"])
    raise ValueError(f"unknown op {kind!r}")


async def _interpret(ctx: durablex.Context) -> dict[str, Any]:
    out: dict[str, Any] = {"total": 0, "waits": {}, "emits": {}}
    for i, op in enumerate(ctx.data["plan"]):
        out["total"] += await _op(ctx, i, op, out)
    return out


@app.workflow("chaos", retries=0, backoff="50ms", backoff_max="200ms")
async def chaos(ctx: durablex.Context) -> dict[str, Any]:
    return await _interpret(ctx)


@app.workflow("chaos_child", retries=0, backoff="50ms", backoff_max="200ms")
async def chaos_child(ctx: durablex.Context) -> dict[str, Any]:
    return await _interpret(ctx)


@app.workflow("chaos_listener", on=EMITTED, retries=0)
async def chaos_listener(ctx: durablex.Context) -> int:
    step_id = "heard"
    got = await ctx.step.run(step_id, body(ctx.run_id, step_id, ctx.data["v"], 0))
    return int(got["v"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("name")
    parser.add_argument("--lease", default="2s")
    parser.add_argument("--beside-until", type=float, default=None)
    parser.add_argument("--beside-seed", default="")
    args = parser.parse_args()
    runner = durablex.Runner(app, db=args.db, name=args.name, lease=args.lease, grace=1.0)
    if args.beside_until is None:
        runner.run()
        return
    asyncio.run(serve_and_start_beside(runner, args.db, args.beside_until, args.beside_seed))


async def serve_and_start_beside(
    runner: durablex.Runner, url: str, until: float, seed: str
) -> None:
    """Serve, and until the wall-clock time ``until`` keep up to ``BESIDE_IN_FLIGHT`` runs of
    random plans started from a client on this runner's loop: each is begun by this
    runner before its start commits (``durablex.store.handoff``), and a kill may come before
    that commit. The driver finds them in the database by their input."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rng = random.Random(seed)
    async with runner, durablex.AsyncClient(url) as client:
        open_runs: set[asyncio.Task[None]] = set()

        async def start_one(plan: list[dict[str, Any]]) -> None:
            with contextlib.suppress(TimeoutError):
                await (await client.start("chaos", {"plan": plan})).result(timeout=60)

        while not stop.is_set() and time.time() < until:
            if len(open_runs) < BESIDE_IN_FLIGHT:
                task = asyncio.ensure_future(start_one(make_plan(rng, top=True)))
                open_runs.add(task)
                task.add_done_callback(open_runs.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(0.02, 0.2))
        await stop.wait()


if __name__ == "__main__":
    main()
