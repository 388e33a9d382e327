"""µs a step of sequential runs on one runner in this process:
``PYTHONPATH=src:. python bench/results/2026-12-01-intel/per_step.py full|process``.

Five seq runs of 5,000 no-op steps on a new store file, one after the other; prints the least
and the median time a step (from ``start()`` to the result, over the steps). Run in two
checkouts alternately to compare two engines (``key-by-seq.patch``: the step table keyed by
``(run_id, seq)`` in new files).
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
    per_step = []
    async with durablex.Runner(make_app(), db=url), durablex.AsyncClient(url) as client:
        await (await client.start("seq", {"n": 3})).result(timeout=30)
        for _ in range(5):
            start = time.perf_counter()
            await (await client.start("seq", {"n": 5000})).result(timeout=60)
            per_step.append((time.perf_counter() - start) / 5000 * 1e6)
    per_step.sort()
    print(f"{mode}: us/step min {per_step[0]:.1f} median {per_step[2]:.1f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "full"))
