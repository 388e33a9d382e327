"""Raw fsync'd commits (mean, median us) on a new database against one grown ahead by 4,096 free
pages (a filler table dropped), so that checkpoints write inside the file; WAL grown first.

    PYTHONPATH=src .venv/bin/python bench/results/2026-11-30-wal-and-pages/database-growth.py
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


def run(pregrow):
    p = f"{d}/g.db"
    for s in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(p + s)
    c = sqlite3.connect(p, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
    c.execute("PRAGMA wal_autocheckpoint=256")
    if pregrow:
        c.execute("PRAGMA wal_autocheckpoint=0")
        c.execute("CREATE TABLE filler (b BLOB)")
        c.execute("INSERT INTO filler VALUES (zeroblob(?))", (pregrow * 4096,))
        c.execute("DROP TABLE filler")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.execute("PRAGMA wal_autocheckpoint=256")
    presize_wal(c, Path(p), 1024)
    ts = []
    for i in range(3000):
        t = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO t VALUES (?, ?, ?)", (f"r{i:09d}", i, b"x" * 200))
        c.execute("COMMIT")
        ts.append(time.perf_counter() - t)
    free = c.execute("PRAGMA freelist_count").fetchone()[0]
    c.close()
    return statistics.mean(ts) * 1e6, statistics.median(ts) * 1e6, max(ts) * 1e3, free


for _r in range(4):
    for pg in (0, 4096):
        m, med, mx, free = run(pg)
        print(f"pregrow={pg}: mean {m:.0f} median {med:.0f} max {mx:.1f} ms free left {free}")
