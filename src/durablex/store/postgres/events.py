"""Accepting events on PostgreSQL: triggers, and set-based delivery to waiters.

One statement resolves every waiter of an event whose ``match`` SQL can decide exactly: it
deletes the waiters, completes their steps and wakes their runs (``DELETE ... RETURNING`` feeding
two ``UPDATE ... FROM``), however many there are. A match is decided in SQL with JSONB (``#>``
and ``=``, which has the JSON equality of ``durablex.core.matching``: ``true`` is not ``1``,
``1`` is ``1.0``). The few filters SQL cannot decide exactly (array indexes written other than
as plain numbers, integers beyond 2**53 compared with floats, NUL characters, which JSONB cannot
hold) keep ``match_sql`` NULL; their candidates, found by event name, are confirmed in Python
by ``matches()`` and resolved by a second statement of the same shape.

A wait whose timeout has passed is not resolved, even if no runner has handled that timeout
yet (as in SQLite: it returns None, whoever runs it later).

Races: a waiter is inserted, and a wait's timeout resolved, under a shared advisory lock on its
event name, and an event is accepted under the exclusive one (all taken at the start of their
transactions, before they read their time; see the committer). So a waiter committed before an
event is always seen by it, even under READ COMMITTED, and a timeout never overtakes a send
that began before it: without the lock, a send stamped before the deadline could reach the
waiter's row after the timeout had locked it, and miss a wait it was in time for. A run woken
while its pass still holds it gets ``wake_pending``; ``park_run`` reads that flag under
``FOR UPDATE`` on the run row, so the wake-up is never lost.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from durablex.core.matching import matches
from durablex.records import SendResult
from durablex.store.base import NewEvent
from durablex.store.postgres.committer import Tx
from durablex.store.postgres.inserts import insert_event_row, insert_run

EVENT_LOCK = "durablex-event:"
_MAX_EXACT_NUMBER = 2**53

_TERMINAL = "('completed', 'failed', 'cancelled')"

WAKE_SET = (
    " wake_pending = CASE WHEN lease_owner IS NULL THEN wake_pending ELSE true END,"
    " status = CASE WHEN lease_owner IS NULL THEN 'queued' ELSE status END,"
    " due_at = CASE WHEN lease_owner IS NULL THEN %(now)s ELSE due_at END"
)

_RESOLVE = """
WITH chosen AS (
    DELETE FROM waiters w
    WHERE w.event_name = %(name)s AND (%(app)s::text IS NULL OR w.app = %(app)s) AND ({which})
      AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = w.run_id AND s.step_id = w.step_id
                  AND (s.wake_at IS NULL OR s.wake_at > %(now)s))
    RETURNING w.run_id, w.step_id
), done AS (
    UPDATE steps s SET status = 'completed', output = %(output)s, ended_at = %(now)s,
        wake_at = NULL, event_id = %(event_id)s
    FROM chosen c
    WHERE s.run_id = c.run_id AND s.step_id = c.step_id AND s.status = 'waiting'
    RETURNING s.run_id
), woke AS (
    UPDATE runs SET {wake}
    FROM (SELECT DISTINCT run_id FROM chosen) d
    WHERE runs.id = d.run_id AND runs.status NOT IN {terminal}
    RETURNING runs.id
)
SELECT (SELECT count(*) FROM chosen), (SELECT count(*) FROM woke), (SELECT count(*) FROM done)
"""

# waiters SQL decides: no filter, or an exact filter all of whose paths hold in the data
_BY_SQL = """
    w.match IS NULL OR (%(exact)s AND w.match_sql IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM jsonb_each(w.match_sql) m
        WHERE (%(data)s::jsonb #> string_to_array(m.key, '.')) IS DISTINCT FROM m.value))
"""
_BY_LIST = "(w.run_id, w.step_id) IN (SELECT * FROM unnest(%(runs)s::text[], %(steps)s::text[]))"

RESOLVE_BY_SQL = _RESOLVE.format(which=_BY_SQL, wake=WAKE_SET, terminal=_TERMINAL)
RESOLVE_BY_LIST = _RESOLVE.format(which=_BY_LIST, wake=WAKE_SET, terminal=_TERMINAL)


def _exact_segment(segment: str) -> bool:
    """Whether JSONB's ``#>`` reads this path segment as ``matching._resolve`` does.

    On arrays, PostgreSQL parses a segment with strtol (so "-1", " 1", "+1" are indexes);
    Python takes only plain digits. Plain numbers and segments without digits agree.
    """
    if segment.isascii() and segment.isdigit():
        return len(segment) <= 9 and (segment == "0" or not segment.startswith("0"))
    return not any("0" <= ch <= "9" for ch in segment)


def _exact_value(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) < _MAX_EXACT_NUMBER
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) < _MAX_EXACT_NUMBER
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, list):
        return all(_exact_value(item) for item in value)
    if isinstance(value, dict):
        return all("\x00" not in key and _exact_value(item) for key, item in value.items())
    return False


def sql_match(match: dict[str, Any] | None) -> str | None:
    """The JSONB text of a filter SQL decides exactly, else None (confirmed in Python)."""
    if match is None:
        return None
    for path, value in match.items():
        if "\x00" in path or not all(_exact_segment(s) for s in path.split(".")):
            return None
        if not _exact_value(value):
            return None
    return orjson.dumps(match).decode()


def _as_jsonb(data: bytes | None) -> str | None:
    """Event data as JSONB text, or None when JSONB cannot hold it (a NUL character)."""
    if data is None or b"\\u0000" in data:
        return None
    return data.decode()


async def accept_event(
    tx: Tx,
    event: NewEvent,
    source_run_id: str | None = None,
    source_step_id: str | None = None,
) -> SendResult:
    """Store an event, start the runs it triggers and resume every waiter parked on it.

    The caller holds the exclusive advisory lock ``EVENT_LOCK + event.name``.
    """
    inserted = await insert_event_row(
        tx, event.event_id, event.name, event.data, event.app, source_run_id, source_step_id
    )
    if not inserted:
        existing = await tx.one(
            "SELECT started_runs, resumed FROM events WHERE id = %s", (event.event_id,)
        )
        started = orjson.loads(existing[0]) if existing and existing[0] else []
        resumed = int(existing[1]) if existing else 0
        return SendResult(event_id=event.event_id, run_ids=started, resumed=resumed)
    triggered = await tx.all(
        "SELECT app, workflow FROM triggers WHERE event_name = %s"
        " AND (%s::text IS NULL OR app = %s) ORDER BY app, workflow",
        (event.name, event.app, event.app),
    )
    started = []
    for app, workflow in triggered:
        run_id, _ = await insert_run(
            tx, app=app, workflow=workflow, input=event.data, event_id=event.event_id
        )
        started.append(run_id)
    resumed = await resolve_waiters(tx, event)
    await tx.execute(
        "UPDATE events SET started_runs = %s, resumed = %s WHERE id = %s",
        (orjson.dumps(started), resumed, event.event_id),
    )
    return SendResult(event_id=event.event_id, run_ids=started, resumed=resumed)


async def resolve_waiters(tx: Tx, event: NewEvent) -> int:
    data_text = _as_jsonb(event.data)
    params: dict[str, Any] = {
        "name": event.name,
        "app": event.app,
        "exact": data_text is not None,
        "data": data_text,
        "output": event.data,
        "now": tx.now_us,
        "event_id": event.event_id,
    }
    row = await tx.one(RESOLVE_BY_SQL, params)
    resumed = int(row[0]) if row else 0
    # filters SQL cannot decide exactly: candidates by name, confirmed in Python
    candidates = await tx.all(
        "SELECT w.run_id, w.step_id, w.match FROM waiters w JOIN steps s"
        " ON s.run_id = w.run_id AND s.step_id = w.step_id"
        " WHERE w.event_name = %s AND (%s::text IS NULL OR w.app = %s)"
        " AND (s.wake_at IS NULL OR s.wake_at > %s)"
        " AND w.match IS NOT NULL AND (w.match_sql IS NULL OR NOT %s)",
        (event.name, event.app, event.app, tx.now_us, params["exact"]),
    )
    if candidates:
        data = orjson.loads(event.data) if event.data is not None else None
        chosen = [(r[0], r[1]) for r in candidates if matches(orjson.loads(r[2]), data)]
        if chosen:
            params["runs"] = [run_id for run_id, _ in chosen]
            params["steps"] = [step_id for _, step_id in chosen]
            row = await tx.one(RESOLVE_BY_LIST, params)
            resumed += int(row[0]) if row else 0
    if resumed:
        tx.notices.work_due = True
    return resumed
