"""A seq step's path stamped at nineteen points, in a worktree with ``step-stamps.patch``:

    git worktree add /tmp/probe HEAD && git -C /tmp/probe apply \
        "$PWD/bench/results/2026-12-01-intel/step-stamps.patch"
    (cd /tmp/probe && PYTHONPATH=src:. /work/main/.venv/bin/python \
        /work/main/bench/results/2026-12-01-intel/step_stamps.py full)

The patch adds ``durablex._probe`` (a list of ``perf_counter_ns`` stamps) and calls it along a
step's path in ``runtime/execution.py`` and ``store/sqlite/committer.py``; this script runs one
seq run of 5,000 steps (``full`` or ``process`` durability) and prints the median of every
interval between consecutive stamps, and their sum.
"""

import asyncio
import itertools
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import apps

import durablex
from durablex import _probe  # type: ignore[attr-defined]  # from step-stamps.patch

body = apps.body


def stamped_body(i: int, sync: bool) -> Any:
    _probe.s("wf-calls-step")
    return body(i, sync)


apps.body = stamped_body


async def main(mode: str) -> None:
    path = Path(tempfile.mkdtemp()) / "stamps.db"
    url = f"sqlite:///{path}?durability={mode}"
    async with durablex.Runner(apps.make_app(), db=url), durablex.AsyncClient(url) as client:
        await (await client.start("seq", {"n": 3})).result(timeout=30)
        _probe.STAMPS.clear()
        await (await client.start("seq", {"n": 5000})).result(timeout=60)
    intervals: dict[str, list[float]] = {}
    for (a, ta), (b, tb) in itertools.pairwise(_probe.STAMPS):
        intervals.setdefault(f"{a} -> {b}", []).append((tb - ta) / 1000)
    total = 0.0
    for name, values in intervals.items():
        if len(values) > 1000:
            median = statistics.median(values)
            total += median
            print(f"{mode:8s} {name:34s} n={len(values):5d} median {median:6.2f} us")
    print(f"{mode} sum of medians {total:.1f} us")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "full"))
