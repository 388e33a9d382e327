"""What only the PostgreSQL store has: NOTIFY between processes, schemas, URL options."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from durablex.core.clock import ManualClock
from durablex.store.base import StoreError, WaiterWrite
from durablex.store.postgres.events import EVENT_LOCK, RESOLVE_BY_SQL
from durablex.store.postgres.store import PostgresStore
from durablex.store.url import open_store
from pgtest import fresh_database, server_url

from .helpers import claim_one, register, started, step


async def test_notify_wakes_a_store_of_another_process() -> None:
    """Stores on "localhost" and "127.0.0.1" share no in-process hub: only NOTIFY links them."""
    with fresh_database("n") as url:
        assert "127.0.0.1" in url
        clock = ManualClock()
        first = open_store(url, clock=clock)
        second = open_store(url.replace("127.0.0.1", "localhost"), clock=clock)
        await first.open()
        await second.open()
        try:
            second.listen_for(work=True, terminal=True)
            await register(first, ("wf", ()))
            await second.wait_for_change(0.2)
            waiting = asyncio.ensure_future(second.wait_for_change(5))
            run_id = await started(first)
            notices = await asyncio.wait_for(waiting, 5)
            assert notices is not None and notices.work_due
            held = await claim_one(first)
            await first.complete_run(run_id, held.fence, None)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while loop.time() < deadline:
                notices = await second.wait_for_change(deadline - loop.time())
                if notices is not None and run_id in notices.terminal:
                    break
            else:
                raise AssertionError("no NOTIFY of the run's end")
        finally:
            await first.close()
            await second.close()


async def test_schemas_keep_databases_apart_and_newer_schemas_are_refused() -> None:
    with fresh_database("a") as one, fresh_database("b") as two:
        for url in (one, two):
            store = open_store(url)
            await store.open()
            await store.close()
        schema = one.rsplit("schema=", 1)[1]
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(
                f'INSERT INTO "{schema}".durablex_migrations (version, name) VALUES (999, %s)',
                ("future",),
            )
        with pytest.raises(StoreError, match="newer"):
            await open_store(one).open()
        store = open_store(two)
        await store.open()
        await store.close()


async def test_a_foreign_runs_table_is_left_alone() -> None:
    with fresh_database("f") as url:
        schema = url.rsplit("schema=", 1)[1]
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
            conn.execute(f'CREATE TABLE "{schema}".runs (x int)')
        with pytest.raises(StoreError, match="another application"):
            await open_store(url).open()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:p@h/db?color=red", "color"),
        ("postgresql://u:p@h/db?schema=Bad-Name", "schema"),
        ("postgresql://u:p@h/db?pool_size=0", "pool_size"),
        ("postgresql://u:p@h/db?durability=sometimes", "sometimes"),
        ("postgres://", "PostgreSQL URL"),
    ],
)
def test_bad_urls_are_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


async def test_an_unreachable_server_is_a_store_error() -> None:
    store = open_store("postgresql://nobody:x@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreError, match=r"cannot connect.*\*\*\*"):
        await store.open()


class _LosesTheCommitAck:
    """A writer connection whose COMMIT reaches the server, but whose reply never arrives."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def execute(self, query: Any, params: Any = None) -> Any:
        if query == "COMMIT" and not self.lost:
            await self._conn.execute(query)
            self.lost += 1
            await self._conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return await self._conn.execute(query, params)


@pytest.mark.parametrize("lose_before_commit", [False, True])
async def test_a_batch_cut_off_around_commit_is_applied_exactly_once(
    lose_before_commit: bool,
) -> None:
    with fresh_database("c") as url:
        store = open_store(url)
        await store.open()
        try:
            assert isinstance(store, PostgresStore)
            await register(store, ("wf", ()))
            committer = store._committer
            assert committer is not None
            proxy = _LosesTheCommitAck(committer.connection)
            if lose_before_commit:
                # the connection dies before COMMIT is sent: the batch runs again
                await committer.connection.close()
            else:
                # COMMIT succeeds but its reply is lost: pg_xact_status says it committed
                committer._conn = proxy
            run_ids = await asyncio.gather(*(started(store) for _ in range(5)))
            assert len(set(run_ids)) == 5
            assert await store.count_runs() == 5
            assert proxy.lost == (0 if lose_before_commit else 1)
        finally:
            await store.close()


async def test_a_wait_timeout_never_overtakes_a_send_begun_before_it() -> None:
    """A send holds its event's lock from before it reads its time to its commit; a timeout that
    fires meanwhile waits for it and finds the wait resolved by the event, instead of timing the
    wait out under a send stamped before the deadline (a chaos run found that once)."""
    with fresh_database("w") as url:
        clock = ManualClock()
        store = open_store(url, clock=clock)
        await store.open()
        try:
            assert isinstance(store, PostgresStore)
            await register(store, ("wf", ()))
            run_id = await started(store)
            held = await claim_one(store)
            deadline = clock.now_us() + 1_000_000
            wait = step("wait", 0, kind="wait_for_event", status="waiting", wake_at_us=deadline)
            await store.record_step(run_id, held.fence, wait, waiter=WaiterWrite("go", None))
            with psycopg.connect(server_url(), autocommit=True) as send:
                send.execute(f'SET search_path TO "{store.config.schema}"')
                send.execute("BEGIN")
                lock = store._lock(EVENT_LOCK, "go")
                send.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
                clock.advance(2)  # the deadline passes while the send is under way
                timeout = asyncio.ensure_future(
                    store.resolve_wait_timeout(run_id, held.fence, "wait", "go")
                )
                await asyncio.sleep(0.5)
                assert not timeout.done(), "the timeout did not wait for the send"
                params = {
                    "name": "go",
                    "app": None,
                    "exact": True,
                    "data": '{"v": 1}',
                    "output": b'{"v":1}',
                    "now": deadline - 1000,  # stamped before the deadline
                    "event_id": "e-1",
                }
                resolved = send.execute(RESOLVE_BY_SQL, params).fetchone()
                assert resolved is not None and resolved[0] == 1
                send.execute("COMMIT")
            assert await asyncio.wait_for(timeout, 10) == ("completed", b'{"v":1}')
        finally:
            await store.close()
