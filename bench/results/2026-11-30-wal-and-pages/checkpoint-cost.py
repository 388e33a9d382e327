"""What a checkpoint costs: after 16 to 1,024 fsync'd commits with automatic checkpoints off,
the time of a passive checkpoint and of the commit after it (which restarts the WAL).

    PYTHONPATH=src .venv/bin/python bench/results/2026-11-30-wal-and-pages/checkpoint-cost.py
"""

import os
import sqlite3
import tempfile
import time
from pathlib import Path

from durablex.store.sqlite.connection import presize_wal

d = tempfile.mkdtemp()
p = f"{d}/k.db"
c = sqlite3.connect(p, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
c.execute("PRAGMA wal_autocheckpoint=0")
presize_wal(c, Path(p), 4096)
i = 0
for n in (16, 64, 256, 1024, 16, 64, 256, 1024):
    for _ in range(n):
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO t VALUES (?, ?, ?)", (f"r{i:09d}", i, b"x" * 200))
        c.execute("COMMIT")
        i += 1
    t = time.perf_counter()
    r = c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    took = time.perf_counter() - t
    # the restart happens on the next write
    t = time.perf_counter()
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO t VALUES (?, ?, ?)", (f"r{i:09d}", i, b"x" * 200))
    c.execute("COMMIT")
    i += 1
    nxt = time.perf_counter() - t
    print(
        f"{n} commits: checkpoint {took * 1e3:.1f} ms (log {r[1]}, done {r[2]}); "
        f"next commit {nxt * 1e6:.0f} us; db {os.path.getsize(p) // 4096} pages"
    )
