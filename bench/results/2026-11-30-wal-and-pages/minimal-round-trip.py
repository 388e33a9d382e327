"""The least a durable 1-step round trip can commit, against the engine's own transactions and a
raw commit, on the same disk with the store's WAL set-up (checkpoint every 256 pages, the WAL
grown first): median µs of each, 300 runs after 20 of warm-up, three alternating rounds.

- raw: one row of 3 columns into a WITHOUT ROWID table, one fsync'd commit.
- minimal: a run row keyed by its id (WITHOUT ROWID, no other index) inserted in one fsync'd
  commit; then its step row inserted and its run row updated in another. Nothing else (no event,
  no index for listing, no lease, no fence): what any engine that makes a start durable before
  start() returns, and the end before result() returns, must commit at the least.
- engine: ``bench.raw.engine_floor``, the engine's own two transactions (``raw_engine_1step``).

    PYTHONPATH=src:. .venv/bin/python bench/results/2026-11-30-wal-and-pages/minimal-round-trip.py
"""

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench.raw import engine_floor, remove_database

from durablex.core.ids import new_id
from durablex.store.sqlite.connection import presize_wal

RUNS = 300


def connect(path: Path) -> sqlite3.Connection:
    remove_database(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA wal_autocheckpoint = 256")
    presize_wal(conn, path, 1024)
    return conn


def commit(conn: sqlite3.Connection, sql: str, *params: tuple[object, ...]) -> float:
    t = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for statement, values in zip(sql.split(";"), params, strict=True):
        conn.execute(statement, values)
    conn.execute("COMMIT")
    return time.perf_counter() - t


def raw(path: Path) -> float:
    conn = connect(path)
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
    took = [
        commit(conn, "INSERT INTO t VALUES (?, ?, ?)", (new_id(), i, b'{"i": 1}'))
        for i in range(RUNS + 20)
    ]
    conn.close()
    remove_database(path)
    return statistics.median(took[20:]) * 1e6


def minimal(path: Path) -> tuple[float, float]:
    conn = connect(path)
    conn.execute(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, workflow TEXT, status TEXT, input BLOB,"
        " output BLOB) WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE steps (run_id TEXT, step_id TEXT, output BLOB,"
        " PRIMARY KEY (run_id, step_id)) WITHOUT ROWID"
    )
    starts, ends = [], []
    for _ in range(RUNS + 20):
        run_id = new_id()
        starts.append(
            commit(
                conn,
                "INSERT INTO runs VALUES (?, 'one', 'running', ?, NULL)",
                (run_id, b'{"n": 1}'),
            )
        )
        ends.append(
            commit(
                conn,
                "INSERT INTO steps VALUES (?, 's0', ?);"
                "UPDATE runs SET status = 'completed', output = ? WHERE id = ?",
                (run_id, b'{"i": 0}'),
                (b"1", run_id),
            )
        )
    conn.close()
    remove_database(path)
    return statistics.median(starts[20:]) * 1e6, statistics.median(ends[20:]) * 1e6


with tempfile.TemporaryDirectory() as tmp:
    for _ in range(3):
        r = raw(Path(tmp) / "raw.db")
        start, end = minimal(Path(tmp) / "minimal.db")
        engine = engine_floor(Path(tmp) / "engine.db")
        print(
            f"raw {r:.0f} us | minimal: start {start:.0f} + step and end {end:.0f} = "
            f"{start + end:.0f} us = {(start + end) / r:.2f} raw | engine: start "
            f"{engine['start_ms'] * 1000:.0f} + step and end {engine['step_end_ms'] * 1000:.0f}"
            f" = {engine['commit_ms'] * 1000:.0f} us = {engine['commit_ms'] * 1000 / r:.2f} raw"
        )
