"""The read queries of the PostgreSQL store.

The column lists and the row-to-record mapping are shared with the SQLite store (their SQL is
the same in both dialects), so both backends build identical ``Run``, ``Step`` and ``Event``
records from identical rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

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
    count_serving,
    decode_cursor,
    encode_cursor,
    event_record,
    run_filter_sql,
    run_record,
    step_records,
    step_row,
)


async def _all(conn: Any, query: str, params: Any = ()) -> list[Any]:
    cur = await conn.execute(query, params)
    return list(await cur.fetchall())


async def _one(conn: Any, query: str, params: Any = ()) -> Any:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def load_journals(conn: Any, run_ids: Sequence[str]) -> dict[str, list[StepRow]]:
    journals: dict[str, list[StepRow]] = {run_id: [] for run_id in run_ids}
    rows = await _all(
        conn,
        f"SELECT run_id, {STEP_COLUMNS} FROM steps WHERE run_id = ANY(%s) ORDER BY run_id, seq",
        (list(run_ids),),
    )
    for r in rows:
        journals[r[0]].append(step_row(r[1:]))
    return journals


@asynccontextmanager
async def snapshot(conn: Any) -> AsyncIterator[None]:
    """One repeatable-read transaction around a read of several statements, so that they all
    see the same commits: in autocommit mode (and at PostgreSQL's default isolation, read
    committed) each statement sees the latest, and a run read just before a pass's commit
    could come with the steps that commit added (a torn read)."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


_RUN_BY_ID = RUN_BY_ID_SQL.replace("?", "%s")
_ATTEMPTS_OF_RUN = ATTEMPTS_OF_RUN_SQL.replace("?", "%s")


async def get_run(conn: Any, run_id: str, with_steps: bool) -> Run | None:
    if not with_steps:
        found = await _one(conn, _RUN_BY_ID, (run_id,))
        return None if found is None else run_record(found)
    async with snapshot(conn):
        row = await _one(conn, _RUN_BY_ID, (run_id,))
        if row is None:
            return None
        attempts = await _all(conn, _ATTEMPTS_OF_RUN, (run_id,))
        journal = (await load_journals(conn, [run_id]))[run_id]
    return run_record(row, step_records(journal, attempts))


async def run_statuses(conn: Any, run_ids: Sequence[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    rows = await _all(conn, "SELECT id, status FROM runs WHERE id = ANY(%s)", (list(run_ids),))
    return {r[0]: r[1] for r in rows}


async def list_runs(conn: Any, filt: RunFilter, limit: int, cursor: str | None) -> RunPage:
    clause, params = run_filter_sql(filt, cursor, "%s", "r.event_id = %s")
    rows = await _all(
        conn,
        f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} {clause}"
        " ORDER BY r.created_at DESC, r.id DESC LIMIT %s",
        (*params, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][9], rows[-1][0]) if more and rows else None
    return RunPage(runs=[run_record(r) for r in rows], next_cursor=next_cursor)


async def count_runs(conn: Any, status: str | None) -> int:
    if status is None:
        row = await _one(conn, "SELECT count(*) FROM runs")
    else:
        row = await _one(conn, "SELECT count(*) FROM runs WHERE status = %s", (status,))
    return int(row[0])


async def list_events(
    conn: Any, name: str | None, limit: int, cursor: str | None, search: str | None
) -> EventPage:
    where: list[str] = []
    params: list[Any] = []
    if name is not None:
        where.append("name = %s")
        params.append(name)
    if search:
        where.append("(id = %s OR name = %s)")
        params += [search, search]
    if cursor:
        (seq,) = decode_cursor(cursor, int)
        where.append("seq < %s")
        params.append(seq)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = await _all(
        conn,
        f"SELECT {EVENT_COLUMNS} FROM events {clause} ORDER BY seq DESC LIMIT %s",
        (*params, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][0]) if more and rows else None
    return EventPage(events=[event_record(r) for r in rows], next_cursor=next_cursor)


async def get_event(conn: Any, event_id: str) -> Event | None:
    row = await _one(conn, f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s", (event_id,))
    return None if row is None else event_record(row)


async def resumed_by_event(conn: Any, event_id: str) -> list[str]:
    rows = await _all(
        conn,
        "SELECT DISTINCT run_id FROM steps WHERE event_id = %s ORDER BY run_id LIMIT 1000",
        (event_id,),
    )
    return [r[0] for r in rows]


async def list_apps(conn: Any, now_us: int) -> list[AppInfo]:
    async with snapshot(conn):
        counts = await _all(conn, APP_COUNTS_SQL)
        workflows = await _all(conn, APP_WORKFLOWS_SQL)
        runners = await _all(conn, APP_RUNNERS_SQL)
    return app_infos(counts, workflows, runners, now_us)


async def next_due_us(conn: Any, apps: Sequence[str], runner: str | None = None) -> int | None:
    row = await _one(
        conn,
        "SELECT due_at FROM runs WHERE due_at IS NOT NULL AND app = ANY(%s)"
        " AND (runner_pin IS NULL OR runner_pin = %s) ORDER BY due_at LIMIT 1",
        (list(apps), runner),
    )
    return None if row is None else int(row[0])


async def live_runners(conn: Any, apps: Sequence[str], now_us: int) -> int:
    rows = await _all(conn, LIVE_RUNNERS_SQL.replace("?", "%s"), (now_us - RUNNER_DEAD_AFTER_US,))
    return count_serving(rows, apps)


async def held_runs(conn: Any, runner: str, run_ids: Sequence[str]) -> set[str]:
    rows = await _all(
        conn,
        f"SELECT id FROM runs WHERE id = ANY(%s) AND lease_owner = %s AND {HELD_SQL}",
        (list(run_ids), runner),
    )
    return {r[0] for r in rows}
