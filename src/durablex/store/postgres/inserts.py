"""Rows every kind of start shares: the event that caused a run, and the queued run."""

from __future__ import annotations

from typing import Any

import orjson

from durablex.core.ids import new_id
from durablex.records import INVOKED_EVENT
from durablex.store.base import HandOff
from durablex.store.postgres.committer import Tx
from durablex.store.rows import insert_run_sql, new_run


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


async def insert_invoked_event(
    tx: Tx,
    event_id: str,
    data: bytes | None,
    app: str,
    run_id: str,
    source_run_id: str | None = None,
    source_step_id: str | None = None,
    ts_us: int | None = None,
) -> None:
    """Insert the ``durablex/workflow.invoked`` event of a run started by id, with the run it
    started: a new id, so nothing to wait for (the statement is pipelined with the rest).
    ``ts_us``: its time, if not the transaction's."""
    await tx.execute(
        "INSERT INTO events (id, name, data, app, ts, source_run_id, source_step_id,"
        " started_runs) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            event_id,
            INVOKED_EVENT,
            data,
            app,
            tx.now_us if ts_us is None else ts_us,
            source_run_id,
            source_step_id,
            orjson.dumps([run_id]),
        ),
    )


INSERT_RUN = insert_run_sql("%s")


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
    await tx.execute(INSERT_RUN, params)
    return run_id, claim
