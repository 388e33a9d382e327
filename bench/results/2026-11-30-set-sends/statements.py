"""A statement per row against one statement for all rows, on the SQL of the event workload.

    python bench/results/2026-11-30-set-sends/statements.py [--R 10000] [--rounds 3]

Set-up by ``bench.event_floor.park_runs``: R runs started, claimed, their wait recorded with
its waiter, parked. Then, each in a transaction that is rolled back (so every variant sees the
same file):

* the send's writes, as ``_resolve_waiters`` made them before the tenth session (one statement
  per waiter through ``executemany``) and as it makes them since (one statement for all of
  them, the keys in a JSON array);
* the waking of the runs alone, with the ids in order, shuffled, and in chunks of 128;
* the step and end of every resumed run, 500 runs at a time as the runners batch them: through
  ``executemany`` (as the store makes them) and through a temporary table and one statement.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from bench.event_floor import EVENT, after_step, claim, park_runs
from bench.raw import engine_tx, store_file

from durablex.store.base import NewEvent
from durablex.store.rows import NOT_TERMINAL_SQL, step_params
from durablex.store.sqlite import writes

DATA = b'{"go":1}'

WAKE_ONE = (
    "UPDATE runs SET"
    " wake_pending = CASE WHEN lease_owner IS NULL THEN wake_pending ELSE 1 END,"
    " status = CASE WHEN lease_owner IS NULL THEN 'queued' ELSE status END,"
    " due_at = CASE WHEN lease_owner IS NULL THEN ? ELSE due_at END"
    f" WHERE id = ? AND {NOT_TERMINAL_SQL}"
)
WAKE_ALL = WAKE_ONE.replace("WHERE id = ?", "WHERE id IN (SELECT value FROM json_each(?))")
COMPLETE_ONE = (
    "UPDATE steps SET status = 'completed', output = ?, ended_at = ?, wake_at = NULL,"
    " event_id = ? WHERE run_id = ? AND step_id = ? AND status = 'waiting'"
)
KEYS = "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"
STEP_COLUMNS = (
    "run_id, step_id, seq, kind, status, attempts, input, output, error, after, started_at,"
    " ended_at, wake_at, child_run_id"
)


def parked_store(path: Path, runs: int) -> sqlite3.Connection:
    conn = store_file(path)
    park_runs(conn, runs, 500)
    return conn


def timed(conn: sqlite3.Connection, label: str, work: Callable[[], object]) -> None:
    """``work`` in a transaction that is rolled back; prints its time."""
    conn.execute("BEGIN IMMEDIATE")
    t0 = time.perf_counter()
    work()
    took = time.perf_counter() - t0
    conn.execute("ROLLBACK")
    print(f"  {label:44s} {took * 1000:7.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--R", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dxbench-statements-") as tmp:
        conn = parked_store(Path(tmp) / "s.db", args.R)
        now = time.time_ns() // 1000
        waiters = [
            (row[0], row[1]) for row in conn.execute(writes._OPEN_WAITERS, (EVENT, now)).fetchall()
        ]
        ids = [run_id for run_id, _ in waiters]
        shuffled = random.sample(ids, len(ids))
        keys = orjson.dumps(waiters)

        def send_per_waiter() -> None:
            conn.executemany(COMPLETE_ONE, [(DATA, now, "e1", r, s) for r, s in waiters])
            conn.executemany("DELETE FROM waiters WHERE run_id = ? AND step_id = ?", waiters)
            conn.executemany(WAKE_ONE, [(now, r) for r in ids])

        def send_at_once() -> None:
            conn.execute(
                "UPDATE steps SET status = 'completed', output = ?, ended_at = ?, wake_at = NULL,"
                f" event_id = ? WHERE (run_id, step_id) IN {KEYS} AND status = 'waiting'",
                (DATA, now, "e1", keys),
            )
            conn.execute(f"DELETE FROM waiters WHERE (run_id, step_id) IN {KEYS}", (keys,))
            conn.execute(WAKE_ALL, (now, orjson.dumps(ids)))

        def wake_chunks(per_row: bool) -> None:
            for at in range(0, len(shuffled), 128):
                chunk = shuffled[at : at + 128]
                if per_row:
                    conn.executemany(WAKE_ONE, [(now, r) for r in chunk])
                else:
                    conn.execute(WAKE_ALL, (now, orjson.dumps(chunk)))

        for _ in range(args.rounds):
            print(f"the send's writes for {len(waiters)} waiters:")
            timed(conn, "a statement per waiter (before)", send_per_waiter)
            timed(conn, "one statement each for all (after)", send_at_once)
            print("waking the runs alone:")
            timed(
                conn,
                "a statement per run, ids in order",
                lambda: conn.executemany(WAKE_ONE, [(now, r) for r in ids]),
            )
            timed(
                conn,
                "a statement per run, ids shuffled",
                lambda: conn.executemany(WAKE_ONE, [(now, r) for r in shuffled]),
            )
            timed(
                conn,
                "one statement, ids shuffled",
                lambda: conn.execute(WAKE_ALL, (now, orjson.dumps(shuffled))),
            )
            timed(conn, "a statement per run, 128 at a time", lambda: wake_chunks(True))
            timed(conn, "one statement per 128 runs", lambda: wake_chunks(False))
        resume_steps_and_ends(conn, args.R, args.rounds)
        conn.close()


def resume_steps_and_ends(conn: sqlite3.Connection, runs: int, rounds: int) -> None:
    engine_tx(conn, writes.accept_event, NewEvent("e1", EVENT, DATA, None))
    claimed = engine_tx(conn, claim, runs, fsync=False)
    now = time.time_ns() // 1000
    after = after_step(now)
    fenced = writes._FENCED_UPSERT_STEP
    end = writes._END_FENCED_RUN_WITHOUT_PARENT
    conn.execute(f"CREATE TEMP TABLE pending_steps AS SELECT {STEP_COLUMNS} FROM steps WHERE 0")
    conn.execute("ALTER TABLE pending_steps ADD COLUMN fence INTEGER")
    conn.execute(
        "CREATE TEMP TABLE pending_ends"
        " (id TEXT, fence INTEGER, status TEXT, output BLOB, ended_at INTEGER)"
    )
    steps_from_table = (
        fenced.split("SELECT ?")[0] + f"SELECT {STEP_COLUMNS} FROM pending_steps p WHERE EXISTS"
        " (SELECT 1 FROM runs WHERE id = p.run_id AND fence = p.fence AND status = 'running')"
        " ORDER BY run_id, step_id ON CONFLICT" + fenced.split("ON CONFLICT")[1]
    )
    ends_from_table = (
        "UPDATE runs SET status = p.status, output = p.output, error = NULL,"
        " ended_at = p.ended_at, due_at = NULL, lease_owner = NULL, lease_expires_at = NULL,"
        " wake_pending = 0 FROM pending_ends p WHERE runs.id = p.id AND runs.fence = p.fence"
        " AND runs.status = 'running' AND runs.parent_run_id IS NULL"
    )

    def per_row(rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(fenced, [(*step_params(r[0], after), r[0], r[3]) for r in rows])
        conn.executemany(end, [("completed", DATA, None, now, r[0], r[3]) for r in rows])

    def through_table(rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(
            f"INSERT INTO pending_steps ({STEP_COLUMNS}, fence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*step_params(r[0], after), r[3]) for r in rows],
        )
        stepped = conn.execute(steps_from_table).rowcount
        conn.execute("DELETE FROM pending_steps")
        conn.executemany(
            "INSERT INTO pending_ends VALUES (?, ?, ?, ?, ?)",
            [(r[0], r[3], "completed", DATA, now) for r in rows],
        )
        ended = conn.execute(ends_from_table).rowcount
        conn.execute("DELETE FROM pending_ends")
        if not stepped == ended == len(rows):
            raise RuntimeError(f"{stepped} steps and {ended} ends for {len(rows)} runs")

    def in_batches(write: Callable[[list[tuple[Any, ...]]], None]) -> None:
        for at in range(0, len(claimed), 500):
            write(claimed[at : at + 500])

    for _ in range(rounds):
        print(f"the step and end of {len(claimed)} resumed runs, 500 at a time:")
        timed(conn, "executemany (as the store makes them)", lambda: in_batches(per_row))
        timed(conn, "a temporary table and one statement", lambda: in_batches(through_table))


if __name__ == "__main__":
    main()
