"""Registry, paging cursors, counts, and change notices."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from durablex.core.clock import ManualClock
from durablex.core.ids import new_id
from durablex.store.base import NewEvent, RunFilter, Store
from durablex.store.url import open_store

from .helpers import APP, claim_one, register, started, step


async def test_registry_lists_apps_workflows_and_runners(store: Store) -> None:
    await register(store, ("wf", ("go",)), ("other", ()))
    await register(store, ("wf", ("go", "again")), runner="r2")  # re-registration replaces
    await started(store)
    apps = await store.list_apps()
    assert [a.name for a in apps] == [APP]
    workflows = {w.name: w for w in apps[0].workflows}
    assert set(workflows) == {"wf"}
    assert workflows["wf"].triggers == ["go", "again"]
    assert workflows["wf"].counts == {"queued": 1}
    assert sorted(r.name for r in apps[0].runners) == ["r1", "r2"]
    await store.runner_heartbeat("r1")
    await store.runner_stopped("r2")
    runners = {r.name: r for r in (await store.list_apps())[0].runners}
    assert runners["r1"].alive and not runners["r2"].alive
    assert (await store.send_event(NewEvent(new_id(), "again", None, None))).run_ids


async def test_run_pages_follow_their_cursor(store: Store, clock: ManualClock) -> None:
    await register(store, ("wf", ()), ("other", ()))
    made = []
    for i in range(7):
        made.append(await started(store, "wf" if i % 2 else "other"))
        if i % 3 == 0:
            clock.advance(0.001)  # several runs share a created_at: the id breaks the tie
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_runs(RunFilter(), 3, cursor)
        seen += [r.id for r in page.runs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    created = [(r.created_at, r.id) for r in (await store.list_runs(RunFilter(), 100, None)).runs]
    assert created == sorted(created, reverse=True)
    only = await store.list_runs(RunFilter(workflow="wf"), 100, None)
    assert len(only.runs) == 3 and only.next_cursor is None
    assert len((await store.list_runs(RunFilter(status="queued"), 100, None)).runs) == 7
    assert len((await store.list_runs(RunFilter(search=made[0]), 100, None)).runs) == 1
    with pytest.raises(ValueError, match="cursor"):
        await store.list_runs(RunFilter(), 3, "not-a-cursor")
    assert await store.count_runs() == 7 and await store.count_runs("running") == 0


async def test_event_pages_follow_their_cursor(store: Store) -> None:
    ids = [new_id() for _ in range(5)]
    for event_id in ids:
        await store.send_event(NewEvent(event_id, "tick", b"1", None))
    await store.send_event(NewEvent(new_id(), "tock", None, None))
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_events("tick", 2, cursor)
        seen += [e.id for e in page.events]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    assert len((await store.list_events(None, 100, None)).events) == 6
    assert [e.id for e in (await store.list_events(None, 10, None, search=ids[2])).events] == [
        ids[2]
    ]
    assert await store.get_event("missing") is None


async def test_a_commit_wakes_another_store_on_the_same_database(
    store: Store, url: str, clock: ManualClock
) -> None:
    await register(store, ("wf", ()))
    other = open_store(url, clock=clock)
    await other.open()
    try:
        other.listen_for(work=True, terminal=True)
        await other.wait_for_change(0)  # drop notices of the set-up
        waiter = asyncio.ensure_future(other.wait_for_change(5))
        await asyncio.sleep(0.05)
        run_id = await started(store)
        notices = await asyncio.wait_for(waiter, 5)
        assert notices is not None and notices.work_due
        held = await claim_one(store)
        await store.complete_run(run_id, held.fence, None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while loop.time() < deadline:
            notices = await other.wait_for_change(deadline - loop.time())
            if notices is not None and run_id in notices.terminal:
                break
        else:
            raise AssertionError("no notice of the run's end")
    finally:
        await other.close()


async def test_a_waiters_change_mark_moves_when_a_run_ends_not_when_one_starts(
    store: Store, url: str, clock: ManualClock
) -> None:
    """What lets a client skip its first read of a run it has just started: while the mark of
    a store that waits for ends stays the same, no run has ended as far as it was told."""
    await register(store, ("wf", ()))
    client = open_store(url, clock=clock)
    await client.open()
    try:
        client.listen_for(work=False, terminal=True)
        mark = client.change_mark()
        run_id = await client.start_run(APP, "wf", None)
        held = await claim_one(store)
        assert client.change_mark() == mark  # a start and a claim end nothing
        await store.complete_run(run_id, held.fence, None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while client.change_mark() == mark and loop.time() < deadline:
            await client.wait_for_change(deadline - loop.time())
        assert client.change_mark() != mark
    finally:
        await client.close()


class _CommitBetweenReads:
    """A connection that lets another connection commit just before the second SELECT it
    runs, i.e. between the statements of one read."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._selects = 0

    def _commit_now(self, sql: str) -> bool:
        if not sql.lstrip().upper().startswith("SELECT"):
            return False
        self._selects += 1
        return self._selects == 2

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _SqliteCommitBetweenReads(_CommitBetweenReads):
    def __init__(self, conn: Any, commit: Callable[[], None]) -> None:
        super().__init__(conn)
        self._commit = commit

    def execute(self, sql: str, params: Any = ()) -> Any:
        if self._commit_now(sql):
            self._commit()
        return self._conn.execute(sql, params)


class _PgCommitBetweenReads(_CommitBetweenReads):
    def __init__(self, conn: Any, commit: Callable[[], Awaitable[None]]) -> None:
        super().__init__(conn)
        self._commit = commit

    async def execute(self, sql: str, params: Any = ()) -> Any:
        if self._commit_now(sql):
            await self._commit()
        return await self._conn.execute(sql, params)


# the pass's commit that lands mid-read: the run ends with a second step
_END_WITH_STEP = (
    "UPDATE runs SET status = 'completed' WHERE id = {m}",
    "INSERT INTO steps (run_id, step_id, seq, kind, status, attempts)"
    " VALUES ({m}, 'b', 2, 'run', 'completed', 1)",
)


async def test_a_run_and_its_steps_are_read_from_one_commit(
    store: Store, url: str, backend: str
) -> None:
    """``get_run`` reads the run's row, its attempts and its steps in one snapshot: a commit
    that lands between those statements is seen whole or not at all, never as the run's old
    row with the steps of the commit after it."""
    await register(store, ("wf", ()))
    run_id = await started(store)
    held = await claim_one(store)
    await store.record_step(run_id, held.fence, step("a", 1, output=1))

    if backend == "sqlite":
        from durablex.store.sqlite import reads as sqlite_reads

        path = url.removeprefix("sqlite:///")
        writer = sqlite3.connect(path, isolation_level=None)
        reader = sqlite3.connect(path, isolation_level=None)

        def end_with_step() -> None:
            writer.execute("BEGIN IMMEDIATE")
            for sql in _END_WITH_STEP:
                writer.execute(sql.format(m="?"), (run_id,))
            writer.execute("COMMIT")

        try:
            run = sqlite_reads.get_run(
                _SqliteCommitBetweenReads(reader, end_with_step), run_id, True
            )
        finally:
            writer.close()
            reader.close()
    else:
        from durablex.store.postgres import reads as pg_reads
        from durablex.store.postgres.connection import connect, parse_url

        config = parse_url(url, "full")
        pg_writer, pg_reader = await connect(config), await connect(config)

        async def end_with_step_pg() -> None:
            async with pg_writer.transaction():
                for sql in _END_WITH_STEP:
                    await pg_writer.execute(sql.format(m="%s"), (run_id,))

        try:
            run = await pg_reads.get_run(
                _PgCommitBetweenReads(pg_reader, end_with_step_pg), run_id, True
            )
        finally:
            await pg_writer.close()
            await pg_reader.close()

    assert run is not None
    assert (run.status, [s.id for s in run.steps]) == ("running", ["a"])
    after = await store.get_run(run_id)
    assert after is not None
    assert (after.status, [s.id for s in after.steps]) == ("completed", ["a", "b"])
