"""Fsync'd single-row commits into a new WAL that grows, against the same into a WAL grown to
its size first (durablex.store.sqlite.connection.presize_wal), with the store's checkpoint
setting (256 pages): the median commit of the first 250 (while the growing WAL is extended)
and of those after the 300th (once both rewrite their WAL in place), eight alternating rounds.

    .venv/bin/python bench/results/2026-11-30-wal-and-pages/wal-growth.py
"""

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from durablex.store.sqlite.connection import presize_wal


def fresh(path: Path) -> sqlite3.Connection:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA wal_autocheckpoint = 256")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    return conn


def commits(conn: sqlite3.Connection, n: int) -> tuple[float, float]:
    took = []
    for _ in range(n):
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (b"x" * 50,))
        conn.execute("COMMIT")
        took.append(time.perf_counter() - t)
    return statistics.median(took[:250]) * 1e6, statistics.median(took[300:]) * 1e6


with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "w.db"
    for _ in range(8):
        conn = fresh(path)
        grown = commits(conn, 1500)
        conn.close()
        conn = fresh(path)
        presize_wal(conn, path, 1024)
        presized = commits(conn, 1500)
        conn.close()
        print(
            f"growing WAL: first 250 {grown[0]:.0f} us, after 300 {grown[1]:.0f} us | "
            f"presized: first 250 {presized[0]:.0f} us, after 300 {presized[1]:.0f} us"
        )
