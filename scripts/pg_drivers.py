"""Measure psycopg 3 against asyncpg on the fanout-shaped write pattern of the store.

Every "run" (``--concurrency`` of them, concurrently) writes its steps one after another; each
write is queued to a group committer, which runs everything queued in one transaction: per
write a SAVEPOINT, the fence check (``SELECT ... FOR UPDATE`` on the run row), the step upsert
and a RELEASE, then one COMMIT for the batch. This is what ``store/postgres/committer.py`` does.

Usage: python scripts/pg_drivers.py postgresql://durablex:durablex@127.0.0.1/durablex
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import psycopg

SCHEMA = """
DROP TABLE IF EXISTS bench_steps, bench_runs;
CREATE TABLE bench_runs (id TEXT PRIMARY KEY, fence BIGINT NOT NULL, status TEXT NOT NULL);
CREATE TABLE bench_steps (
    run_id TEXT NOT NULL, step_id TEXT NOT NULL, status TEXT NOT NULL, output BYTEA,
    ended_at BIGINT, PRIMARY KEY (run_id, step_id));
"""
FENCE = "SELECT fence, status FROM bench_runs WHERE id = {} FOR UPDATE"
UPSERT = (
    "INSERT INTO bench_steps (run_id, step_id, status, output, ended_at)"
    " VALUES ({}, {}, {}, {}, {})"
    " ON CONFLICT (run_id, step_id) DO UPDATE SET status = excluded.status,"
    " output = excluded.output, ended_at = excluded.ended_at"
)

Flush = Callable[[list[tuple[str, str]]], Awaitable[None]]


class Committer:
    """Queue writes; one flush at a time runs everything queued so far in one transaction."""

    def __init__(self, flush: Flush) -> None:
        self.flush = flush
        self.queue: list[tuple[tuple[str, str], asyncio.Future[None]]] = []
        self.wake = asyncio.Event()
        self.sizes: list[int] = []

    async def write(self, run_id: str, step_id: str) -> None:
        future = asyncio.get_running_loop().create_future()
        self.queue.append(((run_id, step_id), future))
        self.wake.set()
        await future

    async def loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.queue = self.queue, []
            if not batch:
                continue
            self.sizes.append(len(batch))
            await self.flush([item for item, _ in batch])
            for _, future in batch:
                future.set_result(None)


async def psycopg_flush_factory(url: str, pipeline: bool) -> Flush:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    fence = FENCE.format("%s")
    upsert = UPSERT.format("%s", "%s", "%s", "%s", "%s")

    async def write_all(items: list[tuple[str, str]]) -> None:
        for run_id, step_id in items:
            await conn.execute("SAVEPOINT w")
            cur = await conn.execute(fence, (run_id,))
            row = await cur.fetchone()
            assert row is not None and row[1] == "running"
            await conn.execute(upsert, (run_id, step_id, "completed", b'{"ok":1}', 1))
            await conn.execute("RELEASE w")

    async def flush(items: list[tuple[str, str]]) -> None:
        async with conn.transaction():
            if pipeline:
                async with conn.pipeline():
                    await write_all(items)
            else:
                await write_all(items)

    return flush


async def asyncpg_flush_factory(url: str) -> Flush:
    conn = await asyncpg.connect(url)
    fence = FENCE.format("$1")
    upsert = UPSERT.format("$1", "$2", "$3", "$4", "$5")

    async def flush(items: list[tuple[str, str]]) -> None:
        async with conn.transaction():
            for run_id, step_id in items:
                await conn.execute("SAVEPOINT w")
                row = await conn.fetchrow(fence, run_id)
                assert row is not None and row[1] == "running"
                await conn.execute(upsert, run_id, step_id, "completed", b'{"ok":1}', 1)
                await conn.execute("RELEASE w")

    return flush


async def measure(
    url: str, name: str, flush: Flush, concurrency: int, steps: int
) -> dict[str, Any]:
    setup = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await setup.execute(SCHEMA)
    async with setup.cursor() as cur:
        await cur.executemany(
            "INSERT INTO bench_runs VALUES (%s, 1, 'running')",
            [(f"r{i}",) for i in range(concurrency)],
        )
    await setup.close()
    committer = Committer(flush)
    loop_task = asyncio.create_task(committer.loop())
    latencies: list[float] = []

    async def one_run(i: int) -> None:
        for s in range(steps):
            t0 = time.perf_counter()
            await committer.write(f"r{i}", f"s{s}")
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one_run(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - t0
    loop_task.cancel()
    latencies.sort()
    return {
        "driver": name,
        "writes": concurrency * steps,
        "seconds": round(elapsed, 2),
        "writes_per_s": round(concurrency * steps / elapsed),
        "mean_batch": round(statistics.mean(committer.sizes), 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    variants: list[tuple[str, Callable[[], Awaitable[Flush]]]] = [
        ("psycopg 3 (pipeline)", lambda: psycopg_flush_factory(args.url, True)),
        ("psycopg 3 (no pipeline)", lambda: psycopg_flush_factory(args.url, False)),
        ("asyncpg", lambda: asyncpg_flush_factory(args.url)),
    ]
    for round_ in range(args.rounds):
        for name, factory in variants:
            result = await measure(args.url, name, await factory(), args.concurrency, args.steps)
            print(round_, result, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
