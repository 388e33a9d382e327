"""The floors of ``bench.raw`` for the engine checked out where this runs (one JSON line).

    cd TREE && PYTHONPATH=TREE/src:TREE python $MAIN/bench/results/2026-11-30-set-sends/floors.py

Used for the variants measured and not kept in the tenth session of 2026-11-30: a worktree of
11e6c0c with ``runs-without-rowid.sql`` added as ``migrations/0003_runs_by_id.sql`` of the
SQLite store, then also with ``start_run`` not inserting the invoked event's row, against this
checkout, alternating (``bench.event_floor --R 10000`` was run the same way).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench import raw

import durablex


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dxbench-floors-") as tmp:
        folder = Path(tmp)
        one = raw.engine_floor(folder / "e.db", runs=400)
        steps = raw.step_floor(folder / "s.db", steps=2000)
        fair = raw.raw_commit(
            folder / "r.db",
            synchronous="FULL",
            rows=2000,
            batch=1,
            autocheckpoint=raw.WAL_AUTOCHECKPOINT_PAGES,
            presize=raw.WAL_PRESIZE_PAGES,
        )
    print(
        json.dumps(
            {
                "tree": durablex.__file__.split("/src/")[0],
                "onestep_ms": one["commit_ms"],
                "start_ms": one["start_ms"],
                "step_end_ms": one["step_end_ms"],
                "step_floor_per_s": steps["rows_per_s"],
                "raw_store_wal_ms": fair["commit_ms"],
            }
        )
    )


if __name__ == "__main__":
    main()
