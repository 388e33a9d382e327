"""Rows to read models, for every backend: the shared columns of runs and events, their
mapping to ``Run`` and ``Event``, attempt logs, and the opaque paging cursors."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from durablex.core.times import us_to_datetime
from durablex.errors import AmbiguousWorkflowError, WorkflowNotFoundError
from durablex.records import (
    INVOKED_EVENT,
    AppInfo,
    Attempt,
    Event,
    Run,
    RunnerInfo,
    Step,
    WorkflowInfo,
)
from durablex.store.base import ClaimedRun, HandOff, RunFilter, StepRow, StoreError

RUNNER_DEAD_AFTER_US = 30_000_000
LIVE_RUNNERS_SQL = "SELECT apps FROM runners WHERE stopped_at IS NULL AND heartbeat_at > ?"


# The three reads of an app listing, made in one snapshot by each store (list_apps).
APP_COUNTS_SQL = "SELECT app, workflow, status, count(*) FROM runs GROUP BY app, workflow, status"
APP_WORKFLOWS_SQL = "SELECT app, name, triggers FROM workflows ORDER BY app, name"
APP_RUNNERS_SQL = (
    "SELECT name, apps, host, pid, started_at, heartbeat_at, stopped_at FROM runners ORDER BY name"
)


def app_infos(
    count_rows: Iterable[Sequence[Any]],
    workflow_rows: Iterable[Sequence[Any]],
    runner_rows: Iterable[Sequence[Any]],
    now_us: int,
) -> list[AppInfo]:
    """The apps, with their workflows' run counts and their runners, from the rows of
    ``APP_COUNTS_SQL``, ``APP_WORKFLOWS_SQL`` and ``APP_RUNNERS_SQL``."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for app, workflow, status, n in count_rows:
        counts.setdefault((app, workflow), {})[status] = n
    workflows: dict[str, list[WorkflowInfo]] = {}
    for app, name, triggers in workflow_rows:
        workflows.setdefault(app, []).append(
            WorkflowInfo(
                app=app, name=name, triggers=load(triggers), counts=counts.get((app, name), {})
            )
        )
    runners: dict[str, list[RunnerInfo]] = {}
    for name, apps, host, pid, started, heartbeat, stopped in runner_rows:
        info = RunnerInfo(
            name=name,
            apps=load(apps),
            host=host,
            pid=pid,
            started_at=us_to_datetime(started),
            heartbeat_at=us_to_datetime(heartbeat),
            stopped_at=dt(stopped),
            alive=stopped is None and now_us - heartbeat < RUNNER_DEAD_AFTER_US,
        )
        for app in info.apps:
            runners.setdefault(app, []).append(info)
    names = sorted(set(workflows) | set(runners))
    return [
        AppInfo(name=n, workflows=workflows.get(n, []), runners=runners.get(n, [])) for n in names
    ]


def count_serving(rows: Iterable[Sequence[Any]], apps: Sequence[str]) -> int:
    """How many of the runner rows (``apps`` blob first) serve at least one of ``apps``."""
    wanted = set(apps)
    return sum(1 for row in rows if wanted.intersection(load(row[0]) or ()))


RUN_COLUMNS = (
    "r.id, r.workflow, r.app, r.status, r.input, r.output, r.error, r.parent_run_id,"
    " r.warnings, r.created_at, r.ended_at, r.started_at, r.event_id, r.last_runner,"
    " r.runner_pin, r.due_at, e.name"
)
RUN_FROM = "runs r LEFT JOIN events e ON e.id = r.event_id"
RUN_BY_ID_SQL = f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = ?"
ATTEMPTS_OF_RUN_SQL = (
    "SELECT step_id, number, started_at, ended_at, error FROM attempts WHERE run_id = ?"
    " ORDER BY step_id, number"
)


def load(data: bytes | None) -> Any:
    return None if data is None else orjson.loads(data)


def dt(us: int | None) -> Any:
    return None if us is None else us_to_datetime(us)


def run_record(row: Sequence[Any], steps: list[Step] | None = None) -> Run:
    status = row[3]
    return Run(
        id=row[0],
        workflow=row[1],
        app=row[2],
        status=status,
        input=load(row[4]),
        output=load(row[5]),
        error=load(row[6]),
        parent_run_id=row[7],
        warnings=load(row[8]) or [],
        created_at=us_to_datetime(row[9]),
        ended_at=dt(row[10]),
        steps=steps or [],
        started_at=dt(row[11]),
        event_id=row[12],
        runner=row[13],
        runner_pin=row[14],
        wake_at=dt(row[15]) if status in ("sleeping", "waiting", "queued") else None,
        event_name=row[16],
    )


INTERRUPTED = {
    "type": "Interrupted",
    "message": "no result was recorded for this attempt: its runner stopped or lost the run",
    "traceback": None,
}


def complete_log(step: StepRow, log: list[Attempt]) -> list[Attempt]:
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
            Attempt(number=last, started_at=dt(started), ended_at=dt(step.ended_at_us), error=error)
        )
        known.add(last)
    for number in range(1, last):
        if number not in known:
            complete.append(
                Attempt(number=number, started_at=None, ended_at=None, error=INTERRUPTED)
            )
    return sorted(complete, key=lambda a: a.number)


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
        or not all(cursor_part_ok(part, kind) for part, kind in zip(parts, types, strict=True))
    ):
        raise ValueError(f"invalid cursor {cursor!r}: use next_cursor from a previous page")
    return parts


def cursor_part_ok(part: object, kind: type) -> bool:
    if kind is int:
        return type(part) is int and -(2**63) <= part < 2**63
    return type(part) is kind


EVENT_COLUMNS = "seq, id, name, data, app, ts, source_run_id, started_runs, resumed"


def event_record(row: Sequence[Any]) -> Event:
    return Event(
        id=row[1],
        name=row[2],
        data=load(row[3]),
        ts=us_to_datetime(row[5]),
        app=row[4],
        source_run_id=row[6],
        started_run_ids=tuple(load(row[7]) or ()),
        resumed=int(row[8] or 0),
    )


# The columns a new run is inserted with, in the order of ``new_run``'s parameters.
_NEW_RUN_COLUMNS = (
    "id, app, workflow, status, input, event_id, parent_run_id, parent_step_id, rerun_of,"
    " runner_pin, created_at, due_at, lease_owner, lease_expires_at, last_runner, fence,"
    " started_at"
)


def insert_run_sql(mark: str) -> str:
    """The INSERT of a new run, for ``new_run``'s parameters; ``mark``: "?" or "%s"."""
    marks = ", ".join([mark] * len(_NEW_RUN_COLUMNS.split(",")))
    return f"INSERT INTO runs ({_NEW_RUN_COLUMNS}) VALUES ({marks})"


def new_run(
    *,
    run_id: str,
    app: str,
    workflow: str,
    input: bytes | None,
    event_id: str,
    parent_run_id: str | None,
    parent_step_id: str | None,
    runner_pin: str | None,
    rerun_of: str | None,
    taker: HandOff | None,
    now_us: int,
) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """The INSERT parameters of a new run (``NEW_RUN_COLUMNS``), and its claim row (as
    ``claimed_run`` reads it) if ``taker`` serves the workflow: the run is then inserted
    claimed by it (``durablex.store.handoff``) as a claim would leave it, else queued (None)."""
    if taker is None or not taker.serves(app, workflow):
        state: tuple[Any, ...] = ("queued", now_us, None, None, None, 0, None)
        claim = None
    else:
        expires = now_us + taker.lease_us
        state = ("running", expires, taker.runner, expires, taker.runner, 1, now_us)
        claim = (
            run_id, app, workflow, 1, input, event_id, parent_run_id, None, now_us,
            INVOKED_EVENT, now_us,
        )  # fmt: skip
    status, due, owner, lease_expires, last_runner, fence, started = state
    params = (
        run_id, app, workflow, status, input, event_id, parent_run_id, parent_step_id, rerun_of,
        runner_pin, now_us, due, owner, lease_expires, last_runner, fence, started,
    )  # fmt: skip
    return params, claim


def claimed_run(row: Sequence[Any]) -> ClaimedRun:
    """A row of a claim (id, app, workflow, fence, input, event_id, parent_run_id, warnings,
    created_at, event name, event ts), in both backends' column order."""
    return ClaimedRun(
        id=row[0],
        app=row[1],
        workflow=row[2],
        fence=row[3],
        input=row[4],
        event_id=row[5],
        parent_run_id=row[6],
        warnings=tuple(load(row[7]) or ()),
        created_at_us=row[8],
        event_name=row[9],
        event_ts_us=row[10],
    )


def run_filter_sql(
    filt: RunFilter, cursor: str | None, mark: str, started_by: str
) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") and parameters of a run listing; ``mark`` is the dialect's
    placeholder ("?" or "%s"), ``started_by`` its condition that the run was started by the
    event whose id is the one parameter it takes."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("r.status", filt.status),
        ("r.workflow", filt.workflow),
        ("r.app", filt.app),
        ("r.parent_run_id", filt.parent_run_id),
    ):
        if value is not None:
            where.append(f"{column} = {mark}")
            params.append(value)
    if filt.search:
        where.append(f"(r.id = {mark} OR {started_by} OR r.parent_run_id = {mark})")
        params += [filt.search, filt.search, filt.search]
    if filt.created_after_us is not None:
        where.append(f"r.created_at >= {mark}")
        params.append(filt.created_after_us)
    if filt.created_before_us is not None:
        where.append(f"r.created_at < {mark}")
        params.append(filt.created_before_us)
    if cursor:
        created, run_id = decode_cursor(cursor, int, str)
        where.append(f"(r.created_at, r.id) < ({mark}, {mark})")
        params += [created, run_id]
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def step_records(rows: list[StepRow], attempt_rows: Iterable[Sequence[Any]]) -> list[Step]:
    """A run's steps with their complete attempt logs, from its step rows and its attempt rows
    (step_id, number, started_at, ended_at, error) ordered by step and number."""
    logs: dict[str, list[Attempt]] = {}
    for a in attempt_rows:
        logs.setdefault(a[0], []).append(
            Attempt(number=a[1], started_at=dt(a[2]), ended_at=dt(a[3]), error=load(a[4]))
        )
    steps = []
    for s in rows:
        log = complete_log(s, logs.get(s.step_id, []))
        steps.append(
            Step(
                id=s.step_id,
                kind=s.kind,
                status=s.status,
                attempts=max(s.attempts, len(log)),
                input=load(s.input),
                output=load(s.output),
                error=s.error,
                started_at=dt(s.started_at_us),
                ended_at=dt(s.ended_at_us),
                after=s.after,
                wake_at=dt(s.wake_at_us),
                child_run_id=s.child_run_id,
                attempt_log=tuple(log),
            )
        )
    return steps


def choose_workflow(
    name: str, app: str | None, calling_app: str | None, defining: Sequence[str]
) -> tuple[str, str]:
    """Which (app, workflow) a name means, given the apps ``defining`` it: the app asked for,
    else the caller's own, else the only one (WorkflowNotFoundError, AmbiguousWorkflowError)."""
    if app is not None:
        if app not in defining:
            raise WorkflowNotFoundError(workflow=name, app=app)
        return app, name
    if calling_app is not None and calling_app in defining:
        return calling_app, name
    if not defining:
        raise WorkflowNotFoundError(workflow=name)
    if len(defining) > 1:
        raise AmbiguousWorkflowError(workflow=name, apps=list(defining))
    return defining[0], name


NOT_TERMINAL_SQL = "status NOT IN ('completed', 'failed', 'cancelled')"
# A run a runner holds (with lease_owner set): running, or held in memory through a short sleep.
HELD_SQL = "status IN ('running', 'sleeping')"


def json_or_none(value: Any) -> bytes | None:
    return None if value is None else orjson.dumps(value)


def step_params(run_id: str, step: StepRow) -> tuple[Any, ...]:
    """The parameters of a step row, in the column order of both stores' step upserts."""
    return (
        run_id,
        step.step_id,
        step.seq,
        step.kind,
        step.status,
        step.attempts,
        step.input,
        step.output,
        json_or_none(step.error),
        orjson.dumps(step.after),
        step.started_at_us,
        step.ended_at_us,
        step.wake_at_us,
        step.child_run_id,
    )


STEP_COLUMNS = (
    "step_id, seq, kind, status, attempts, input, output, error, after, started_at,"
    " ended_at, wake_at, child_run_id"
)


def step_row(r: Sequence[Any]) -> StepRow:
    """A row of STEP_COLUMNS as a StepRow (payloads stay encoded)."""
    return StepRow(
        step_id=r[0],
        seq=r[1],
        kind=r[2],
        status=r[3],
        attempts=r[4],
        input=r[5],
        output=r[6],
        error=load(r[7]),
        after=load(r[8]) or [],
        started_at_us=r[9],
        ended_at_us=r[10],
        wake_at_us=r[11],
        child_run_id=r[12],
    )


def child_failure(run_id: str, status: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """The error of a parent's run_workflow step whose child run ended ``status`` (failed or
    cancelled) with ``error``."""
    if status == "cancelled":
        message = f"child run {run_id} was cancelled"
    else:
        detail = error or {}
        message = (
            f"child run {run_id} failed with {detail.get('type', 'Error')}: "
            f"{detail.get('message', '')}"
        )
    return {
        "type": "ChildWorkflowFailedError",
        "message": message,
        "traceback": None,
        "child_run_id": run_id,
    }


def require_steps(run_id: str, required: Iterable[str], stored: Iterable[str]) -> None:
    """Refuse a run's end when a step record of its pass is not stored (its commit failed), so
    that no run ends without a step it returned through."""
    missing = set(required) - set(stored)
    if missing:
        raise StoreError(
            f"run {run_id}: the records of steps {sorted(missing)} were not stored; "
            "the run's end was not committed"
        )
