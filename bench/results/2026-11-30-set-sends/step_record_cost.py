"""A raw single-row commit against the engine's step record, interleaved commit by commit.

    PYTHONPATH=src:. python bench/results/2026-11-30-set-sends/step_record_cost.py [--commits 3000]

Two files with the store's WAL set-up, one process: a raw ``BEGIN IMMEDIATE; INSERT; COMMIT``
(as ``bench.raw``'s ``raw_commit_store_wal``), then the engine's fenced step upsert
(``writes._FENCED_UPSERT_STEP``) into a store file, alternately, so that both see the same
moments of the disk. Prints the median µs of the BEGIN, the statement and the COMMIT of each.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.raw import (
    PAYLOAD,
    RAW_INSERT,
    WAL_AUTOCHECKPOINT_PAGES,
    WAL_PRESIZE_PAGES,
    raw_table,
    running_run,
    store_file,
)

from durablex.store.base import StepRow
from durablex.store.rows import step_params
from durablex.store.sqlite import writes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dxbench-step-record-") as tmp:
        raw = raw_table(Path(tmp) / "raw.db", "FULL", WAL_AUTOCHECKPOINT_PAGES, WAL_PRESIZE_PAGES)
        engine = store_file(Path(tmp) / "engine.db")
        run_id = running_run(engine)
        parts: dict[str, list[list[float]]] = {"raw": [[], [], []], "engine": [[], [], []]}

        def commit(side: str, conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> None:
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            t1 = time.perf_counter()
            conn.execute(sql, params)
            t2 = time.perf_counter()
            conn.execute("COMMIT")
            t3 = time.perf_counter()
            for part, took in zip(parts[side], (t1 - t0, t2 - t1, t3 - t2), strict=True):
                part.append(took)

        for i in range(args.commits):
            row = (f"r{i:09d}", i, PAYLOAD)
            commit("raw", raw, RAW_INSERT, row)
            step = StepRow(
                step_id=f"s{i}",
                seq=i + 1,
                kind="run",
                status="completed",
                attempts=1,
                output=b'{"i":%d}' % i,
                started_at_us=1,
                ended_at_us=2,
            )
            params = (*step_params(run_id, step), run_id, 1)
            commit("engine", engine, writes._FENCED_UPSERT_STEP, params)
        raw.close()
        engine.close()
    for side, (begin, statement, end) in parts.items():
        medians = [statistics.median(x) * 1e6 for x in (begin, statement, end)]
        print(
            f"{side:7s} begin {medians[0]:6.1f}  statement {medians[1]:6.1f}"
            f"  commit {medians[2]:6.1f}  (median µs of {args.commits} commits)"
        )


if __name__ == "__main__":
    main()
