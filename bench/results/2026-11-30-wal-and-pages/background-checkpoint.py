"""Raw fsync'd commits with SQLite's checkpoint every 256 pages in the committing connection
(inline) against a thread making a passive checkpoint every 200 commits (bg); WAL grown first.

    PYTHONPATH=src .venv/bin/python bench/results/2026-11-30-wal-and-pages/background-checkpoint.py
"""

import contextlib
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from durablex.store.sqlite.connection import presize_wal

d = tempfile.mkdtemp()


def fresh(name):
    p = f"{d}/{name}.db"
    for s in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(p + s)
    c = sqlite3.connect(p, isolation_level=None, check_same_thread=False)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
    presize_wal(c, Path(p), 1024)
    return c, p


N = 2000


def run(mode):
    c, p = fresh(mode)
    if mode == "inline":
        c.execute("PRAGMA wal_autocheckpoint=256")
    else:
        c.execute("PRAGMA wal_autocheckpoint=0")
        ck = sqlite3.connect(p, isolation_level=None, check_same_thread=False)
        ck.execute("PRAGMA synchronous=FULL")
        want = threading.Event()
        stop = False

        def loop():
            while not stop:
                want.wait()
                want.clear()
                if stop:
                    break
                ck.execute("PRAGMA wal_checkpoint(PASSIVE)")

        th = threading.Thread(target=loop, daemon=True)
        th.start()
    ts = []
    t0 = time.perf_counter()
    for i in range(N):
        t = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO t VALUES (?, ?, ?)", (f"r{i:09d}", i, b"x" * 60))
        c.execute("COMMIT")
        ts.append(time.perf_counter() - t)
        if mode == "bg" and i % 200 == 199:
            want.set()
    wall = time.perf_counter() - t0
    if mode == "bg":
        stop = True
        want.set()
        th.join()
    walsz = os.path.getsize(p + "-wal")
    c.close()
    return wall / N * 1e6, statistics.median(ts) * 1e6, max(ts) * 1e3, walsz


for _r in range(4):
    for m in ("inline", "bg"):
        w, med, mx, wal = run(m)
        print(f"{m:6} mean {w:.0f} us median {med:.0f} max {mx:.1f} ms wal {wal}")
