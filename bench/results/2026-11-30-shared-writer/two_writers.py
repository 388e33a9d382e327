"""One insert and one update per commit, on one connection or alternately on two, on a store
file (``python bench/results/2026-11-30-shared-writer/two_writers.py``, ``PYTHONPATH=src``):
SQLite empties a connection's page cache when another connection has written, so the
statements of two writers taking turns cost more than those of one writer."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from durablex.core.ids import new_id
from durablex.store.sqlite.connection import connect, migrate

INSERT = (
    "INSERT INTO runs (id, app, workflow, status, input, event_id, created_at, due_at, fence)"
    " VALUES (?, 'a', 'w', 'running', x'00', ?, ?, ?, 1)"
)
UPDATE = (
    "UPDATE runs SET status = 'completed', output = x'01', ended_at = ?, due_at = NULL WHERE id = ?"
)


def medians(two: bool, n: int = 1000) -> tuple[float, float]:
    path = Path(tempfile.mkdtemp()) / "x.db"
    first = connect(path, durability="process")
    migrate(first, path)
    second = connect(path, durability="process") if two else first
    inserts, updates = [], []
    for i in range(n):
        run_id = new_id()
        first.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        first.execute(INSERT, (run_id, new_id(), i, i + 10**9))
        inserts.append(time.perf_counter() - started)
        first.execute("COMMIT")
        second.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        second.execute(UPDATE, (i, run_id))
        updates.append(time.perf_counter() - started)
        second.execute("COMMIT")
    return statistics.median(inserts) * 1e6, statistics.median(updates) * 1e6


for two in (False, True, False, True):
    insert, update = medians(two)
    label = "two connections" if two else "one connection "
    print(f"{label} insert p50 {insert:.1f} us, update p50 {update:.1f} us")
