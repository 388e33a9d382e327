"""Where a latency round trip goes: ``python -m bench.trace_latency [--trips 200]``.

Runs the latency workload (start a 1-step run, wait for its result, again and again) with the
runner and the client in this process, on a fresh SQLite file, and stamps the engine's stages
(the store's transactions, the client's reads, the runner's claim, the pass, its step and the
run's end) with ``time.perf_counter``. Prints one round trip's timeline and, for every stage, the
median time from the start of the round trip (the first 10 % of trips are left out as warm-up).

The stamps wrap store and runtime functions from outside (module attributes and methods), so
this is a diagnostic, not a benchmark: each stamp costs about a microsecond.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import durablex
from bench.apps import make_app
from durablex.runtime import execution
from durablex.store.sqlite import committer, store

Stamp = tuple[str, float, str]
STAMPS: list[Stamp] = []


def stamp(label: str) -> None:
    STAMPS.append((label, time.perf_counter(), threading.current_thread().name))


def wrap(owner: Any, name: str, label: str) -> None:
    fn = getattr(owner, name)
    if asyncio.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            stamp(label + " >")
            try:
                return await fn(*args, **kwargs)
            finally:
                stamp(label + " <")

        setattr(owner, name, timed_async)
        return

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        stamp(label + " >")
        try:
            return fn(*args, **kwargs)
        finally:
            stamp(label + " <")

    setattr(owner, name, timed)


def instrument() -> None:
    wrap(committer, "_run_batch", "transaction (batch)")
    wrap(store.SqliteStore, "_publish", "publish notices")
    wrap(store.SqliteStore, "get_run", "get_run")
    wrap(store.SqliteStore, "wait_for_change", "wait_for_change")
    wrap(store.SqliteStore, "next_due_us", "next_due_us")
    wrap(store.SqliteStore, "claim", "claim")
    wrap(store.SqliteStore, "start_run", "start_run")
    wrap(store.SqliteStore, "complete_run", "complete_run")
    wrap(execution.RunPass, "execute", "pass")
    wrap(execution.RunPass, "run_step", "step")


async def trace(trips: int) -> list[list[Stamp]]:
    path = Path(tempfile.mkdtemp(prefix="dxtrace-")) / "trace.db"
    url = f"sqlite:///{path}"
    recorded: list[list[Stamp]] = []
    async with durablex.Runner(make_app(), db=url), durablex.AsyncClient(url) as client:
        await (await client.start("seq", {"n": 1})).result(timeout=30)
        for _ in range(trips):
            STAMPS.clear()
            stamp("start()")
            handle = await client.start("seq", {"n": 1})
            stamp("start() returned")
            await handle.result(timeout=30)
            stamp("result() returned")
            recorded.append(list(STAMPS))
    return recorded


def report(recorded: list[list[Stamp]]) -> None:
    kept = recorded[len(recorded) // 10 :]
    middle = sorted(kept, key=lambda trip: trip[-1][1] - trip[0][1])[len(kept) // 2]
    print(f"the median round trip ({len(kept)} kept): µs from start() [thread]")
    for label, t, thread in middle:
        print(f"{(t - middle[0][1]) * 1e6:8.0f}  {label}  [{thread}]")
    offsets: dict[tuple[str, int], list[float]] = collections.defaultdict(list)
    for trip in kept:
        seen: collections.Counter[str] = collections.Counter()
        for label, t, _ in trip:
            seen[label] += 1
            offsets[(label, seen[label])].append((t - trip[0][1]) * 1e6)
    print("\nmedian µs from start(), stages seen in most trips:")
    common = [(key, values) for key, values in offsets.items() if len(values) > len(kept) // 2]
    for (label, nth), values in sorted(common, key=lambda kv: statistics.median(kv[1])):
        print(f"{statistics.median(values):8.0f}  {label} #{nth}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.trace_latency")
    parser.add_argument("--trips", type=int, default=200)
    args = parser.parse_args()
    instrument()
    report(asyncio.run(trace(args.trips)))


if __name__ == "__main__":
    main()
