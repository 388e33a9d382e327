"""The latency round trip on PostgreSQL, in this process: 200 trips of a 1-step run started
beside its runner, with the size and time of every transaction of the group committer and the
time of the workflow's resolution read (only runs begun before their start commits make one).

    PYTHONPATH=src:. python bench/results/2026-11-30-begun-starts/pg_round_trip.py URL

URL: a PostgreSQL server (a fresh database is made and dropped). Prints, by batch size, how
many transactions and their median ms, the median read, and the median round trip.
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import sys
import time
from typing import Any

from bench.apps import make_app
from bench.worker import fresh_pg_database

import durablex
from durablex.store.postgres import committer
from durablex.store.postgres import store as pg_store

TRANSACTIONS: list[tuple[int, float]] = []
READS: list[float] = []


def instrument() -> None:
    transaction = committer.GroupCommitter._transaction

    async def timed(self: Any, batch: Any) -> Any:
        t = time.perf_counter()
        try:
            return await transaction(self, batch)
        finally:
            TRANSACTIONS.append((len(batch), time.perf_counter() - t))

    committer.GroupCommitter._transaction = timed  # type: ignore[method-assign]
    resolve = pg_store.PostgresStore.resolve_workflow

    async def read(self: Any, *args: Any) -> Any:
        t = time.perf_counter()
        try:
            return await resolve(self, *args)
        finally:
            READS.append(time.perf_counter() - t)

    pg_store.PostgresStore.resolve_workflow = read  # type: ignore[method-assign]


async def main(server: str) -> None:
    url, drop = fresh_pg_database(server)
    trips: list[float] = []
    try:
        async with durablex.Runner(make_app(), db=url), durablex.AsyncClient(url) as client:
            for _ in range(20):
                await (await client.start("seq", {"n": 1})).result(timeout=30)
            TRANSACTIONS.clear()
            READS.clear()
            for _ in range(200):
                t = time.perf_counter()
                await (await client.start("seq", {"n": 1})).result(timeout=30)
                trips.append(time.perf_counter() - t)
    finally:
        drop()
    by_size: dict[int, list[float]] = collections.defaultdict(list)
    for size, took in TRANSACTIONS:
        by_size[size].append(took)
    print(
        "transactions by size:",
        {n: (len(v), round(statistics.median(v) * 1e3, 3)) for n, v in sorted(by_size.items())},
        "read ms:",
        round(statistics.median(READS) * 1e3, 3) if READS else None,
        "round trip p50 ms:",
        round(statistics.median(trips) * 1e3, 3),
    )


if __name__ == "__main__":
    instrument()
    asyncio.run(main(sys.argv[1]))
