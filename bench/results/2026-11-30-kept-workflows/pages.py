"""WAL frames and fsync'd times of a 1-step run's two transactions, with index variants.

    PYTHONPATH=src:. python bench/results/2026-11-30-kept-workflows/pages.py [ROUNDS]

The start (claimed for its runner) and the step with the run's end, as ``bench.raw``'s
``engine_floor`` makes them, 300 runs one after the other on a fresh store file per variant,
each variant's SQL applied to the file as the store opens it. Frames per commit are read from
the WAL index's header (``mxFrame``, bytes 16-20 of the ``-shm`` file). Prints the median
frames and ms of each transaction, one JSON line per variant and round.
"""

from __future__ import annotations

import json
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.raw import engine_tx, one_step_runner, start_one_step, step_and_end, store_file

STATUS_PARTIAL = (
    "DROP INDEX runs_status_created; CREATE INDEX runs_status_created"
    " ON runs (status, created_at) WHERE status <> 'completed';"
)
NAME_PARTIAL = (
    "DROP INDEX events_name; CREATE INDEX events_name"
    " ON events (name, seq) WHERE name <> 'durablex/workflow.invoked';"
)
NO_CREATED = "DROP INDEX runs_created;"
VARIANTS = {
    "current": "",
    "status_partial": STATUS_PARTIAL,
    "events_name_partial": NAME_PARTIAL,
    "no_runs_created": NO_CREATED,
    "all_three": STATUS_PARTIAL + NAME_PARTIAL + NO_CREATED,
}


def frames(path: Path) -> int:
    with open(f"{path}-shm", "rb") as shm:
        return int(struct.unpack("<I", shm.read(20)[16:20])[0])


def measure(variant: str, runs: int = 300) -> dict[str, Any]:
    written: dict[str, list[int]] = {"start": [], "step_end": []}
    took: dict[str, list[float]] = {"start": [], "step_end": []}
    with tempfile.TemporaryDirectory(prefix="dxbench-pages-") as tmp:
        path = Path(tmp) / "pages.db"
        conn = store_file(path)
        conn.executescript(VARIANTS[variant])
        taker = one_step_runner(conn)
        for _ in range(runs):
            before, t0 = frames(path), time.perf_counter()
            run_id, claimed = engine_tx(conn, start_one_step, taker)
            assert claimed is not None
            started, t1 = frames(path), time.perf_counter()
            engine_tx(conn, step_and_end, run_id, claimed[3])
            ended, t2 = frames(path), time.perf_counter()
            took["start"].append(t1 - t0)
            took["step_end"].append(t2 - t1)
            # a checkpoint restarts the WAL: that commit's count is not a difference
            if started > before:
                written["start"].append(started - before)
            if ended > started:
                written["step_end"].append(ended - started)
        conn.close()
    line: dict[str, Any] = {"variant": variant}
    for name in written:
        line[f"{name}_frames"] = statistics.median(written[name])
        line[f"{name}_ms"] = round(statistics.median(took[name]) * 1000, 3)
    return line


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    for _ in range(rounds):
        for variant in VARIANTS:
            print(json.dumps(measure(variant)), flush=True)


if __name__ == "__main__":
    main()
