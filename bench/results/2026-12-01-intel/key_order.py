"""Does the order of the step table's key matter to a sequential step's commit?
``PYTHONPATH=src python bench/results/2026-12-01-intel/key_order.py [ROUNDS]``.

Commits 3,000 step rows of one run (ids s0, s1, ...), one fsync'd transaction each, into the
store's step table keyed as it is, by ``(run_id, step_id)`` (the ids do not arrive in key order,
so leaf pages split in the middle), and into the same table keyed by ``(run_id, seq)`` (every
row appended at the right edge), on new files with the store's connection and WAL set-up,
alternating; prints rows/s.
"""

import sys
import tempfile
import time
from pathlib import Path

from durablex.store.sqlite.connection import connect, set_up_wal

KEYS = ("run_id, step_id", "run_id, seq")
RUN_ID = "01M8QG32D2JA37XHARY9RMS5XF"


def rate(key: str, rows: int = 3000) -> float:
    path = Path(tempfile.mkdtemp()) / "steps.db"
    conn = connect(path, durability="full")
    conn.execute(
        "CREATE TABLE steps (run_id TEXT NOT NULL, step_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " kind TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " input BLOB, output BLOB, error BLOB, after BLOB, started_at INTEGER, ended_at INTEGER,"
        " wake_at INTEGER, child_run_id TEXT, event_id TEXT,"
        f" PRIMARY KEY ({key})) WITHOUT ROWID"
    )
    set_up_wal(conn, path, "full")
    sql = (
        "INSERT INTO steps (run_id, step_id, seq, kind, status, attempts, output, after,"
        " started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT ({key}) DO UPDATE SET status = excluded.status"
    )
    start = time.perf_counter()
    for i in range(rows):
        conn.execute("BEGIN IMMEDIATE")
        output = b'{"i":%d}' % i
        conn.execute(sql, (RUN_ID, f"s{i}", i + 1, "run", "completed", 1, output, b"[]", 1, 2))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


if __name__ == "__main__":
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print("  ".join(f"({key}): {rate(key):,.0f}" for key in KEYS), flush=True)
