"""Rows every kind of start shares: the event that caused a run, and the queued run."""

from __future__ import annotations

from typing import Any

from durablex.core.ids import new_id
from durablex.store.base import HandOff
from durablex.store.postgres.committer import Tx
from durablex.store.rows import handed_claim_row, new_run_state


async def insert_event_row(
    tx: Tx,
    event_id: str,
    name: str,
    data: bytes | None,
    app: str | None,
    source_run_id: str | None = None,
    source_step_id: str | None = None,
) -> bool:
    """Insert the event; False when an event with this id exists already."""
    row = await tx.one(
        "INSERT INTO events (id, name, data, app, ts, source_run_id, source_step_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING seq",
        (event_id, name, data, app, tx.now_us, source_run_id, source_step_id),
    )
    return row is not None


async def insert_run(
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
    now = tx.now_us
    if taker is not None and not taker.serves(app, workflow):
        taker = None
    status, owner, expires, fence, started, due = new_run_state(taker, now)
    if taker is None:
        tx.notices.work_due = True
    await tx.execute(
        "INSERT INTO runs (id, app, workflow, status, input, event_id, parent_run_id,"
        " parent_step_id, rerun_of, runner_pin, created_at, due_at, lease_owner,"
        " lease_expires_at, last_runner, fence, started_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            run_id,
            app,
            workflow,
            status,
            input,
            event_id,
            parent_run_id,
            parent_step_id,
            rerun_of,
            runner_pin,
            now,
            due,
            owner,
            expires,
            owner,
            fence,
            started,
        ),
    )
    if taker is None:
        return run_id, None
    return run_id, handed_claim_row(run_id, app, workflow, input, event_id, now, parent_run_id)
