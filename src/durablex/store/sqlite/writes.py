"""The write transactions of the SQLite store, as functions of a ``Tx``.

Each function is one unit of a group-committed batch. Functions that act for a runner's pass
check the run's fence first (see ``durablex.store.base``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from durablex.core.ids import new_id
from durablex.core.matching import matches
from durablex.records import INVOKED_EVENT, TERMINAL_STATUSES, SendResult
from durablex.store.base import (
    AttemptWrite,
    HandOff,
    LeaseLostError,
    NewChildRun,
    NewEvent,
    StepRow,
    WaiterWrite,
    WorkflowRegistration,
)
from durablex.store.handoff import BegunRun
from durablex.store.notify import RunEnd
from durablex.store.rows import (
    HELD_SQL,
    NOT_TERMINAL_SQL,
    child_failure,
    insert_run_sql,
    json_or_none,
    new_run,
    require_steps,
    step_params,
)
from durablex.store.sqlite import reads
from durablex.store.sqlite.committer import Tx, checks_first, one_statement_for_many, unbounded


def check_fence(tx: Tx, run_id: str, fence: int) -> str:
    """Raise LeaseLostError unless this pass still holds the run; returns the run's app."""
    row = tx.conn.execute("SELECT fence, status, app FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise LeaseLostError(run_id, "the run no longer exists")
    if row[0] != fence:
        raise LeaseLostError(run_id, "the run was taken over or cancelled")
    if row[1] != "running":
        raise LeaseLostError(run_id, f"the run is {row[1]}")
    return str(row[2])


_UPSERT_STEP = """
INSERT INTO steps (run_id, step_id, seq, kind, status, attempts, input, output, error, after,
                   started_at, ended_at, wake_at, child_run_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, step_id) DO UPDATE SET
    status = excluded.status, attempts = excluded.attempts, input = excluded.input,
    output = excluded.output, error = excluded.error, after = excluded.after,
    started_at = coalesce(steps.started_at, excluded.started_at), ended_at = excluded.ended_at,
    wake_at = excluded.wake_at, child_run_id = excluded.child_run_id
"""


# The same upsert, made only while the pass still holds the run: the fence check and the write
# in one statement, the hot path of every step.
_FENCED_UPSERT_STEP = _UPSERT_STEP.replace(
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
    " WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND fence = ? AND status = 'running')",
)


def upsert_step(tx: Tx, run_id: str, step: StepRow) -> None:
    tx.conn.execute(_UPSERT_STEP, step_params(run_id, step))


def _all_or_none(tx: Tx, sql: str, params: list[tuple[Any, ...]], result: Any) -> list[Any] | None:
    """``result`` for each call when ``sql`` changed one row for each of ``params``, else None
    (the committer then undoes them and makes the calls one by one)."""
    if tx.conn.executemany(sql, params).rowcount != len(params):
        return None
    return [result] * len(params)


def _record_steps(tx: Tx, calls: list[tuple[Any, ...]]) -> list[None] | None:
    """``record_step`` of many runs' step records without attempt or waiter."""
    params = [(*step_params(run_id, step), run_id, fence) for run_id, fence, step, _, _ in calls]
    return _all_or_none(tx, _FENCED_UPSERT_STEP, params, None)


def _plain_step_record(
    run_id: str,
    fence: int,
    step: StepRow,
    attempt: AttemptWrite | None,
    waiter: WaiterWrite | None,
) -> bool:
    return attempt is None and waiter is None


@checks_first
@one_statement_for_many(_record_steps, _plain_step_record)
def record_step(
    tx: Tx,
    run_id: str,
    fence: int,
    step: StepRow,
    attempt: AttemptWrite | None,
    waiter: WaiterWrite | None,
) -> None:
    if waiter is None:
        written = tx.conn.execute(
            _FENCED_UPSERT_STEP, (*step_params(run_id, step), run_id, fence)
        ).rowcount
        if written != 1:
            check_fence(tx, run_id, fence)
            raise LeaseLostError(run_id, "the run is no longer held")
        app = ""
    else:
        app = check_fence(tx, run_id, fence)
        upsert_step(tx, run_id, step)
    if attempt is not None:
        tx.conn.execute(
            "INSERT OR REPLACE INTO attempts (run_id, step_id, number, started_at, ended_at, error)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                run_id,
                step.step_id,
                attempt.number,
                attempt.started_at_us,
                attempt.ended_at_us,
                json_or_none(attempt.error),
            ),
        )
    if waiter is not None:
        tx.conn.execute(
            "INSERT OR REPLACE INTO waiters (run_id, step_id, event_name, app, match)"
            " VALUES (?, ?, ?, ?, ?)",
            (run_id, step.step_id, waiter.event_name, app, json_or_none(waiter.match)),
        )


@checks_first
def resolve_wait_timeout(tx: Tx, run_id: str, fence: int, step_id: str) -> tuple[str, Any]:
    check_fence(tx, run_id, fence)
    tx.conn.execute(
        "UPDATE steps SET status = 'completed', output = NULL, ended_at = ?, wake_at = NULL"
        " WHERE run_id = ? AND step_id = ? AND status = 'waiting'",
        (tx.now_us, run_id, step_id),
    )
    tx.conn.execute("DELETE FROM waiters WHERE run_id = ? AND step_id = ?", (run_id, step_id))
    row = tx.conn.execute(
        "SELECT status, output FROM steps WHERE run_id = ? AND step_id = ?", (run_id, step_id)
    ).fetchone()
    return (str(row[0]), row[1]) if row else ("completed", None)


_COMPLETE_SLEEP = (
    "UPDATE steps SET status = 'completed', ended_at = ? "
    "WHERE run_id = ? AND step_id = ? AND status = 'sleeping'"
    " AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND fence = ? AND status = 'running')"
)


def _complete_sleeps(tx: Tx, calls: list[tuple[Any, ...]]) -> list[None] | None:
    now = tx.now_us
    params = [(now, run_id, step_id, run_id, fence) for run_id, fence, step_id in calls]
    return _all_or_none(tx, _COMPLETE_SLEEP, params, None)


@checks_first
@one_statement_for_many(_complete_sleeps)
def complete_sleep(tx: Tx, run_id: str, fence: int, step_id: str) -> None:
    changed = tx.conn.execute(_COMPLETE_SLEEP, (tx.now_us, run_id, step_id, run_id, fence)).rowcount
    if not changed:
        check_fence(tx, run_id, fence)


@checks_first
def add_warning(tx: Tx, run_id: str, fence: int, warning: str) -> None:
    check_fence(tx, run_id, fence)
    row = tx.conn.execute("SELECT warnings FROM runs WHERE id = ?", (run_id,)).fetchone()
    warnings: list[str] = orjson.loads(row[0]) if row and row[0] else []
    if warning not in warnings:
        warnings.append(warning)
        tx.conn.execute(
            "UPDATE runs SET warnings = ? WHERE id = ?", (orjson.dumps(warnings), run_id)
        )


# -- runs -------------------------------------------------------------------------------


def insert_event_row(
    tx: Tx,
    event_id: str,
    name: str,
    data: bytes | None,
    app: str | None,
    source_run_id: str | None = None,
    source_step_id: str | None = None,
    started_runs: list[str] | None = None,
    ts_us: int | None = None,
) -> None:
    tx.conn.execute(
        "INSERT INTO events (id, name, data, app, ts, source_run_id, source_step_id,"
        " started_runs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event_id,
            name,
            data,
            app,
            tx.now_us if ts_us is None else ts_us,
            source_run_id,
            source_step_id,
            None if started_runs is None else orjson.dumps(started_runs),
        ),
    )


_INSERT_RUN = insert_run_sql("?")


def insert_run(
    tx: Tx,
    *,
    app: str,
    workflow: str,
    input: bytes | None,
    event_id: str,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    parent_step_id: str | None = None,
    runner_pin: str | None = None,
    rerun_of: str | None = None,
    taker: HandOff | None = None,
) -> tuple[str, tuple[Any, ...] | None]:
    """Insert a run, queued, or claimed by ``taker`` (fence 1) as a claim would if it serves
    the workflow; return the run's id and then its claim row (as ``claim`` returns)."""
    run_id = run_id or new_id()
    params, claim = new_run(
        run_id=run_id,
        app=app,
        workflow=workflow,
        input=input,
        event_id=event_id,
        parent_run_id=parent_run_id,
        parent_step_id=parent_step_id,
        runner_pin=runner_pin,
        rerun_of=rerun_of,
        taker=taker,
        now_us=tx.now_us,
    )
    if claim is None:
        tx.notices.work_due = True
    tx.conn.execute(_INSERT_RUN, params)
    return run_id, claim


def start_run(
    tx: Tx,
    app: str | None,
    workflow: str,
    input: bytes | None,
    runner_pin: str | None,
    rerun_of: str | None,
    taker: HandOff | None = None,
) -> tuple[str, tuple[Any, ...] | None]:
    """The new run's id, and its claim row (as ``claim`` returns) if ``taker`` took it."""
    app, workflow = reads.resolve_workflow(tx.conn, workflow, app, None)
    event_id, run_id = new_id(), new_id()
    insert_event_row(tx, event_id, INVOKED_EVENT, input, app, started_runs=[run_id])
    return insert_run(
        tx,
        app=app,
        workflow=workflow,
        input=input,
        event_id=event_id,
        run_id=run_id,
        runner_pin=runner_pin,
        rerun_of=rerun_of,
        taker=taker,
    )


def start_begun_run(tx: Tx, run: BegunRun) -> str:
    """``start_run`` of a run its runner began before this transaction (``durablex.store.
    handoff``): its event and its row as they were fixed then; the run's id."""
    insert_event_row(
        tx,
        run.event_id,
        INVOKED_EVENT,
        run.input,
        run.app,
        started_runs=[run.run_id],
        ts_us=run.now_us,
    )
    tx.conn.execute(_INSERT_RUN, run.params)
    return run.run_id


def start_child(
    tx: Tx, run_id: str, fence: int, step: StepRow, child: NewChildRun, taker: HandOff | None = None
) -> tuple[str, tuple[Any, ...] | None]:
    """The child's id, and its claim row if ``taker`` took it (as ``start_run``)."""
    check_fence(tx, run_id, fence)
    upsert_step(tx, run_id, step)
    event_id = new_id()
    insert_event_row(
        tx,
        event_id,
        INVOKED_EVENT,
        child.input,
        child.app,
        run_id,
        step.step_id,
        started_runs=[child.run_id],
    )
    return insert_run(
        tx,
        app=child.app,
        workflow=child.workflow,
        input=child.input,
        event_id=event_id,
        run_id=child.run_id,
        parent_run_id=run_id,
        parent_step_id=step.step_id,
        runner_pin=child.runner_pin,
        taker=taker,
    )


# -- events -----------------------------------------------------------------------------


def wake_runs(tx: Tx, run_ids: Sequence[str]) -> None:
    """Make parked runs due now; a run held by a pass is flagged to run again instead."""
    if not run_ids:
        return
    # One statement for all of them: SQLite walks the ids in order with its cursors kept open,
    # two to three times faster than a statement per run for the thousands a send wakes.
    tx.conn.execute(
        "UPDATE runs SET"
        " wake_pending = CASE WHEN lease_owner IS NULL THEN wake_pending ELSE 1 END,"
        " status = CASE WHEN lease_owner IS NULL THEN 'queued' ELSE status END,"
        " due_at = CASE WHEN lease_owner IS NULL THEN ? ELSE due_at END"
        f" WHERE id IN (SELECT value FROM json_each(?)) AND {NOT_TERMINAL_SQL}",
        (tx.now_us, orjson.dumps(list(run_ids))),
    )
    tx.notices.work_due = True


@unbounded
def accept_event(
    tx: Tx,
    event: NewEvent,
    source_run_id: str | None = None,
    source_step_id: str | None = None,
) -> SendResult:
    """Store an event, start the runs it triggers and resume every waiter parked on it."""
    conn = tx.conn
    existing = conn.execute(
        "SELECT started_runs, resumed FROM events WHERE id = ?", (event.event_id,)
    ).fetchone()
    if existing is not None:
        started = orjson.loads(existing[0]) if existing[0] else []
        return SendResult(event_id=event.event_id, run_ids=started, resumed=int(existing[1]))
    insert_event_row(
        tx, event.event_id, event.name, event.data, event.app, source_run_id, source_step_id
    )
    if event.app is None:
        triggered = conn.execute(
            "SELECT app, workflow FROM triggers WHERE event_name = ? ORDER BY app, workflow",
            (event.name,),
        ).fetchall()
    else:
        triggered = conn.execute(
            "SELECT app, workflow FROM triggers WHERE event_name = ? AND app = ? ORDER BY workflow",
            (event.name, event.app),
        ).fetchall()
    started = [
        insert_run(tx, app=app, workflow=workflow, input=event.data, event_id=event.event_id)[0]
        for app, workflow in triggered
    ]
    resumed = _resolve_waiters(tx, event)
    conn.execute(
        "UPDATE events SET started_runs = ?, resumed = ? WHERE id = ?",
        (orjson.dumps(started), resumed, event.event_id),
    )
    return SendResult(event_id=event.event_id, run_ids=started, resumed=resumed)


_OPEN_WAITERS = (
    "SELECT w.run_id, w.step_id, w.match FROM waiters w JOIN steps s"
    " ON s.run_id = w.run_id AND s.step_id = w.step_id"
    " WHERE w.event_name = ? AND (s.wake_at IS NULL OR s.wake_at > ?)"
)


# (run id, step id) pairs sent as one JSON array, each found by the steps' primary key: a send
# resolves its waiters, and a batch of run ends checks its required steps, a statement for all
# of them, not one per pair (see wake_runs).
_KEYS_OF_JSON = (
    "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"
)


def _resolve_waiters(tx: Tx, event: NewEvent) -> int:
    """Resolve the waits on ``event``; a wait whose timeout has passed is not resolved, even
    if no runner has handled that timeout yet (it returns None, whoever runs it later)."""
    conn = tx.conn
    if event.app is None:
        rows = conn.execute(_OPEN_WAITERS, (event.name, tx.now_us)).fetchall()
    else:
        rows = conn.execute(
            _OPEN_WAITERS + " AND w.app = ?", (event.name, tx.now_us, event.app)
        ).fetchall()
    if not rows:
        return 0
    data: Any = None
    if any(row[2] is not None for row in rows):
        data = orjson.loads(event.data) if event.data is not None else None
    chosen = [
        (row[0], row[1]) for row in rows if row[2] is None or matches(orjson.loads(row[2]), data)
    ]
    if not chosen:
        return 0
    keys = orjson.dumps(chosen)
    conn.execute(
        "UPDATE steps SET status = 'completed', output = ?, ended_at = ?, wake_at = NULL,"
        f" event_id = ? WHERE (run_id, step_id) IN {_KEYS_OF_JSON} AND status = 'waiting'",
        (event.data, tx.now_us, event.event_id, keys),
    )
    conn.execute(f"DELETE FROM waiters WHERE (run_id, step_id) IN {_KEYS_OF_JSON}", (keys,))
    wake_runs(tx, [run_id for run_id, _ in chosen])  # the statement's IN takes each run once
    return len(chosen)


def emit_event(tx: Tx, run_id: str, fence: int, step: StepRow, event: NewEvent) -> SendResult:
    check_fence(tx, run_id, fence)
    upsert_step(tx, run_id, step)
    return accept_event(tx, event, run_id, step.step_id)


# -- ends of runs -----------------------------------------------------------------------


def _cancel_open_steps(tx: Tx, run_id: str) -> bool:
    """Cancel the run's unfinished steps; False when it had none (and so no waiter and no
    child still going: a child runs only while its ``run_workflow`` step waits)."""
    changed = tx.conn.execute(
        "UPDATE steps SET status = 'cancelled', ended_at = coalesce(ended_at, ?), wake_at = NULL"
        " WHERE run_id = ? AND status IN ('running', 'sleeping', 'waiting')",
        (tx.now_us, run_id),
    ).rowcount
    if changed:
        tx.conn.execute("DELETE FROM waiters WHERE run_id = ?", (run_id,))
    return bool(changed)


_END_RUN = (
    "UPDATE runs SET status = ?, output = ?, error = ?, ended_at = ?, due_at = NULL,"
    " lease_owner = NULL, lease_expires_at = NULL, wake_pending = 0 WHERE id = ?"
)


_END_FENCED_RUN = _END_RUN + " AND fence = ? AND status = 'running'"
_RETURNING_PARENT = " RETURNING parent_run_id, parent_step_id"
# Most runs have no parent, and a plain UPDATE costs about half of one with RETURNING (8 of
# 18 us here): a run without one ends in that, others in a second UPDATE that says who.
_END_FENCED_RUN_WITHOUT_PARENT = _END_FENCED_RUN + " AND parent_run_id IS NULL"


def _end_run(
    tx: Tx,
    run_id: str,
    status: str,
    output: bytes | None,
    error: dict[str, Any] | None,
    fence: int | None = None,
    open_steps: bool = True,
) -> None:
    """End the run; with ``fence``, only while that pass still holds it (else LeaseLostError).
    ``open_steps=False``: no step of the run is unfinished (see ``Store.complete_run``)."""
    params: tuple[Any, ...] = (status, output, json_or_none(error), tx.now_us, run_id)
    row: tuple[Any, ...] | None = None
    if fence is None:
        row = tx.conn.execute(_END_RUN + _RETURNING_PARENT, params).fetchone()
    elif not tx.conn.execute(_END_FENCED_RUN_WITHOUT_PARENT, (*params, fence)).rowcount:
        row = tx.conn.execute(_END_FENCED_RUN + _RETURNING_PARENT, (*params, fence)).fetchone()
        if row is None:
            check_fence(tx, run_id, fence)
            raise LeaseLostError(run_id, "the run is no longer held")
    if open_steps and _cancel_open_steps(tx, run_id):
        _cancel_children(tx, run_id)
    if row is not None and row[0] is not None:
        _report_to_parent(tx, run_id, row[0], row[1], status, output, error)
    _note_end(tx, run_id, RunEnd(status, output, params[2]))  # last: nothing after it raises


def _note_end(tx: Tx, run_id: str, end: RunEnd) -> None:
    """The notices of a run's end: for the waiters of its result, with the end itself."""
    tx.notices.terminal.add(run_id)
    tx.notices.ends[run_id] = end


def _cancel_children(tx: Tx, run_id: str) -> None:
    children = [
        r[0]
        for r in tx.conn.execute(
            f"SELECT id FROM runs WHERE parent_run_id = ? AND {NOT_TERMINAL_SQL}", (run_id,)
        )
    ]
    for child in children:
        tx.conn.execute(
            "UPDATE runs SET status = 'cancelled', ended_at = ?, due_at = NULL,"
            " lease_owner = NULL, lease_expires_at = NULL, fence = fence + 1 WHERE id = ?",
            (tx.now_us, child),
        )
        tx.notices.terminal.add(child)
        if _cancel_open_steps(tx, child):
            _cancel_children(tx, child)


def _report_to_parent(
    tx: Tx,
    run_id: str,
    parent_id: str,
    step_id: str,
    status: str,
    output: bytes | None,
    error: dict[str, Any] | None,
) -> None:
    if status == "completed":
        tx.conn.execute(
            "UPDATE steps SET status = 'completed', output = ?, ended_at = ?"
            " WHERE run_id = ? AND step_id = ? AND status = 'waiting' AND child_run_id = ?",
            (output, tx.now_us, parent_id, step_id, run_id),
        )
    else:
        step_error = child_failure(run_id, status, error)
        tx.conn.execute(
            "UPDATE steps SET status = 'failed', error = ?, ended_at = ?"
            " WHERE run_id = ? AND step_id = ? AND status = 'waiting' AND child_run_id = ?",
            (orjson.dumps(step_error), tx.now_us, parent_id, step_id, run_id),
        )
    wake_runs(tx, [parent_id])


def _completed_among(tx: Tx, run_id: str, step_ids: Sequence[str]) -> set[str]:
    """Which of ``step_ids`` are stored as completed. A run's end usually requires one step
    (its last, committed with it): a key lookup, which costs half of the json_each query."""
    if len(step_ids) == 1:
        row = tx.conn.execute(
            "SELECT step_id FROM steps WHERE run_id = ? AND step_id = ? AND status = 'completed'",
            (run_id, step_ids[0]),
        ).fetchone()
        return {row[0]} if row else set()
    return {
        r[0]
        for r in tx.conn.execute(
            "SELECT step_id FROM steps WHERE run_id = ? AND status = 'completed'"
            " AND step_id IN (SELECT value FROM json_each(?))",
            (run_id, orjson.dumps(list(step_ids))),
        )
    }


_COUNT_COMPLETED = (
    f"SELECT count(*) FROM steps WHERE (run_id, step_id) IN {_KEYS_OF_JSON}"
    " AND status = 'completed'"
)


def _complete_runs(tx: Tx, calls: list[tuple[Any, ...]]) -> list[None] | None:
    """``complete_run`` of many runs without a parent or an unfinished step."""
    required = list({(run_id, step_id) for run_id, _, _, steps, _ in calls for step_id in steps})
    if required:
        stored = tx.conn.execute(_COUNT_COMPLETED, (orjson.dumps(required),)).fetchone()[0]
        if stored != len(required):
            return None
    now = tx.now_us
    params = [
        ("completed", output, None, now, run_id, fence) for run_id, fence, output, _, _ in calls
    ]
    ended = _all_or_none(tx, _END_FENCED_RUN_WITHOUT_PARENT, params, None)
    if ended is not None:
        for run_id, _, output, _, _ in calls:
            _note_end(tx, run_id, RunEnd("completed", output, None))
    return ended


def _without_open_steps(
    run_id: str,
    fence: int,
    output: bytes | None,
    required: Sequence[str] = (),
    open_steps: bool = True,
) -> bool:
    return not open_steps


@checks_first
@one_statement_for_many(_complete_runs, _without_open_steps)
def complete_run(
    tx: Tx,
    run_id: str,
    fence: int,
    output: bytes | None,
    required: Sequence[str] = (),
    open_steps: bool = True,
) -> None:
    if required:
        stored = _completed_among(tx, run_id, required)
        if not stored.issuperset(required):
            check_fence(tx, run_id, fence)  # a lost run says so rather than "not stored"
        require_steps(run_id, required, stored)
    _end_run(tx, run_id, "completed", output, None, fence, open_steps)


def fail_run(
    tx: Tx,
    run_id: str,
    fence: int,
    error: dict[str, Any],
    cancelled_steps: Sequence[StepRow],
) -> None:
    check_fence(tx, run_id, fence)
    for step in cancelled_steps:
        tx.conn.execute(
            _UPSERT_STEP + " WHERE steps.status NOT IN ('completed', 'failed')",
            step_params(run_id, step),
        )
    _end_run(tx, run_id, "failed", None, error)


@unbounded
def cancel_run(tx: Tx, run_id: str) -> bool:
    row = tx.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise LookupError(f"no run with id {run_id!r}")
    if row[0] in TERMINAL_STATUSES:
        return False
    tx.conn.execute("UPDATE runs SET fence = fence + 1 WHERE id = ?", (run_id,))
    _end_run(tx, run_id, "cancelled", None, None)
    return True


def resume_run(tx: Tx, run_id: str) -> None:
    row = tx.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise LookupError(f"no run with id {run_id!r}")
    if row[0] != "failed":
        raise ValueError(f"only a failed run can be resumed; run {run_id} is {row[0]}")
    tx.conn.execute(
        "DELETE FROM steps WHERE run_id = ? AND status IN ('failed', 'cancelled')", (run_id,)
    )
    tx.conn.execute(
        "UPDATE runs SET status = 'queued', output = NULL, error = NULL, ended_at = NULL,"
        " due_at = ?, lease_owner = NULL, lease_expires_at = NULL, wake_pending = 0,"
        " fence = fence + 1 WHERE id = ?",
        (tx.now_us, run_id),
    )
    tx.notices.work_due = True


_PARK_RUN = (
    "UPDATE runs SET status = ?, due_at = ?, lease_owner = NULL, lease_expires_at = NULL"
    " WHERE id = ? AND fence = ? AND status = 'running' AND wake_pending = 0"
)


def _park_runs(tx: Tx, calls: list[tuple[Any, ...]]) -> list[bool] | None:
    params = [(status, due, run_id, fence) for run_id, fence, status, due in calls]
    parked = _all_or_none(tx, _PARK_RUN, params, True)
    if parked is not None and any(due is not None for _, _, _, due in calls):
        tx.notices.work_due = True
    return parked


@checks_first
@one_statement_for_many(_park_runs)
def park_run(tx: Tx, run_id: str, fence: int, status: str, due_at_us: int | None) -> bool:
    parked = tx.conn.execute(_PARK_RUN, (status, due_at_us, run_id, fence)).rowcount
    if not parked:
        check_fence(tx, run_id, fence)
        # still held, so a wake-up arrived during the pass: it runs again instead
        tx.conn.execute("UPDATE runs SET wake_pending = 0 WHERE id = ?", (run_id,))
        return False
    if due_at_us is not None:
        tx.notices.work_due = True
    return True


_HOLD_RUN = (
    "UPDATE runs SET status = 'sleeping', due_at = ?, lease_expires_at = ?"
    " WHERE id = ? AND fence = ? AND status = 'running' AND wake_pending = 0"
)


def _hold_runs(tx: Tx, calls: list[tuple[Any, ...]]) -> list[bool] | None:
    params = [(until, until, run_id, fence) for run_id, fence, until in calls]
    return _all_or_none(tx, _HOLD_RUN, params, True)


@checks_first
@one_statement_for_many(_hold_runs)
def hold_run(tx: Tx, run_id: str, fence: int, until_us: int) -> bool:
    held = tx.conn.execute(_HOLD_RUN, (until_us, until_us, run_id, fence)).rowcount
    if not held:
        check_fence(tx, run_id, fence)
        return False  # a wake-up arrived during the pass: it keeps running instead
    return True


_RESUME_HELD = (
    "UPDATE runs SET status = 'running', due_at = ?, lease_expires_at = ?"
    " WHERE id = ? AND fence = ? AND status = 'sleeping' AND lease_owner IS NOT NULL"
)


def _resume_held_runs(tx: Tx, calls: list[tuple[Any, ...]]) -> list[None] | None:
    now = tx.now_us
    params = [(now + lease, now + lease, run_id, fence) for run_id, fence, lease in calls]
    return _all_or_none(tx, _RESUME_HELD, params, None)


@checks_first
@one_statement_for_many(_resume_held_runs)
def resume_held(tx: Tx, run_id: str, fence: int, lease_us: int) -> None:
    expires = tx.now_us + lease_us
    resumed = tx.conn.execute(_RESUME_HELD, (expires, expires, run_id, fence)).rowcount
    if not resumed:
        check_fence(tx, run_id, fence)  # raises unless it was running already


# -- claims and leases ------------------------------------------------------------------


@checks_first
def claim(
    tx: Tx, runner: str, apps: Sequence[str], limit: int, lease_us: int, ahead_us: int = 0
) -> list[tuple[Any, ...]]:
    now = tx.now_us
    horizon = now + ahead_us
    expires = now + lease_us
    marks = ",".join("?" * len(apps))
    rows = tx.conn.execute(
        "UPDATE runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, due_at = ?,"
        " fence = fence + 1, wake_pending = 0, started_at = coalesce(started_at, ?),"
        " last_runner = ?"
        " WHERE id IN (SELECT id FROM runs WHERE due_at <= ? AND app IN (" + marks + ")"
        " AND (runner_pin IS NULL OR runner_pin = ?)"
        " AND (lease_expires_at IS NULL OR lease_expires_at <= ?)"
        f" AND {NOT_TERMINAL_SQL} ORDER BY due_at LIMIT ?)"
        " RETURNING id, app, workflow, fence, input, event_id, parent_run_id, warnings,"
        " created_at",
        (runner, expires, expires, now, runner, horizon, *apps, runner, now, limit),
    ).fetchall()
    if not rows:
        return []
    events = {
        event_id: (name, ts)
        for event_id, name, ts in tx.conn.execute(
            "SELECT id, name, ts FROM events WHERE id IN (SELECT value FROM json_each(?))",
            (orjson.dumps([row[5] for row in rows]),),
        )
    }
    return [(*row, *events.get(row[5], (INVOKED_EVENT, row[8]))) for row in rows]


@checks_first
def renew_leases(tx: Tx, runner: str, run_ids: Sequence[str], lease_us: int) -> None:
    """Extend the leases of the runs this runner is actually executing, and no others."""
    expires = tx.now_us + lease_us
    tx.conn.execute(
        "UPDATE runs SET lease_expires_at = ?, due_at = ? WHERE lease_owner = ?"
        # "+": found by id, not by a scan of every running run through runs_status_created
        " AND +status = 'running' AND id IN (SELECT value FROM json_each(?))",
        (expires, expires, runner, orjson.dumps(list(run_ids))),
    )


def release_runs(tx: Tx, runner: str) -> None:
    tx.conn.execute(
        "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
        f" due_at = ?, wake_pending = 0 WHERE lease_owner = ? AND {HELD_SQL}",
        (tx.now_us, runner),
    )
    tx.notices.work_due = True


def release_run(tx: Tx, run_id: str, fence: int) -> None:
    tx.conn.execute(
        "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
        f" due_at = ?, wake_pending = 0 WHERE id = ? AND fence = ? AND {HELD_SQL}",
        (tx.now_us, run_id, fence),
    )
    tx.notices.work_due = True


# -- registry ---------------------------------------------------------------------------


def register_runner(
    tx: Tx,
    runner: str,
    host: str,
    pid: int,
    apps: Sequence[str],
    workflows: Sequence[WorkflowRegistration],
) -> None:
    conn = tx.conn
    conn.execute(
        "INSERT INTO runners (name, apps, host, pid, started_at, heartbeat_at, stopped_at)"
        " VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (name) DO UPDATE SET apps = excluded.apps,"
        " host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,"
        " heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
        (runner, orjson.dumps(list(apps)), host, pid, tx.now_us, tx.now_us),
    )
    for app in apps:
        conn.execute("DELETE FROM workflows WHERE app = ?", (app,))
        conn.execute("DELETE FROM triggers WHERE app = ?", (app,))
    for wf in workflows:
        conn.execute(
            "INSERT INTO workflows (app, name, triggers, updated_at) VALUES (?, ?, ?, ?)",
            (wf.app, wf.name, orjson.dumps(list(wf.triggers)), tx.now_us),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO triggers (event_name, app, workflow) VALUES (?, ?, ?)",
            [(name, wf.app, wf.name) for name in wf.triggers],
        )


def runner_heartbeat(tx: Tx, runner: str) -> None:
    tx.conn.execute("UPDATE runners SET heartbeat_at = ? WHERE name = ?", (tx.now_us, runner))


def runner_stopped(tx: Tx, runner: str) -> None:
    tx.conn.execute(
        "UPDATE runners SET stopped_at = ?, heartbeat_at = ? WHERE name = ?",
        (tx.now_us, tx.now_us, runner),
    )
