"""The reads a seq run costs the runner and a client waiting for its result beside it:
``PYTHONPATH=src:. python bench/results/2026-12-01-loop-turns/client_reads.py full|process``.

One seq run of 5,000 no-op steps on a runner in this process, started and awaited by a client
on the same loop; counts each read function of the SQLite store called meanwhile.
"""

import asyncio
import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.apps import make_app

import durablex
from durablex.store.sqlite import reads

CALLS: collections.Counter[str] = collections.Counter()


def counted(name: str, fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        CALLS[name] += 1
        return fn(*args, **kwargs)

    return wrapper


for name, fn in list(vars(reads).items()):
    if (
        callable(fn)
        and not name.startswith("_")
        and getattr(fn, "__module__", "") == reads.__name__
    ):
        setattr(reads, name, counted(name, fn))


async def main(mode: str) -> None:
    path = Path(tempfile.mkdtemp()) / "steps.db"
    url = f"sqlite:///{path}?durability={mode}"
    async with durablex.Runner(make_app(), db=url), durablex.AsyncClient(url) as client:
        await (await client.start("seq", {"n": 3})).result(timeout=30)
        await asyncio.sleep(0.5)
        CALLS.clear()
        start = time.perf_counter()
        await (await client.start("seq", {"n": 5000})).result(timeout=60)
        per_step = (time.perf_counter() - start) / 5000 * 1e6
    print(f"{mode}: {per_step:.1f} us a step; reads: {dict(sorted(CALLS.items()))}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "full"))
