"""Time every SQL statement of a workload by its text, with the runner and the client in this
process: ``python bench/results/2026-11-30-shared-writer/statement_times.py [--workload latency]
[--params '{"K": 1000}'] [--durability process]`` (from the repository root, ``PYTHONPATH=.``).

Each statement is timed by a ``sqlite3.Connection`` subclass that the store's ``connect`` is
made to use; the figures are per round trip (``K``) or per step (``N``), and the median of the
transactions' ``BEGIN IMMEDIATE`` and ``COMMIT`` is printed beside the mean, as a WAL checkpoint
now and then makes the mean of ``COMMIT`` much larger than its usual cost.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import workloads

from durablex.store.sqlite import connection

TIMES: dict[str, list[float]] = collections.defaultdict(list)


class TimedConnection(sqlite3.Connection):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        started = time.perf_counter()
        try:
            return super().execute(sql, *args)
        finally:
            TIMES[" ".join(sql.split())[:70]].append(time.perf_counter() - started)


def timed_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    return sqlite3.connect(*args, factory=TimedConnection, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", default="latency")
    parser.add_argument("--params", default='{"K": 1000}')
    parser.add_argument("--durability", default="process", choices=["full", "process"])
    args = parser.parse_args()
    params = json.loads(args.params)
    units = params.get("K") or params.get("N") or 1
    connection.sqlite3 = type(  # type: ignore[assignment]
        "TimedSqlite3", (), {**vars(sqlite3), "connect": staticmethod(timed_connect)}
    )
    path = Path(tempfile.mkdtemp()) / "bench.db"
    ctx = workloads.Ctx(f"sqlite:///{path}?durability={args.durability}", path, False, 1000, 60.0)
    result = asyncio.run(getattr(workloads, args.workload)(ctx, params))
    print(f"{args.workload} {params} {args.durability}: p50 {result.get('p50_ms')} ms")
    per_unit = sorted(TIMES.items(), key=lambda item: -sum(item[1]))
    for sql, times in per_unit[:12]:
        print(
            f"{sum(times) / units * 1e6:8.1f} us per unit  {len(times) / units:5.2f} per unit"
            f"  median {statistics.median(times) * 1e6:7.1f} us  {sql}"
        )
    total = sum(sum(times) for times in TIMES.values())
    print(f"all statements: {total / units * 1e6:.1f} us per unit")


if __name__ == "__main__":
    main()
