"""The write transactions of the PostgreSQL store, as async functions of a ``Tx``.

They mirror ``store/sqlite/writes.py`` statement for statement (the SQLite store is the
reference). Functions acting for a runner's pass check the run's fence first, reading the run
row ``FOR UPDATE``: a concurrent claim, cancel or wake-up of the run either committed before
(and is seen) or waits for this transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from durablex.core.ids import new_id
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
from durablex.store.postgres.committer import Deferred, Tx
from durablex.store.postgres.events import WAKE_SET, accept_event, sql_match
from durablex.store.postgres.inserts import INSERT_RUN, insert_invoked_event, insert_run
from durablex.store.rows import (
    HELD_SQL,
    NOT_TERMINAL_SQL,
    child_failure,
    choose_workflow,
    json_or_none,
    require_steps,
    step_params,
)


async def check_fence(tx: Tx, run_id: str, fence: int) -> str:
    """Raise LeaseLostError unless this pass still holds the run; returns the run's app."""
    row = await tx.one("SELECT fence, status, app FROM runs WHERE id = %s FOR UPDATE", (run_id,))
    _fence_ok(run_id, fence, row)
    return str(row[2])


def _fence_ok(run_id: str, fence: int, row: Any) -> None:
    if row is None:
        raise LeaseLostError(run_id, "the run no longer exists")
    if row[0] != fence:
        raise LeaseLostError(run_id, "the run was taken over or cancelled")
    if row[1] != "running":
        raise LeaseLostError(run_id, f"the run is {row[1]}")


_UPSERT_STEP = """
INSERT INTO steps (run_id, step_id, seq, kind, status, attempts, input, output, error, after,
                   started_at, ended_at, wake_at, child_run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id, step_id) DO UPDATE SET
    status = excluded.status, attempts = excluded.attempts, input = excluded.input,
    output = excluded.output, error = excluded.error, after = excluded.after,
    started_at = coalesce(steps.started_at, excluded.started_at), ended_at = excluded.ended_at,
    wake_at = excluded.wake_at, child_run_id = excluded.child_run_id
"""


async def upsert_step(tx: Tx, run_id: str, step: StepRow) -> None:
    await tx.execute(_UPSERT_STEP, step_params(run_id, step))


_FENCED = "EXISTS (SELECT 1 FROM runs WHERE id = %s AND fence = %s AND status = 'running')"
_VALUES = "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
assert _VALUES in _UPSERT_STEP
# INSERT ... SELECT gives the parameters no column types: cast those that may be NULL
_FENCED_UPSERT_STEP = _UPSERT_STEP.replace(
    _VALUES,
    "SELECT %s, %s, %s::bigint, %s, %s, %s::int, %s::bytea, %s::bytea, %s::bytea, %s::bytea,"
    f" %s::bigint, %s::bigint, %s::bigint, %s::text WHERE {_FENCED}",
)


async def record_step(
    tx: Tx,
    run_id: str,
    fence: int,
    step: StepRow,
    attempt: AttemptWrite | None,
    waiter: WaiterWrite | None,
) -> Deferred:
    """Record a step without waiting for a round trip: every statement is conditional on the
    fence, and the fence is checked once the batch has been sent (see ``Deferred``).

    The run row is already locked by the batch (the store declares it), so the conditions and
    the check see the same fence. A waiter is written under the shared advisory lock of its
    event name.
    """
    # every parameter is encoded before the first statement is sent: once one is, nothing but
    # a database error (which fails the whole batch) can interrupt the write
    fenced_params = (*step_params(run_id, step), run_id, fence)
    attempt_params = None
    if attempt is not None:
        attempt_params = (
            run_id,
            step.step_id,
            attempt.number,
            attempt.started_at_us,
            attempt.ended_at_us,
            json_or_none(attempt.error),
            run_id,
            fence,
        )
    waiter_params = None
    if waiter is not None:
        waiter_params = (
            step.step_id,
            waiter.event_name,
            json_or_none(waiter.match),
            sql_match(waiter.match),
            run_id,
            fence,
        )
    cur = await tx.conn.execute("SELECT fence, status FROM runs WHERE id = %s", (run_id,))
    await tx.execute(_FENCED_UPSERT_STEP, fenced_params)
    if attempt_params is not None:
        await tx.execute(
            "INSERT INTO attempts (run_id, step_id, number, started_at, ended_at, error)"
            f" SELECT %s, %s, %s::int, %s::bigint, %s::bigint, %s::bytea WHERE {_FENCED}"
            " ON CONFLICT (run_id, step_id, number) DO UPDATE"
            " SET started_at = excluded.started_at, ended_at = excluded.ended_at,"
            " error = excluded.error",
            attempt_params,
        )
    if waiter_params is not None:
        await tx.execute(
            "INSERT INTO waiters (run_id, step_id, event_name, app, match, match_sql)"
            " SELECT id, %s, %s, app, %s::bytea, %s::jsonb FROM runs"
            " WHERE id = %s AND fence = %s AND status = 'running'"
            " ON CONFLICT (run_id, step_id) DO UPDATE"
            " SET event_name = excluded.event_name, app = excluded.app,"
            " match = excluded.match, match_sql = excluded.match_sql",
            waiter_params,
        )

    async def check() -> None:
        _fence_ok(run_id, fence, await cur.fetchone())

    return Deferred(check)


async def resolve_wait_timeout(tx: Tx, run_id: str, fence: int, step_id: str) -> tuple[str, Any]:
    await check_fence(tx, run_id, fence)
    await tx.execute(
        "UPDATE steps SET status = 'completed', output = NULL, ended_at = %s, wake_at = NULL"
        " WHERE run_id = %s AND step_id = %s AND status = 'waiting'",
        (tx.now_us, run_id, step_id),
    )
    await tx.execute("DELETE FROM waiters WHERE run_id = %s AND step_id = %s", (run_id, step_id))
    row = await tx.one(
        "SELECT status, output FROM steps WHERE run_id = %s AND step_id = %s", (run_id, step_id)
    )
    return (str(row[0]), row[1]) if row else ("completed", None)


async def complete_sleep(tx: Tx, run_id: str, fence: int, step_id: str) -> None:
    await check_fence(tx, run_id, fence)
    await tx.execute(
        "UPDATE steps SET status = 'completed', ended_at = %s "
        "WHERE run_id = %s AND step_id = %s AND status = 'sleeping'",
        (tx.now_us, run_id, step_id),
    )


async def add_warning(tx: Tx, run_id: str, fence: int, warning: str) -> None:
    await check_fence(tx, run_id, fence)
    row = await tx.one("SELECT warnings FROM runs WHERE id = %s", (run_id,))
    warnings: list[str] = orjson.loads(row[0]) if row and row[0] else []
    if warning not in warnings:
        warnings.append(warning)
        await tx.execute(
            "UPDATE runs SET warnings = %s WHERE id = %s", (orjson.dumps(warnings), run_id)
        )


# -- starting runs ----------------------------------------------------------------------


async def resolve_workflow(
    tx: Tx, name: str, app: str | None, calling_app: str | None
) -> tuple[str, str]:
    rows = await tx.all("SELECT app FROM workflows WHERE name = %s ORDER BY app", (name,))
    return choose_workflow(name, app, calling_app, [row[0] for row in rows])


async def start_run(
    tx: Tx,
    app: str | None,
    workflow: str,
    input: bytes | None,
    runner_pin: str | None,
    rerun_of: str | None,
    taker: HandOff | None = None,
) -> tuple[str, tuple[Any, ...] | None]:
    """The new run's id, and its claim row (as ``claim`` returns) if ``taker`` took it."""
    app, workflow = await resolve_workflow(tx, workflow, app, None)
    event_id, run_id = new_id(), new_id()
    await insert_invoked_event(tx, event_id, input, app, run_id)
    return await insert_run(
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


async def start_begun_run(tx: Tx, run: BegunRun) -> str:
    """``start_run`` of a run its runner began before this transaction (``durablex.store.
    handoff``): its event and its row as they were fixed then; the run's id."""
    await insert_invoked_event(tx, run.event_id, run.input, run.app, run.run_id, ts_us=run.now_us)
    await tx.execute(INSERT_RUN, run.params)
    return run.run_id


async def start_child(
    tx: Tx, run_id: str, fence: int, step: StepRow, child: NewChildRun, taker: HandOff | None = None
) -> tuple[str, tuple[Any, ...] | None]:
    """The child's id, and its claim row if ``taker`` took it (as ``start_run``)."""
    await check_fence(tx, run_id, fence)
    await upsert_step(tx, run_id, step)
    event_id = new_id()
    await insert_invoked_event(
        tx, event_id, child.input, child.app, child.run_id, run_id, step.step_id
    )
    return await insert_run(
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


async def emit_event(tx: Tx, run_id: str, fence: int, step: StepRow, event: NewEvent) -> SendResult:
    """(Runs under the exclusive advisory lock of the event's name.)"""
    await check_fence(tx, run_id, fence)
    await upsert_step(tx, run_id, step)
    return await accept_event(tx, event, run_id, step.step_id)


async def wake_runs(tx: Tx, run_ids: Sequence[str]) -> None:
    """Make parked runs due now; a run held by a pass is flagged to run again instead."""
    if not run_ids:
        return
    await tx.execute(
        f"UPDATE runs SET {WAKE_SET} WHERE id = ANY(%(ids)s) AND {NOT_TERMINAL_SQL}",
        {"now": tx.now_us, "ids": list(run_ids)},
    )
    tx.notices.work_due = True


# -- ends of runs -----------------------------------------------------------------------


async def _cancel_open_steps(tx: Tx, run_id: str) -> None:
    await tx.execute(
        "UPDATE steps SET status = 'cancelled', ended_at = coalesce(ended_at, %s), wake_at = NULL"
        " WHERE run_id = %s AND status IN ('running', 'sleeping', 'waiting')",
        (tx.now_us, run_id),
    )
    await tx.execute("DELETE FROM waiters WHERE run_id = %s", (run_id,))


async def _end_run(
    tx: Tx,
    run_id: str,
    status: str,
    output: bytes | None,
    error: dict[str, Any] | None,
    open_steps: bool = True,
) -> None:
    """End the run; ``open_steps=False``: no step of it is unfinished (``Store.complete_run``),
    so there is no step, waiter or child run to cancel."""
    row = await tx.one(
        _END_RUN + " RETURNING parent_run_id, parent_step_id",
        (status, output, json_or_none(error), tx.now_us, run_id),
    )
    await _ended(tx, run_id, status, output, error, open_steps, row)


_END_RUN = (
    "UPDATE runs SET status = %s, output = %s, error = %s, ended_at = %s, due_at = NULL,"
    " lease_owner = NULL, lease_expires_at = NULL, wake_pending = false WHERE id = %s"
)

# A pass's end of its run, in one statement (one round trip): only while the pass holds the
# run, and only if the step records it returned through are stored.
_COMPLETE_RUN = (
    _END_RUN + " AND fence = %s AND status = 'running' AND (SELECT count(*) FROM steps"
    " WHERE run_id = %s AND status = 'completed' AND step_id = ANY(%s)) = %s"
    " RETURNING parent_run_id, parent_step_id"
)


async def _ended(
    tx: Tx,
    run_id: str,
    status: str,
    output: bytes | None,
    error: dict[str, Any] | None,
    open_steps: bool,
    row: Any,
) -> None:
    """What follows a run's end in its transaction: its children, its parent, the notices."""
    tx.notices.terminal.add(run_id)
    if open_steps:
        await _cancel_open_steps(tx, run_id)
        await _cancel_children(tx, run_id)
    if row is not None and row[0] is not None:
        await _report_to_parent(tx, run_id, row[0], row[1], status, output, error)
    # last: nothing after it raises
    tx.notices.ends[run_id] = RunEnd(status, output, json_or_none(error))


async def _cancel_children(tx: Tx, run_id: str) -> None:
    children = await tx.all(
        "UPDATE runs SET status = 'cancelled', ended_at = %s, due_at = NULL, lease_owner = NULL,"
        " lease_expires_at = NULL, fence = fence + 1"
        f" WHERE parent_run_id = %s AND {NOT_TERMINAL_SQL}"
        " RETURNING id",
        (tx.now_us, run_id),
    )
    for (child,) in children:
        tx.notices.terminal.add(child)
        await _cancel_open_steps(tx, child)
        await _cancel_children(tx, child)


async def _report_to_parent(
    tx: Tx,
    run_id: str,
    parent_id: str,
    step_id: str,
    status: str,
    output: bytes | None,
    error: dict[str, Any] | None,
) -> None:
    if status == "completed":
        await tx.execute(
            "UPDATE steps SET status = 'completed', output = %s, ended_at = %s"
            " WHERE run_id = %s AND step_id = %s AND status = 'waiting' AND child_run_id = %s",
            (output, tx.now_us, parent_id, step_id, run_id),
        )
    else:
        step_error = child_failure(run_id, status, error)
        await tx.execute(
            "UPDATE steps SET status = 'failed', error = %s, ended_at = %s"
            " WHERE run_id = %s AND step_id = %s AND status = 'waiting' AND child_run_id = %s",
            (orjson.dumps(step_error), tx.now_us, parent_id, step_id, run_id),
        )
    await wake_runs(tx, [parent_id])


async def complete_run(
    tx: Tx,
    run_id: str,
    fence: int,
    output: bytes | None,
    required: Sequence[str] = (),
    open_steps: bool = True,
) -> None:
    """Refused (a lost fence, a step record not stored) only before it changes anything."""
    required = list(dict.fromkeys(required))
    row = await tx.one(
        _COMPLETE_RUN,
        ("completed", output, None, tx.now_us, run_id, fence, run_id, required, len(required)),
    )
    if row is None:
        await check_fence(tx, run_id, fence)
        rows = await tx.all(
            "SELECT step_id FROM steps WHERE run_id = %s AND status = 'completed'"
            " AND step_id = ANY(%s)",
            (run_id, required),
        )
        require_steps(run_id, required, (r[0] for r in rows))
        raise LeaseLostError(run_id, "the run is no longer held")
    await _ended(tx, run_id, "completed", output, None, open_steps, row)


async def fail_run(
    tx: Tx,
    run_id: str,
    fence: int,
    error: dict[str, Any],
    cancelled_steps: Sequence[StepRow],
) -> None:
    await check_fence(tx, run_id, fence)
    for step in cancelled_steps:
        await tx.execute(
            _UPSERT_STEP + " WHERE steps.status NOT IN ('completed', 'failed')",
            step_params(run_id, step),
        )
    await _end_run(tx, run_id, "failed", None, error)


async def cancel_run(tx: Tx, run_id: str) -> bool:
    row = await tx.one("SELECT status FROM runs WHERE id = %s FOR UPDATE", (run_id,))
    if row is None:
        raise LookupError(f"no run with id {run_id!r}")
    if row[0] in TERMINAL_STATUSES:
        return False
    await tx.execute("UPDATE runs SET fence = fence + 1 WHERE id = %s", (run_id,))
    await _end_run(tx, run_id, "cancelled", None, None)
    return True


async def resume_run(tx: Tx, run_id: str) -> None:
    row = await tx.one("SELECT status FROM runs WHERE id = %s FOR UPDATE", (run_id,))
    if row is None:
        raise LookupError(f"no run with id {run_id!r}")
    if row[0] != "failed":
        raise ValueError(f"only a failed run can be resumed; run {run_id} is {row[0]}")
    await tx.execute(
        "DELETE FROM steps WHERE run_id = %s AND status IN ('failed', 'cancelled')", (run_id,)
    )
    await tx.execute(
        "UPDATE runs SET status = 'queued', output = NULL, error = NULL, ended_at = NULL,"
        " due_at = %s, lease_owner = NULL, lease_expires_at = NULL, wake_pending = false,"
        " fence = fence + 1 WHERE id = %s",
        (tx.now_us, run_id),
    )
    tx.notices.work_due = True


async def park_run(tx: Tx, run_id: str, fence: int, status: str, due_at_us: int | None) -> bool:
    await check_fence(tx, run_id, fence)
    # the run row is locked: a wake-up either committed before this read or waits for us
    pending = await tx.one("SELECT wake_pending FROM runs WHERE id = %s", (run_id,))
    if pending and pending[0]:
        await tx.execute("UPDATE runs SET wake_pending = false WHERE id = %s", (run_id,))
        return False
    await tx.execute(
        "UPDATE runs SET status = %s, due_at = %s, lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id = %s",
        (status, due_at_us, run_id),
    )
    if due_at_us is not None:
        tx.notices.work_due = True
    return True


# -- claims and leases ------------------------------------------------------------------

_CLAIM = f"""
WITH picked AS (
    SELECT id FROM runs
    WHERE due_at <= %(horizon)s AND app = ANY(%(apps)s)
      AND (runner_pin IS NULL OR runner_pin = %(runner)s)
      AND (lease_expires_at IS NULL OR lease_expires_at <= %(now)s) AND {NOT_TERMINAL_SQL}
    ORDER BY due_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE runs r SET status = 'running', lease_owner = %(runner)s,
        lease_expires_at = %(expires)s, due_at = %(expires)s, fence = r.fence + 1,
        wake_pending = false, started_at = coalesce(r.started_at, %(now)s),
        last_runner = %(runner)s
    FROM picked WHERE r.id = picked.id
    RETURNING r.id, r.app, r.workflow, r.fence, r.input, r.event_id, r.parent_run_id,
        r.warnings, r.created_at
)
SELECT c.id, c.app, c.workflow, c.fence, c.input, c.event_id, c.parent_run_id, c.warnings,
    c.created_at, coalesce(e.name, %(invoked)s), coalesce(e.ts, c.created_at)
FROM claimed c LEFT JOIN events e ON e.id = c.event_id
"""


async def claim(
    tx: Tx, runner: str, apps: Sequence[str], limit: int, lease_us: int, ahead_us: int = 0
) -> list[tuple[Any, ...]]:
    """Claim due runs; rows another transaction holds are skipped, never waited for."""
    now = tx.now_us
    rows = await tx.all(
        _CLAIM,
        {
            "now": now,
            "horizon": now + ahead_us,
            "expires": now + lease_us,
            "apps": list(apps),
            "runner": runner,
            "limit": limit,
            "invoked": INVOKED_EVENT,
        },
    )
    return [tuple(row) for row in rows]


async def hold_run(tx: Tx, run_id: str, fence: int, until_us: int) -> bool:
    await check_fence(tx, run_id, fence)
    pending = await tx.one("SELECT wake_pending FROM runs WHERE id = %s", (run_id,))
    if pending and pending[0]:
        return False  # a wake-up arrived during the pass: it keeps running instead
    await tx.execute(
        "UPDATE runs SET status = 'sleeping', due_at = %s, lease_expires_at = %s WHERE id = %s",
        (until_us, until_us, run_id),
    )
    return True


async def resume_held(tx: Tx, run_id: str, fence: int, lease_us: int) -> None:
    row = await tx.one(
        "SELECT fence, status, lease_owner FROM runs WHERE id = %s FOR UPDATE", (run_id,)
    )
    if row is not None and row[0] == fence and row[1] == "sleeping" and row[2] is not None:
        expires = tx.now_us + lease_us
        await tx.execute(
            "UPDATE runs SET status = 'running', due_at = %s, lease_expires_at = %s WHERE id = %s",
            (expires, expires, run_id),
        )
        return
    _fence_ok(run_id, fence, row)  # raises unless it was running already


async def renew_leases(tx: Tx, runner: str, run_ids: Sequence[str], lease_us: int) -> None:
    """Extend the leases of the runs this runner is actually executing, and no others."""
    expires = tx.now_us + lease_us
    # rows are locked in id order, as batches lock theirs, so the two cannot deadlock
    await tx.execute(
        "UPDATE runs SET lease_expires_at = %s, due_at = %s WHERE id IN (SELECT id FROM runs"
        " WHERE id = ANY(%s) AND lease_owner = %s AND status = 'running' ORDER BY id"
        " FOR UPDATE)",
        (expires, expires, list(run_ids), runner),
    )


async def release_runs(tx: Tx, runner: str) -> None:
    await tx.execute(
        "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
        f" due_at = %s, wake_pending = false WHERE lease_owner = %s AND {HELD_SQL}",
        (tx.now_us, runner),
    )
    tx.notices.work_due = True


async def release_run(tx: Tx, run_id: str, fence: int) -> None:
    await tx.execute(
        "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
        f" due_at = %s, wake_pending = false WHERE id = %s AND fence = %s AND {HELD_SQL}",
        (tx.now_us, run_id, fence),
    )
    tx.notices.work_due = True


# -- registry ---------------------------------------------------------------------------


async def register_runner(
    tx: Tx,
    runner: str,
    host: str,
    pid: int,
    apps: Sequence[str],
    workflows: Sequence[WorkflowRegistration],
) -> None:
    """(Runs under the exclusive advisory lock of each app: runners of one app register in
    turn.)"""
    await tx.execute(
        "INSERT INTO runners (name, apps, host, pid, started_at, heartbeat_at, stopped_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, NULL) ON CONFLICT (name) DO UPDATE SET"
        " apps = excluded.apps, host = excluded.host, pid = excluded.pid,"
        " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
        " stopped_at = NULL",
        (runner, orjson.dumps(list(apps)), host, pid, tx.now_us, tx.now_us),
    )
    await tx.execute("DELETE FROM workflows WHERE app = ANY(%s)", (list(apps),))
    await tx.execute("DELETE FROM triggers WHERE app = ANY(%s)", (list(apps),))
    for wf in workflows:
        await tx.execute(
            "INSERT INTO workflows (app, name, triggers, updated_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (app, name) DO UPDATE SET triggers = excluded.triggers,"
            " updated_at = excluded.updated_at",
            (wf.app, wf.name, orjson.dumps(list(wf.triggers)), tx.now_us),
        )
        for name in wf.triggers:
            await tx.execute(
                "INSERT INTO triggers (event_name, app, workflow) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (name, wf.app, wf.name),
            )


async def runner_heartbeat(tx: Tx, runner: str) -> None:
    await tx.execute("UPDATE runners SET heartbeat_at = %s WHERE name = %s", (tx.now_us, runner))


async def runner_stopped(tx: Tx, runner: str) -> None:
    await tx.execute(
        "UPDATE runners SET stopped_at = %s, heartbeat_at = %s WHERE name = %s",
        (tx.now_us, tx.now_us, runner),
    )
