"""Helpers shared by the engine tests: polling, and a runner on a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import durablex

TIMEOUT = 15.0
# A sleep long enough that the run parks and its next pass replays it, with Runner(hold=0): a
# runner keeps a run in memory through a timer due within its claim-ahead window (100 ms), and
# by default through sleeps due within `hold`, instead of parking it.
REPLAY_SLEEP_MS = 250


async def eventually(
    predicate: Callable[[], Awaitable[Any]], *, timeout: float = TIMEOUT, what: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def wait_status(
    client: durablex.AsyncClient, run_id: str, *statuses: str, timeout: float = TIMEOUT
) -> durablex.Run:
    """Wait until the run has one of ``statuses``; return it (with its steps)."""

    async def check() -> durablex.Run | None:
        run = await client.get_run(run_id)
        return run if run.status in statuses else None

    result: durablex.Run = await eventually(
        check, timeout=timeout, what=f"run {run_id} to be {statuses}"
    )
    return result


async def wait_step(
    client: durablex.AsyncClient,
    run_id: str,
    step_id: str,
    *statuses: str,
    timeout: float = TIMEOUT,
) -> durablex.Step:
    async def check() -> durablex.Step | None:
        run = await client.get_run(run_id)
        for step in run.steps:
            if step.id == step_id and (not statuses or step.status in statuses):
                return step
        return None

    result: durablex.Step = await eventually(
        check, timeout=timeout, what=f"step {step_id!r} of {run_id} to be {statuses}"
    )
    return result


def steps_by_id(run: durablex.Run) -> dict[str, durablex.Step]:
    return {step.id: step for step in run.steps}


@contextlib.contextmanager
def runner_in_thread(*apps: durablex.App, db: str, **options: Any) -> Iterator[durablex.Runner]:
    """A Runner serving ``apps`` on its own event loop in a background thread (for the
    blocking ``Client``, which must not share the runner's loop)."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop
        try:
            async with durablex.Runner(*apps, db=db, **options) as runner:
                holder["runner"] = runner
                ready.set()
                await stop.wait()
        except BaseException as exc:  # surfaced in the test thread
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT), "runner did not start"
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["runner"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "runner thread did not stop"
