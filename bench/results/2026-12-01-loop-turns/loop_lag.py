"""How long a seq run of quick steps keeps its runner's event loop from turning:
``PYTHONPATH=src:. python bench/results/2026-12-01-loop-turns/loop_lag.py full|process``.

Runs one seq run of 5,000 no-op steps on a runner in this process while a task on the same
loop sleeps 5 ms at a time, and prints how many of those sleeps ended during the run and the
most any of them overslept (before 7621b3e the whole run passed in one).
"""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.apps import make_app

import durablex


async def main(mode: str) -> None:
    path = Path(tempfile.mkdtemp()) / "steps.db"
    url = f"sqlite:///{path}?durability={mode}"
    async with durablex.Runner(make_app(), db=url), durablex.AsyncClient(url) as client:
        lags: list[float] = []
        running = True

        async def probe() -> None:
            while running:
                start = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - start - 0.005)

        prober = asyncio.create_task(probe())
        start = time.perf_counter()
        await (await client.start("seq", {"n": 5000})).result(timeout=60)
        wall = time.perf_counter() - start
        running = False
        await prober
    worst = max(lags) * 1e3
    print(f"{mode}: run {wall:.2f} s, {len(lags)} sleeps ended, most overslept {worst:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "full"))
