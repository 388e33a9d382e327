"""A 1-step run's transactions as the engine commits them now and before, with the engine's own
SQL and nothing else, beside a raw commit, alternating run by run on one store file:

* ``two``: its start (claimed for the runner), then its step with its end: two fsync'd commits;
* ``one``: the start of a run begun before its start commits, its step and its end in one
  commit (``writes.start_begun_run``), timed statement by statement;
* ``raw``: one row into a 3-column table, as ``raw_commit``.

    PYTHONPATH=src:. python bench/results/2026-11-30-begun-starts/one_commit.py [--runs 400]

Prints the median µs of each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.raw import (
    _ONE_STEP,
    PAYLOAD,
    RAW_INSERT,
    engine_tx,
    one_step_runner,
    start_one_step,
    step_and_end,
    store_file,
)

from durablex.store.handoff import begun_run
from durablex.store.sqlite import writes
from durablex.store.sqlite.committer import Tx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400)
    args = parser.parse_args()
    conn = store_file(Path(tempfile.mkdtemp()) / "one-commit.db")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
    taker = one_step_runner(conn)
    spent: dict[str, list[float]] = {
        k: [] for k in ("two", "one", "one:start", "one:step", "one:end", "one:commit", "raw")
    }
    for i in range(args.runs):
        t = time.perf_counter()
        run_id, claimed = engine_tx(conn, start_one_step, taker)
        engine_tx(conn, step_and_end, run_id, claimed[3])
        spent["two"].append(time.perf_counter() - t)

        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        tx = Tx(conn, time.time_ns() // 1000)
        t1 = time.perf_counter()
        run = begun_run("bench", "one", b'{"n":1}', None, taker, tx.now_us)
        run_id = writes.start_begun_run(tx, run)
        t2 = time.perf_counter()
        writes.record_step(tx, run_id, 1, _ONE_STEP, None, None)
        t3 = time.perf_counter()
        writes.complete_run(tx, run_id, 1, b"1", open_steps=False)
        t4 = time.perf_counter()
        conn.execute("COMMIT")
        t5 = time.perf_counter()
        for key, a, b in (
            ("one", t0, t5),
            ("one:start", t1, t2),
            ("one:step", t2, t3),
            ("one:end", t3, t4),
            ("one:commit", t4, t5),
        ):
            spent[key].append(b - a)

        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(RAW_INSERT, (f"r{i}", i, PAYLOAD))
        conn.execute("COMMIT")
        spent["raw"].append(time.perf_counter() - t)
    medians = {k: statistics.median(v) * 1e6 for k, v in spent.items()}
    print(
        " ".join(f"{k}={v:.0f}" for k, v in medians.items()),
        f"two/raw={medians['two'] / medians['raw']:.2f}",
        f"one/raw={medians['one'] / medians['raw']:.2f}",
    )


if __name__ == "__main__":
    main()
