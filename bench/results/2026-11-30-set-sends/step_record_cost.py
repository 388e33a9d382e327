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

from bench.raw import PAYLOAD, WAL_AUTOCHECKPOINT_PAGES, WAL_PRESIZE_PAGES

from durablex.store.base import StepRow
from durablex.store.rows import step_params
from durablex.store.sqlite import writes
from durablex.store.sqlite.committer import Tx
from durablex.store.sqlite.connection import connect, migrate, presize_wal, set_up_wal


def raw_file(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    presize_wal(conn, path, WAL_PRESIZE_PAGES)
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
    return conn


def store_file(path: Path) -> tuple[sqlite3.Connection, str]:
    conn = connect(path, durability="full")
    migrate(conn, path)
    set_up_wal(conn, path, "full")
    conn.execute("BEGIN IMMEDIATE")
    tx = Tx(conn, time.time_ns() // 1000)
    run_id = writes.insert_run(tx, app="bench", workflow="seq", input=None, event_id="e")[0]
    conn.execute("UPDATE runs SET status = 'running', fence = 1 WHERE id = ?", (run_id,))
    conn.execute("COMMIT")
    return conn, run_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dxbench-step-record-") as tmp:
        raw = raw_file(Path(tmp) / "raw.db")
        engine, run_id = store_file(Path(tmp) / "engine.db")
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
            commit("raw", raw, "INSERT INTO t VALUES (?, ?, ?)", row)
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
