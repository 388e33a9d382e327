"""How much of a seq run its slow transactions take:
``PYTHONPATH=src:. python bench/results/2026-12-01-loop-turns/slow_transactions.py full|process``.

Three seq runs of 5,000 no-op steps on a runner in this process, each of the store's
transactions timed (``committer._run_transaction``); prints per run the time a step, the
transactions' median, their share of the run, and how many took more than twice that median
with what they cost beyond it, as a share of the run.
"""

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.apps import make_app

import durablex
from durablex.store.sqlite import committer

TIMES: list[int] = []
_run_transaction = committer._run_transaction


def timed(*args: Any) -> Any:
    start = time.perf_counter_ns()
    try:
        return _run_transaction(*args)
    finally:
        TIMES.append(time.perf_counter_ns() - start)


committer._run_transaction = timed


async def main(mode: str) -> None:
    path = Path(tempfile.mkdtemp()) / "steps.db"
    url = f"sqlite:///{path}?durability={mode}"
    async with durablex.Runner(make_app(), db=url), durablex.AsyncClient(url) as client:
        await (await client.start("seq", {"n": 3})).result(timeout=30)
        for _ in range(3):
            TIMES.clear()
            start = time.perf_counter()
            await (await client.start("seq", {"n": 5000})).result(timeout=60)
            wall_ns = (time.perf_counter() - start) * 1e9
            median = statistics.median(TIMES)
            slow = [t for t in TIMES if t > 2 * median]
            beyond = sum(t - median for t in slow)
            print(
                f"{mode}: {wall_ns / 5000 / 1e3:.1f} us a step; transactions: median"
                f" {median / 1e3:.1f} us, {sum(TIMES) / wall_ns:.0%} of the run; {len(slow)}"
                f" over twice the median, {beyond / wall_ns:.1%} of the run beyond it"
            )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "full"))
