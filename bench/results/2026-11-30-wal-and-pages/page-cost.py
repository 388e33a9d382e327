"""What a page costs an fsync'd commit: one row into a 20,000-row table with 0 or 8 random-key
indexes, at 4096 and 1024-byte pages (median us); three rounds.

    PYTHONPATH=src .venv/bin/python bench/results/2026-11-30-wal-and-pages/page-cost.py
"""

import contextlib
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from durablex.store.sqlite.connection import presize_wal

d = tempfile.mkdtemp()


def run(ps, nidx):
    p = f"{d}/ps.db"
    for s in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(p + s)
    c = sqlite3.connect(p, isolation_level=None)
    c.execute(f"PRAGMA page_size={ps}")
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    cols = ", ".join(f"c{i} TEXT" for i in range(8))
    c.execute(f"CREATE TABLE t (id TEXT PRIMARY KEY, {cols})")
    for i in range(nidx):
        c.execute(f"CREATE INDEX i{i} ON t (c{i})")
    c.execute("PRAGMA wal_autocheckpoint=256")
    presize_wal(c, Path(p), 1024 * 4096 // ps)
    # prefill so trees have depth
    c.execute("BEGIN")
    for i in range(20000):
        c.execute(
            f"INSERT INTO t VALUES (?, {', '.join('?' * 8)})",
            (f"p{i}", *[os.urandom(8).hex() for _ in range(8)]),
        )
    c.execute("COMMIT")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    presize_wal(c, Path(p), 1024 * 4096 // ps)
    ts = []
    for i in range(1500):
        t = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        c.execute(
            f"INSERT INTO t VALUES (?, {', '.join('?' * 8)})",
            (f"r{i}", *[os.urandom(8).hex() for _ in range(8)]),
        )
        c.execute("COMMIT")
        ts.append(time.perf_counter() - t)
    c.close()
    return statistics.median(ts) * 1e6


res = {}
for _r in range(3):
    for ps in (4096, 1024):
        for nidx in (0, 8):
            res.setdefault((ps, nidx), []).append(run(ps, nidx))
for k, v in res.items():
    print(k, " ".join(f"{x:.0f}" for x in v))
