"""The read queries of the SQLite store, turning rows into the shared read models."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from durablex.records import AppInfo, Event, Run
from durablex.store.base import EventPage, RunFilter, RunPage, StepRow
from durablex.store.rows import (
    APP_COUNTS_SQL,
    APP_RUNNERS_SQL,
    APP_WORKFLOWS_SQL,
    ATTEMPTS_OF_RUN_SQL,
    EVENT_COLUMNS,
    HELD_SQL,
    LIVE_RUNNERS_SQL,
    RUN_BY_ID_SQL,
    RUN_COLUMNS,
    RUN_FROM,
    RUNNER_DEAD_AFTER_US,
    STEP_COLUMNS,
    app_infos,
    choose_workflow,
    count_serving,
    decode_cursor,
    encode_cursor,
    event_record,
    run_filter_sql,
    run_record,
    step_records,
    step_row,
)

# runs.event_id has no index (one WAL page less in every start): the event's own row lists
# the runs it started
STARTED_BY_EVENT = (
    "r.id IN (SELECT value FROM events ev, json_each(ev.started_runs) WHERE ev.id = ?)"
)


def load_journals(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, list[StepRow]]:
    journals: dict[str, list[StepRow]] = {run_id: [] for run_id in run_ids}
    for r in conn.execute(
        f"SELECT run_id, {STEP_COLUMNS} FROM steps"
        " WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, seq",
        (orjson.dumps(list(run_ids)),),
    ):
        journals[r[0]].append(step_row(r[1:]))
    return journals


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction around a read of several statements, so that they all see the same
    commits: in autocommit mode each statement would see the latest, and a run read just
    before a pass's commit could come with the steps that commit added (a torn read)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def get_run(conn: sqlite3.Connection, run_id: str, with_steps: bool) -> Run | None:
    if not with_steps:
        found = conn.execute(RUN_BY_ID_SQL, (run_id,)).fetchone()
        return None if found is None else run_record(found)
    with snapshot(conn):
        row = conn.execute(RUN_BY_ID_SQL, (run_id,)).fetchone()
        if row is None:
            return None
        attempts = conn.execute(ATTEMPTS_OF_RUN_SQL, (run_id,)).fetchall()
        journal = load_journals(conn, [run_id])[run_id]
    return run_record(row, step_records(journal, attempts))


def run_statuses(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    rows = conn.execute(
        "SELECT id, status FROM runs WHERE id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(run_ids)),),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def list_runs(conn: sqlite3.Connection, filt: RunFilter, limit: int, cursor: str | None) -> RunPage:
    clause, params = run_filter_sql(filt, cursor, "?", STARTED_BY_EVENT)
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} {clause}"
        " ORDER BY r.created_at DESC, r.id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    runs = [run_record(r) for r in rows]
    next_cursor = encode_cursor(rows[-1][9], rows[-1][0]) if more and rows else None
    return RunPage(runs=runs, next_cursor=next_cursor)


def count_runs(conn: sqlite3.Connection, status: str | None) -> int:
    if status is None:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    return int(conn.execute("SELECT count(*) FROM runs WHERE status = ?", (status,)).fetchone()[0])


def list_events(
    conn: sqlite3.Connection, name: str | None, limit: int, cursor: str | None, search: str | None
) -> EventPage:
    where: list[str] = []
    params: list[Any] = []
    if name is not None:
        where.append("name = ?")
        params.append(name)
    if search:
        where.append("(id = ? OR name = ?)")
        params += [search, search]
    if cursor:
        (seq,) = decode_cursor(cursor, int)
        where.append("seq < ?")
        params.append(seq)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events {clause} ORDER BY seq DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][0]) if more and rows else None
    return EventPage(events=[event_record(r) for r in rows], next_cursor=next_cursor)


def get_event(conn: sqlite3.Connection, event_id: str) -> Event | None:
    row = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
    return None if row is None else event_record(row)


def resumed_by_event(conn: sqlite3.Connection, event_id: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT run_id FROM steps WHERE event_id = ? LIMIT 1000", (event_id,)
        )
    ]


def list_apps(conn: sqlite3.Connection, now_us: int) -> list[AppInfo]:
    with snapshot(conn):
        counts = conn.execute(APP_COUNTS_SQL).fetchall()
        workflows = conn.execute(APP_WORKFLOWS_SQL).fetchall()
        runners = conn.execute(APP_RUNNERS_SQL).fetchall()
    return app_infos(counts, workflows, runners, now_us)


def live_runners(conn: sqlite3.Connection, apps: Sequence[str], now_us: int) -> int:
    rows = conn.execute(LIVE_RUNNERS_SQL, (now_us - RUNNER_DEAD_AFTER_US,)).fetchall()
    return count_serving(rows, apps)


def next_due_us(
    conn: sqlite3.Connection, apps: Sequence[str], runner: str | None = None
) -> int | None:
    marks = ",".join("?" * len(apps))
    row = conn.execute(
        f"SELECT due_at FROM runs WHERE due_at IS NOT NULL AND app IN ({marks})"
        " AND (runner_pin IS NULL OR runner_pin = ?) ORDER BY due_at LIMIT 1",
        (*apps, runner),
    ).fetchone()
    return None if row is None else int(row[0])


def held_runs(conn: sqlite3.Connection, runner: str, run_ids: Sequence[str]) -> set[str]:
    rows = conn.execute(
        "SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(?))"
        # "+": found by id, not by a scan of every running run through runs_status_created
        f" AND lease_owner = ? AND +{HELD_SQL}",
        (orjson.dumps(list(run_ids)), runner),
    ).fetchall()
    return {r[0] for r in rows}


def resolve_workflow(
    conn: sqlite3.Connection, name: str, app: str | None, calling_app: str | None
) -> tuple[str, str]:
    defining = [
        row[0]
        for row in conn.execute("SELECT app FROM workflows WHERE name = ? ORDER BY app", (name,))
    ]
    return choose_workflow(name, app, calling_app, defining)
