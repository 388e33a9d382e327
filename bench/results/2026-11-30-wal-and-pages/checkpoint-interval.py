"""Raw fsync'd commits (mean/median us) at checkpoint intervals of 64, 256, 1000 and 4000 pages,
the WAL grown first to at least twice the interval; three alternating rounds.

    PYTHONPATH=src .venv/bin/python bench/results/2026-11-30-wal-and-pages/checkpoint-interval.py
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


def run(ck, pre):
    p = f"{d}/c.db"
    for s in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(p + s)
    c = sqlite3.connect(p, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
    c.execute(f"PRAGMA wal_autocheckpoint={ck}")
    presize_wal(c, Path(p), pre)
    ts = []
    for i in range(3000):
        t = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO t VALUES (?, ?, ?)", (f"r{i:09d}", i, b"x" * 60))
        c.execute("COMMIT")
        ts.append(time.perf_counter() - t)
    c.close()
    return statistics.mean(ts) * 1e6, statistics.median(ts) * 1e6


res = {}
for _r in range(3):
    for ck, pre in ((64, 1024), (256, 1024), (1000, 2048), (4000, 8192)):
        m, med = run(ck, pre)
        res.setdefault(ck, []).append((m, med))
for ck, v in res.items():
    print(ck, " ".join(f"{m:.0f}/{med:.0f}" for m, med in v))
