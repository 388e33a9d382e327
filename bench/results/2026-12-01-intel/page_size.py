"""The seq floor (``bench.raw.step_floor``) on store files of other page sizes:
``PYTHONPATH=src:. python bench/results/2026-12-01-intel/page_size.py [ROUNDS]``.

Each round measures 3,000 step records on a new file at 4,096 (SQLite's default, the store's),
8,192, 16,384 and 1,024-byte pages, in that order; prints steps/s.
"""

import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import raw

from durablex.store.sqlite import connection

SIZES = (4096, 8192, 16384, 1024)


def floor_at(page_size: int) -> float:
    def connect(path: Path, **kwargs: Any) -> sqlite3.Connection:
        new = sqlite3.connect(str(path))
        new.execute(f"PRAGMA page_size = {page_size}")
        new.execute("VACUUM")
        new.close()
        conn = connection.connect(path, **kwargs)
        got = conn.execute("PRAGMA page_size").fetchone()[0]
        assert got == page_size, (got, page_size)
        return conn

    raw.connect = connect
    return float(raw.step_floor(Path(tempfile.mkdtemp()) / "floor.db", steps=3000)["rows_per_s"])


if __name__ == "__main__":
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print("  ".join(f"{size}: {floor_at(size):,.0f}" for size in SIZES), flush=True)
