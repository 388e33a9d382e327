"""Where a seq step's time goes between two commits, with and without an fsync per commit:
``PYTHONPATH=src:. python bench/results/2026-12-01-intel/after_fsync.py full|process|floor``.

Runs one seq run of 10,000 no-op steps on a runner in this process and stamps the store's
transaction (``committer._run_transaction``), the end of the committer's bookkeeping after it
(``GroupCommitter._finish``) and the workflow's call of the next step (``bench.apps.body``), then
prints the median and mean of each interval: the transaction, and the Python between two
transactions in three parts. ``floor``: the same for ``bench.raw.step_floor`` (its loop's time a
step, and its transactions' median and mean).
"""

import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import apps, raw

import durablex
from durablex.store.sqlite import committer

STAMPS: list[tuple[str, int]] = []


def stamped(label_in: str | None, fn: Any, label_out: str | None) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if label_in:
            STAMPS.append((label_in, time.perf_counter_ns()))
        result = fn(*args, **kwargs)
        if label_out:
            STAMPS.append((label_out, time.perf_counter_ns()))
        return result

    return wrapper


committer._run_transaction = stamped("tx>", committer._run_transaction, "tx<")
committer.GroupCommitter._finish = stamped(None, committer.GroupCommitter._finish, "fin<")
apps.body = stamped("body", apps.body, None)


async def main(durability: str) -> None:
    path = Path(tempfile.mkdtemp()) / "steps.db"
    url = f"sqlite:///{path}?durability={durability}"
    async with durablex.Runner(apps.make_app(), db=url), durablex.AsyncClient(url) as client:
        await (await client.start("seq", {"n": 3})).result(timeout=30)
        STAMPS.clear()
        await (await client.start("seq", {"n": 10000})).result(timeout=60)
    intervals: dict[str, list[float]] = {}
    for (a, ta), (b, tb) in itertools.pairwise(STAMPS):
        intervals.setdefault(f"{a} -> {b}", []).append((tb - ta) / 1000)
    for name, values in sorted(intervals.items(), key=lambda kv: -len(kv[1])):
        if len(values) > 100:
            median, mean = statistics.median(values), statistics.mean(values)
            print(f"{durability} {name}: {len(values)}, median {median:.1f} us, mean {mean:.1f} us")


def floor() -> None:
    times: list[float] = []
    engine_tx = raw.engine_tx

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = engine_tx(*args, **kwargs)
        times.append((time.perf_counter() - start) * 1e6)
        return result

    raw.engine_tx = timed
    figures = raw.step_floor(Path(tempfile.mkdtemp()) / "floor.db", steps=10000)
    print(
        f"floor: {figures['commit_ms'] * 1000:.1f} us a step, transaction median "
        f"{statistics.median(times):.1f} us, mean {statistics.mean(times):.1f} us"
    )


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "full"
    if mode == "floor":
        floor()
    else:
        asyncio.run(main(mode))
