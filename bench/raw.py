"""Physical limits: how fast Python's sqlite3 commits rows to a WAL file on this machine.

The durablex figures are reported as ratios to these, measured in the same invocation.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from durablex.store.base import StepRow
from durablex.store.sqlite.connection import (
    WAL_AUTOCHECKPOINT_PAGES,
    WAL_PRESIZE_PAGES,
    connect,
    migrate,
    presize_wal,
    set_up_wal,
)

PAYLOAD = b'{"i": 123456, "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'
# the step of engine_floor's 1-step runs
_ONE_STEP = StepRow(
    step_id="s0", seq=1, kind="run", status="completed", attempts=1, output=b'{"i":0}'
)


def remove_database(path: Path) -> None:
    """Delete a SQLite file with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            os.unlink(p)


def commit_rates(
    rows: int, batch: int, commits: int, synchronous: str, wall: float
) -> dict[str, Any]:
    """The figures of a raw line: ``rows`` written in ``commits`` commits in ``wall`` s."""
    return {
        "rows": rows,
        "batch": batch,
        "synchronous": synchronous,
        "wall_s": round(wall, 4),
        "rows_per_s": round(rows / wall, 1),
        "commits_per_s": round(commits / wall, 1),
        "commit_ms": round(wall / commits * 1000, 4),
    }


RAW_INSERT = "INSERT INTO t (id, seq, data) VALUES (?, ?, ?)"


def raw_table(
    path: Path, synchronous: str, autocheckpoint: int | None, presize: int | None
) -> sqlite3.Connection:
    """A new file in WAL mode with ``synchronous`` and table ``t`` of the raw loops; see
    ``raw_commit`` for ``autocheckpoint`` and ``presize``."""
    if path.exists():
        path.unlink()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    if autocheckpoint is not None:
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
    if presize is not None:
        presize_wal(conn, path, presize)
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER, data BLOB) WITHOUT ROWID")
    return conn


def store_file(path: Path) -> sqlite3.Connection:
    """A connection to a new store file as a full-durability store opens one: its schema
    migrated and its WAL set up (checkpoint interval, grown to its full size)."""
    conn = connect(path, durability="full")
    migrate(conn, path)
    set_up_wal(conn, path, "full")
    return conn


def running_run(conn: sqlite3.Connection) -> str:
    """A run of the seq workflow inserted and marked running at fence 1 (as a claim leaves it),
    for loops that commit the engine's step records without a runner; its id."""
    from durablex.store.sqlite import writes
    from durablex.store.sqlite.committer import Tx

    conn.execute("BEGIN IMMEDIATE")
    tx = Tx(conn, time.time_ns() // 1000)
    run_id = writes.insert_run(tx, app="bench", workflow="seq", input=None, event_id="e")[0]
    conn.execute("UPDATE runs SET status = 'running', fence = 1 WHERE id = ?", (run_id,))
    conn.execute("COMMIT")
    return run_id


def raw_commit(
    path: Path,
    *,
    synchronous: str,
    rows: int,
    batch: int,
    autocheckpoint: int | None = None,
    presize: int | None = None,
) -> dict[str, Any]:
    """Insert ``rows`` rows, ``batch`` per ``BEGIN IMMEDIATE … COMMIT``; return the rates.

    ``autocheckpoint`` sets ``PRAGMA wal_autocheckpoint`` (SQLite's default is 1000 pages);
    ``presize`` grows the WAL to that many pages first, as Durablex's store does when it opens
    a database (``durablex.store.sqlite.connection.presize_wal``)."""
    conn = raw_table(path, synchronous, autocheckpoint, presize)
    try:
        # warm up: a few commits so that the WAL file exists and is sized
        for i in range(20):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(RAW_INSERT, (f"w{i}", i, PAYLOAD))
            conn.execute("COMMIT")
        commits = max(1, rows // batch)
        t0 = time.perf_counter()
        n = 0
        for _ in range(commits):
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                conn.execute(RAW_INSERT, (f"r{n:09d}", n, PAYLOAD))
                n += 1
            conn.execute("COMMIT")
        wall = time.perf_counter() - t0
    finally:
        conn.close()
        remove_database(path)
    return commit_rates(n, batch, commits, synchronous, wall)


RAW_CASES: tuple[tuple[str, str, int, int | None, int | None], ...] = (
    # (workload name, synchronous, batch, wal_autocheckpoint, WAL pages presized)
    ("raw_commit", "FULL", 1, None, None),
    ("raw_batch", "FULL", 100, None, None),
    ("raw_commit_normal", "NORMAL", 1, None, None),
    ("raw_batch_normal", "NORMAL", 100, None, None),
    # the WAL checkpoint setting of Durablex's SQLite store (durablex.store.sqlite.connection)
    ("raw_commit_ckpt256", "FULL", 1, 256, None),
    # and its WAL grown to its full size before the first commit, as the store opens a file
    ("raw_commit_store_wal", "FULL", 1, WAL_AUTOCHECKPOINT_PAGES, WAL_PRESIZE_PAGES),
)


def measure_all(tmpdir: Path, rows: int, batch_rows: int) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, sync, batch, checkpoint, presize in RAW_CASES:
        n = rows if batch == 1 else batch_rows
        figures = raw_commit(
            tmpdir / f"{name}.db",
            synchronous=sync,
            rows=n,
            batch=batch,
            autocheckpoint=checkpoint,
            presize=presize,
        )
        out.append((name, figures))
    out.append(("raw_engine_1step", engine_floor(tmpdir / "engine_1step.db")))
    out.append(("raw_engine_steps", step_floor(tmpdir / "engine_steps.db", steps=rows)))
    return out


def step_floor(path: Path, *, steps: int = 2000) -> dict[str, Any]:
    """Sequential steps with the least a durable step engine does and nothing else: await the
    step's body (an async no-op returning ``{"i": i}``), encode its result, and commit the
    engine's own step record (``writes.record_step``: the fenced upsert) with an fsync before
    the next body, on a store file with the store's connection and WAL settings.

    This is the floor of the seq workload in Python on this disk: what is left to a real
    engine between it and ``raw_commit`` is its step record's extra cost (a wider row, the
    fence check, the upsert) and the per-step Python around it.
    """
    import asyncio

    import orjson

    from durablex.store.sqlite import writes

    async def body(i: int) -> dict[str, int]:
        return {"i": i}

    conn = store_file(path)
    try:
        run_id = running_run(conn)

        async def loop() -> float:
            t0 = time.perf_counter()
            for i in range(steps):
                started = time.time_ns() // 1000
                output = orjson.dumps(await body(i))
                row = StepRow(
                    step_id=f"s{i}",
                    seq=i + 1,
                    kind="run",
                    status="completed",
                    attempts=1,
                    output=output,
                    started_at_us=started,
                    ended_at_us=time.time_ns() // 1000,
                )
                engine_tx(conn, writes.record_step, run_id, 1, row, None, None)
            return time.perf_counter() - t0

        wall = asyncio.run(loop())
    finally:
        conn.close()
        remove_database(path)
    return commit_rates(steps, 1, steps, "FULL", wall)


def engine_tx(conn: sqlite3.Connection, fn: Any, *args: Any, fsync: bool = True) -> Any:
    """Run one of the engine's write functions (``durablex.store.sqlite.writes``) in its own
    transaction, as the store would: fsync'd, or at ``synchronous=NORMAL`` (a claim)."""
    from durablex.store.sqlite.committer import Tx

    if not fsync:
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    result = fn(Tx(conn, time.time_ns() // 1000), *args)
    conn.execute("COMMIT")
    if not fsync:
        conn.execute("PRAGMA synchronous = FULL")
    return result


def one_step_runner(conn: sqlite3.Connection) -> Any:
    """Register runner "r" for the 1-step workflow of ``engine_floor``; returns the hand-off
    that claims a run for it in its start's transaction (``durablex.store.handoff``)."""
    from durablex.store.base import HandOff, WorkflowRegistration
    from durablex.store.sqlite import writes

    reg = [WorkflowRegistration(app="bench", name="one", triggers=())]
    engine_tx(conn, writes.register_runner, "r", "host", 1, ["bench"], reg)
    return HandOff(runner="r", lease_us=30_000_000, serves=lambda app, workflow: True)


def start_one_step(t: Any, taker: Any) -> tuple[str, tuple[Any, ...] | None]:
    """The start of a 1-step run, claimed for ``taker``: the run's id and its claim row."""
    from durablex.store.sqlite import writes

    return writes.start_run(t, "bench", "one", b'{"n":1}', None, None, taker)


def step_and_end(t: Any, run_id: str, fence: int) -> None:
    """A 1-step run's step and its end, in one transaction as a pass commits them."""
    from durablex.store.sqlite import writes

    writes.record_step(t, run_id, fence, _ONE_STEP, None, None)
    writes.complete_run(t, run_id, fence, b"1")


def start_step_and_end(t: Any, taker: Any) -> None:
    """A 1-step run begun before its start commits: its start, its step and its end in one
    transaction, as the engine commits them when the client is on the runner's loop
    (``durablex.store.handoff``, ``writes.start_begun_run``)."""
    from durablex.store.handoff import begun_run
    from durablex.store.sqlite import writes

    run_id = writes.start_begun_run(t, begun_run("bench", "one", b'{"n":1}', None, taker, t.now_us))
    writes.record_step(t, run_id, 1, _ONE_STEP, None, None)
    writes.complete_run(t, run_id, 1, b"1", open_steps=False)


def engine_floor(path: Path, *, runs: int = 300) -> dict[str, Any]:
    """The commits a 1-step run needs, with the engine's own SQL and nothing else, one run after
    the other on a fresh store file, with the store's connection settings: one fsync'd commit
    of its start (claimed for the runner of the client's loop), its step and its end, as the
    engine makes it for a run begun before its start commits (``start_step_and_end``).
    ``two_commits_ms``: the same run committed as its start, then its step with its end, as
    when the start commits before the run begins (a client off the runner's loop would add a
    claim).

    This is the floor of the latency workload on this disk: that transaction writes the rows
    and index entries of a run, an event and a step (about ten WAL pages), where a raw commit
    writes one or two.
    """
    conn = store_file(path)
    try:

        def tx(fn: Any, *args: Any) -> tuple[Any, float]:
            t = time.perf_counter()
            result = engine_tx(conn, fn, *args, fsync=True)
            return result, time.perf_counter() - t

        taker = one_step_runner(conn)
        times: dict[str, list[float]] = {"commit": [], "two_commits": []}
        t0 = time.perf_counter()
        for _ in range(runs):
            _, took = tx(start_step_and_end, taker)
            times["commit"].append(took)
        wall = time.perf_counter() - t0
        for _ in range(runs):
            (run_id, claimed), took_start = tx(start_one_step, taker)
            _, took_end = tx(step_and_end, run_id, claimed[3])
            times["two_commits"].append(took_start + took_end)
    finally:
        conn.close()
        remove_database(path)
    medians = {k: sorted(v)[len(v) // 2] * 1000 for k, v in times.items()}
    return {
        **commit_rates(runs, 1, runs, "FULL", wall),
        **{f"{k}_ms": round(v, 4) for k, v in medians.items()},
    }


def pg_connect(url: str) -> Any:
    """A psycopg connection to the server of a postgresql:// URL (durablex's own query options,
    like durability=, are dropped)."""
    import psycopg  # the postgres extra of durablex

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(query="")), autocommit=True, connect_timeout=5)


def raw_pg(url: str, *, synchronous_commit: str, rows: int, batch: int) -> dict[str, Any]:
    """As raw_commit, on PostgreSQL: ``rows`` rows, ``batch`` per transaction, into a temp table."""
    with pg_connect(url) as conn:
        conn.execute(f"SET synchronous_commit = {synchronous_commit}")
        conn.execute("CREATE TEMP TABLE t (id TEXT PRIMARY KEY, seq BIGINT, data BYTEA)")
        insert = "INSERT INTO t (id, seq, data) VALUES (%s, %s, %s)"
        commits = max(1, rows // batch)
        t0 = time.perf_counter()
        n = 0
        for _ in range(commits):
            with conn.transaction():
                for _ in range(batch):
                    conn.execute(insert, (f"r{n:09d}", n, PAYLOAD))
                    n += 1
        wall = time.perf_counter() - t0
    return commit_rates(n, batch, commits, f"synchronous_commit={synchronous_commit}", wall)


def measure_pg(url: str, rows: int, batch_rows: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("raw_pg_commit", raw_pg(url, synchronous_commit="on", rows=rows, batch=1)),
        ("raw_pg_batch", raw_pg(url, synchronous_commit="on", rows=batch_rows, batch=100)),
        ("raw_pg_commit_async", raw_pg(url, synchronous_commit="off", rows=rows, batch=1)),
    ]
