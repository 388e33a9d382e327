"""Rows every kind of start shares: the event that caused a run, and the queued run."""

from __future__ import annotations

from durablex.core.ids import new_id
from durablex.store.postgres.committer import Tx


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
) -> str:
    run_id = run_id or new_id()
    await tx.execute(
        "INSERT INTO runs (id, app, workflow, status, input, event_id, parent_run_id,"
        " parent_step_id, rerun_of, runner_pin, created_at, due_at)"
        " VALUES (%s, %s, %s, 'queued', %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            run_id,
            app,
            workflow,
            input,
            event_id,
            parent_run_id,
            parent_step_id,
            rerun_of,
            runner_pin,
            tx.now_us,
            tx.now_us,
        ),
    )
    tx.notices.work_due = True
    return run_id
