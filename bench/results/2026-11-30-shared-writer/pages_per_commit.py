"""What each page of an fsync'd commit costs on this disk: one row per commit into a table of
20,000 rows with 0, 2, 4 and 8 indexes on random keys (each index is one more page in the
commit), WAL, ``synchronous=FULL``, a checkpoint every 256 pages as the store's.
``python bench/results/2026-11-30-shared-writer/pages_per_commit.py``"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def median_commit_us(indexes: int, commits: int = 600) -> float:
    conn = sqlite3.connect(Path(tempfile.mkdtemp()) / "x.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA wal_autocheckpoint = 256")
    columns = "".join(f", c{i} TEXT" for i in range(indexes))
    conn.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB{columns})")
    for i in range(indexes):
        conn.execute(f"CREATE INDEX i{i} ON t (c{i})")
    names = "".join(f", c{i}" for i in range(indexes))
    insert = f"INSERT INTO t (data{names}) VALUES (?{', ?' * indexes})"

    def row() -> tuple[object, ...]:
        return (b"x" * 40, *(os.urandom(8).hex() for _ in range(indexes)))

    conn.execute("BEGIN")
    for _ in range(20_000):
        conn.execute(insert, row())
    conn.execute("COMMIT")
    times = []
    for _ in range(commits):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(insert, row())
        conn.execute("COMMIT")
        times.append(time.perf_counter() - started)
    conn.close()
    return statistics.median(times) * 1e6


for _ in range(2):
    print([(n, round(median_commit_us(n))) for n in (0, 2, 4, 8)])
