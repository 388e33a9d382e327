"""The read queries of the SQLite store, turning rows into the shared read models."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from durablex.core.times import us_to_datetime
from durablex.records import AppInfo, Attempt, Event, Run, RunnerInfo, Step, WorkflowInfo
from durablex.store.base import EventPage, RunFilter, RunPage, StepRow

RUNNER_DEAD_AFTER_US = 30_000_000

_RUN_COLUMNS = (
    "r.id, r.workflow, r.app, r.status, r.input, r.output, r.error, r.parent_run_id,"
    " r.warnings, r.created_at, r.ended_at, r.started_at, r.event_id, r.last_runner,"
    " r.runner_pin, r.due_at, e.name"
)
_RUN_FROM = "runs r LEFT JOIN events e ON e.id = r.event_id"


def _load(data: bytes | None) -> Any:
    return None if data is None else orjson.loads(data)


def _dt(us: int | None) -> Any:
    return None if us is None else us_to_datetime(us)


def _run(row: Sequence[Any], steps: list[Step] | None = None) -> Run:
    status = row[3]
    return Run(
        id=row[0],
        workflow=row[1],
        app=row[2],
        status=status,
        input=_load(row[4]),
        output=_load(row[5]),
        error=_load(row[6]),
        parent_run_id=row[7],
        warnings=_load(row[8]) or [],
        created_at=us_to_datetime(row[9]),
        ended_at=_dt(row[10]),
        steps=steps or [],
        started_at=_dt(row[11]),
        event_id=row[12],
        runner=row[13],
        runner_pin=row[14],
        wake_at=_dt(row[15]) if status in ("sleeping", "waiting", "queued") else None,
        event_name=row[16],
    )


def load_steps(conn: sqlite3.Connection, run_id: str) -> list[StepRow]:
    rows = conn.execute(
        "SELECT step_id, seq, kind, status, attempts, input, output, error, after, started_at,"
        " ended_at, wake_at, child_run_id FROM steps WHERE run_id = ? ORDER BY seq",
        (run_id,),
    ).fetchall()
    return [
        StepRow(
            step_id=r[0],
            seq=r[1],
            kind=r[2],
            status=r[3],
            attempts=r[4],
            input=r[5],
            output=r[6],
            error=_load(r[7]),
            after=_load(r[8]) or [],
            started_at_us=r[9],
            ended_at_us=r[10],
            wake_at_us=r[11],
            child_run_id=r[12],
        )
        for r in rows
    ]


def get_run(conn: sqlite3.Connection, run_id: str, with_steps: bool) -> Run | None:
    row = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM {_RUN_FROM} WHERE r.id = ?", (run_id,)
    ).fetchone()
    if row is None:
        return None
    if not with_steps:
        return _run(row)
    attempts: dict[str, list[Attempt]] = {}
    for a in conn.execute(
        "SELECT step_id, number, started_at, ended_at, error FROM attempts WHERE run_id = ?"
        " ORDER BY step_id, number",
        (run_id,),
    ):
        attempts.setdefault(a[0], []).append(
            Attempt(number=a[1], started_at=_dt(a[2]), ended_at=_dt(a[3]), error=_load(a[4]))
        )
    rows = load_steps(conn, run_id)
    for s in rows:
        attempts[s.step_id] = _complete_log(s, attempts.get(s.step_id, []))
    steps = [
        Step(
            id=s.step_id,
            kind=s.kind,
            status=s.status,
            attempts=max(s.attempts, len(attempts.get(s.step_id, ()))),
            input=_load(s.input),
            output=_load(s.output),
            error=s.error,
            started_at=_dt(s.started_at_us),
            ended_at=_dt(s.ended_at_us),
            after=s.after,
            wake_at=_dt(s.wake_at_us),
            child_run_id=s.child_run_id,
            attempt_log=tuple(attempts.get(s.step_id, ())),
        )
        for s in rows
    ]
    return _run(row, steps)


INTERRUPTED = {
    "type": "Interrupted",
    "message": "no result was recorded for this attempt: its runner stopped or lost the run",
    "traceback": None,
}


def _complete_log(step: StepRow, log: list[Attempt]) -> list[Attempt]:
    """Every attempt of a step, including those only the step row records.

    To spare a write per step, a first attempt that succeeds is recorded only in the step row,
    and an attempt cut short by a crash leaves no row of its own.
    """
    if step.kind != "run" or step.attempts < 1:
        return log
    known = {a.number for a in log}
    complete = list(log)
    last = step.attempts
    if last not in known and step.status in ("completed", "failed", "cancelled", "running"):
        error = step.error if step.status == "failed" else None
        if step.status == "cancelled":
            error = {"type": "Cancelled", "message": "the run ended first", "traceback": None}
        started = step.started_at_us if last == 1 else None
        complete.append(
            Attempt(
                number=last, started_at=_dt(started), ended_at=_dt(step.ended_at_us), error=error
            )
        )
        known.add(last)
    for number in range(1, last):
        if number not in known:
            complete.append(
                Attempt(number=number, started_at=None, ended_at=None, error=INTERRUPTED)
            )
    return sorted(complete, key=lambda a: a.number)


def run_statuses(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    rows = conn.execute(
        "SELECT id, status FROM runs WHERE id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(run_ids)),),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The parts of a cursor, checked against ``types`` (an int must fit SQLite's 64 bits)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception as exc:
        raise ValueError(
            f"invalid cursor {cursor!r}: use next_cursor from a previous page"
        ) from exc
    if (
        not isinstance(parts, list)
        or len(parts) != len(types)
        or not all(_cursor_part_ok(part, kind) for part, kind in zip(parts, types, strict=True))
    ):
        raise ValueError(f"invalid cursor {cursor!r}: use next_cursor from a previous page")
    return parts


def _cursor_part_ok(part: object, kind: type) -> bool:
    if kind is int:
        return type(part) is int and -(2**63) <= part < 2**63
    return type(part) is kind


def list_runs(conn: sqlite3.Connection, filt: RunFilter, limit: int, cursor: str | None) -> RunPage:
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("r.status", filt.status),
        ("r.workflow", filt.workflow),
        ("r.app", filt.app),
        ("r.parent_run_id", filt.parent_run_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if filt.search:
        where.append("(r.id = ? OR r.event_id = ? OR r.parent_run_id = ?)")
        params += [filt.search, filt.search, filt.search]
    if filt.created_after_us is not None:
        where.append("r.created_at >= ?")
        params.append(filt.created_after_us)
    if filt.created_before_us is not None:
        where.append("r.created_at < ?")
        params.append(filt.created_before_us)
    if cursor:
        created, run_id = decode_cursor(cursor, int, str)
        where.append("(r.created_at, r.id) < (?, ?)")
        params += [created, run_id]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM {_RUN_FROM} {clause}"
        " ORDER BY r.created_at DESC, r.id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    runs = [_run(r) for r in rows]
    next_cursor = encode_cursor(rows[-1][9], rows[-1][0]) if more and rows else None
    return RunPage(runs=runs, next_cursor=next_cursor)


def count_runs(conn: sqlite3.Connection, status: str | None) -> int:
    if status is None:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    return int(conn.execute("SELECT count(*) FROM runs WHERE status = ?", (status,)).fetchone()[0])


_EVENT_COLUMNS = "seq, id, name, data, app, ts, source_run_id, started_runs, resumed"


def _event(row: Sequence[Any]) -> Event:
    return Event(
        id=row[1],
        name=row[2],
        data=_load(row[3]),
        ts=us_to_datetime(row[5]),
        app=row[4],
        source_run_id=row[6],
        started_run_ids=tuple(_load(row[7]) or ()),
        resumed=int(row[8] or 0),
    )


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
        f"SELECT {_EVENT_COLUMNS} FROM events {clause} ORDER BY seq DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][0]) if more and rows else None
    return EventPage(events=[_event(r) for r in rows], next_cursor=next_cursor)


def get_event(conn: sqlite3.Connection, event_id: str) -> Event | None:
    row = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
    return None if row is None else _event(row)


def resumed_by_event(conn: sqlite3.Connection, event_id: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT run_id FROM steps WHERE event_id = ? LIMIT 1000", (event_id,)
        )
    ]


def list_apps(conn: sqlite3.Connection, now_us: int) -> list[AppInfo]:
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for app, workflow, status, n in conn.execute(
        "SELECT app, workflow, status, count(*) FROM runs GROUP BY app, workflow, status"
    ):
        counts.setdefault((app, workflow), {})[status] = n
    workflows: dict[str, list[WorkflowInfo]] = {}
    for app, name, triggers in conn.execute(
        "SELECT app, name, triggers FROM workflows ORDER BY app, name"
    ):
        workflows.setdefault(app, []).append(
            WorkflowInfo(
                app=app, name=name, triggers=_load(triggers), counts=counts.get((app, name), {})
            )
        )
    runners: dict[str, list[RunnerInfo]] = {}
    for name, apps, host, pid, started, heartbeat, stopped in conn.execute(
        "SELECT name, apps, host, pid, started_at, heartbeat_at, stopped_at FROM runners"
        " ORDER BY name"
    ):
        info = RunnerInfo(
            name=name,
            apps=_load(apps),
            host=host,
            pid=pid,
            started_at=us_to_datetime(started),
            heartbeat_at=us_to_datetime(heartbeat),
            stopped_at=_dt(stopped),
            alive=stopped is None and now_us - heartbeat < RUNNER_DEAD_AFTER_US,
        )
        for app in info.apps:
            runners.setdefault(app, []).append(info)
    names = sorted(set(workflows) | set(runners))
    return [
        AppInfo(name=n, workflows=workflows.get(n, []), runners=runners.get(n, [])) for n in names
    ]


def next_due_us(conn: sqlite3.Connection, apps: Sequence[str]) -> int | None:
    marks = ",".join("?" * len(apps))
    row = conn.execute(
        f"SELECT due_at FROM runs WHERE due_at IS NOT NULL AND app IN ({marks})"
        " ORDER BY due_at LIMIT 1",
        tuple(apps),
    ).fetchone()
    return None if row is None else int(row[0])


def held_runs(conn: sqlite3.Connection, runner: str, run_ids: Sequence[str]) -> set[str]:
    rows = conn.execute(
        "SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(?))"
        " AND lease_owner = ? AND status = 'running'",
        (orjson.dumps(list(run_ids)), runner),
    ).fetchall()
    return {r[0] for r in rows}
