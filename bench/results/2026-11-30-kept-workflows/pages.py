"""WAL frames and fsync'd times of a 1-step run's two transactions, with index variants.

    PYTHONPATH=src:. python bench/results/2026-11-30-kept-workflows/pages.py [ROUNDS]

The start (claimed for its runner, as ``bench.raw.engine_floor`` makes it) and the step with
the run's end, 300 runs one after the other on a fresh store file per variant, each variant's
SQL applied after the store's migrations. Frames per commit are read from the WAL index's
header (``mxFrame``, bytes 16-20 of the ``-shm`` file). Prints the median frames and ms of each
transaction, one JSON line per variant and round.
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

from bench.raw import engine_tx

from durablex.store.base import HandOff, StepRow, WorkflowRegistration
from durablex.store.sqlite import writes
from durablex.store.sqlite.committer import Tx
from durablex.store.sqlite.connection import connect, migrate, set_up_wal

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
    step = StepRow(
        step_id="s0", seq=1, kind="run", status="completed", attempts=1, output=b'{"i":0}'
    )

    def step_end(t: Tx, run_id: str, fence: int) -> None:
        writes.record_step(t, run_id, fence, step, None, None)
        writes.complete_run(t, run_id, fence, b"1")

    written: dict[str, list[int]] = {"start": [], "step_end": []}
    took: dict[str, list[float]] = {"start": [], "step_end": []}
    with tempfile.TemporaryDirectory(prefix="dxbench-pages-") as tmp:
        path = Path(tmp) / "pages.db"
        conn = connect(path, durability="full")
        migrate(conn, path)
        conn.executescript(VARIANTS[variant])
        set_up_wal(conn, path, "full")
        reg = [WorkflowRegistration(app="bench", name="one", triggers=())]
        engine_tx(conn, writes.register_runner, "r", "host", 1, ["bench"], reg)
        taker = HandOff(runner="r", lease_us=30_000_000, serves=lambda app, workflow: True)
        for _ in range(runs):
            before, t0 = frames(path), time.perf_counter()
            run_id, claimed = engine_tx(
                conn, writes.start_run, "bench", "one", b'{"n":1}', None, None, taker
            )
            started, t1 = frames(path), time.perf_counter()
            engine_tx(conn, step_end, run_id, claimed[3])
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
