"""The SQLite floor of the event workload: the engine's own transactions for R runs parked on
one event name, from the send to the last run's end, with no runner, task or replay around them.

    python -m bench.event_floor [--R 10000] [--batch 500] [--repeat 3]

Set-up, not timed: R runs started, claimed, their wait step recorded with its waiter, parked.
Timed, on one connection with the store's settings, as the engine batches them:
  * the send: one transaction that stores the event and resolves every waiter (fsync'd);
  * then, ``batch`` runs at a time: their claim (no fsync), the read of their journals, and one
    fsync'd transaction with each run's next step and its end (``record_step`` and
    ``complete_run``, the step required by the end, no unfinished step to look for), made as
    the store's committer makes them (a statement for many runs at a time, since 2026-11-30).
Prints one JSON line per repeat, with the time of the send, of the claims, of the journal reads
and of the step-and-end commits. Two runner processes share this work (SQLite has one writer),
so when it takes a second or more the event target (every run ended within 1 s of the send)
is out of reach of this schema, however many runners there are.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.raw import engine_tx, remove_database, store_file

APP, WORKFLOW, EVENT = "bench", "event", "bench.go"


def after_step(now_us: int) -> Any:
    """The step a resumed run of the workload records after its wait, before it ends."""
    from durablex.store.base import StepRow

    return StepRow(
        step_id="after",
        seq=2,
        kind="run",
        status="completed",
        attempts=1,
        output=b'{"i":0}',
        after=["wait"],
        started_at_us=now_us,
        ended_at_us=now_us,
    )


def claim(t: Any, limit: int) -> list[tuple[Any, ...]]:
    from durablex.store.sqlite import writes

    return writes.claim(t, "r", [APP], limit, 30_000_000)


def park_runs(conn: Any, runs: int, batch: int) -> None:
    """The set-up, untimed: ``runs`` runs started, claimed, their wait step recorded with its
    waiter, parked, ``batch`` at a time, on a store file with its runner registered."""
    from durablex.store.base import StepRow, WaiterWrite, WorkflowRegistration
    from durablex.store.sqlite import writes
    from durablex.store.sqlite.committer import Tx

    def start_some(t: Tx, n: int) -> None:
        for _ in range(n):
            writes.start_run(t, APP, WORKFLOW, None, None, None)

    def park_all(t: Tx, claimed: list[tuple[Any, ...]]) -> None:
        for row in claimed:
            wait = StepRow(step_id="wait", seq=1, kind="wait_for_event", status="waiting")
            writes.record_step(t, row[0], row[3], wait, None, WaiterWrite(EVENT, None))
            writes.park_run(t, row[0], row[3], "waiting", None)

    reg = [WorkflowRegistration(app=APP, name=WORKFLOW, triggers=())]
    engine_tx(conn, writes.register_runner, "r", "host", 1, [APP], reg)
    for start in range(0, runs, batch):
        engine_tx(conn, start_some, min(batch, runs - start))
        engine_tx(conn, park_all, engine_tx(conn, claim, batch, fsync=False))


def event_floor(path: Path, *, runs: int, batch: int) -> dict[str, Any]:
    from durablex.store.base import NewEvent
    from durablex.store.sqlite import reads, writes
    from durablex.store.sqlite.committer import MANY_SEGMENT_MAX, BoundWrite, Tx, _run_segment

    conn = store_file(path)

    def tx(fn: Any, *args: Any, fsync: bool = True) -> Any:
        return engine_tx(conn, fn, *args, fsync=fsync)

    def resume_all(t: Tx, claimed: list[tuple[Any, ...]]) -> None:
        after = after_step(time.time_ns() // 1000)
        batch: list[BoundWrite] = []
        for row in claimed:
            batch.append(BoundWrite(writes.record_step, (row[0], row[3], after, None, None)))
            # as a pass does, that knows the run has no step left unfinished
            end = (row[0], row[3], b'{"go":1}', ["after"], False)
            batch.append(BoundWrite(writes.complete_run, end))
        for at in range(0, len(batch), MANY_SEGMENT_MAX):
            for ok, value in _run_segment(t, batch[at : at + MANY_SEGMENT_MAX]):
                if not ok:
                    raise value

    try:
        park_runs(conn, runs, batch)
        t0 = time.perf_counter()
        result = tx(writes.accept_event, NewEvent("e1", EVENT, b'{"go":1}', None))
        t_sent = time.perf_counter()
        ended = 0
        spent = {"claim_s": 0.0, "read_s": 0.0, "step_end_s": 0.0}
        while True:
            t = time.perf_counter()
            claimed = tx(claim, batch, fsync=False)
            spent["claim_s"] += time.perf_counter() - t
            if not claimed:
                break
            t = time.perf_counter()
            reads.load_journals(conn, [row[0] for row in claimed])
            spent["read_s"] += time.perf_counter() - t
            t = time.perf_counter()
            tx(resume_all, claimed)
            spent["step_end_s"] += time.perf_counter() - t
            ended += len(claimed)
        t_end = time.perf_counter()
    finally:
        conn.close()
        remove_database(path)
    if result.resumed != runs or ended != runs:
        raise RuntimeError(f"resumed {result.resumed} and ended {ended} of {runs} runs")
    return {
        "system": "sqlite3-engine-sql",
        "workload": "event_floor",
        "params": {"R": runs, "batch": batch},
        "send_s": round(t_sent - t0, 4),
        "resume_s": round(t_end - t_sent, 4),
        "wall_s": round(t_end - t0, 4),
        "per_run_us": round((t_end - t0) / runs * 1e6, 1),
        **{k: round(v, 4) for k, v in spent.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--R", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="dxbench-event-floor-") as tmp:
            line = event_floor(Path(tmp) / "floor.db", runs=args.R, batch=args.batch)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
