"""The SQLite writer of a runner's store: it never blocks the event loop waiting for another
connection's write lock, and it commits a burst of writes in several short transactions."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from pathlib import Path

from durablex.store.sqlite.committer import Tx, unbounded
from durablex.store.sqlite.store import SqliteStore

from .helpers import APP, register


async def test_a_runner_store_keeps_its_loop_running_while_another_writer_holds_the_lock(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "x.db", inline=True)
    await store.open()
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        await register(store, ("wf", ()))
        other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
        start = asyncio.ensure_future(store.start_run(APP, "wf", None))
        loop = asyncio.get_running_loop()
        ticks = [loop.time()]
        while loop.time() - ticks[0] < 0.3:
            await asyncio.sleep(0.001)
            ticks.append(loop.time())
        assert not start.done()  # it waits for the lock...
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        # ...without blocking the loop (a busy wait in SQLite would stall it 20 ms at a time)
        assert max(gaps) < 0.015, max(gaps)
        other.execute("COMMIT")
        run_id = await asyncio.wait_for(start, 5)
        assert (await store.get_run(run_id)).status == "queued"
    finally:
        other.close()
        await store.close()


async def _commit_burst(store: SqliteStore, total: int) -> int:
    """Queue ``total`` starts at once; return in how many parts (turns of the loop) they
    were committed."""
    starts = [asyncio.ensure_future(store.start_run(APP, "wf", None)) for _ in range(total)]
    seen: list[int] = []  # how many starts were committed at each turn of the loop
    while len(seen) < 20_000 and (not seen or seen[-1] < total):
        await asyncio.sleep(0)
        seen.append(sum(f.done() for f in starts))
    assert seen[-1] == total
    assert len({f.result() for f in starts}) == total
    return len([b - a for a, b in itertools.pairwise([0, *seen]) if b != a])


async def test_a_burst_of_writes_commits_in_several_transactions_letting_the_loop_run_between(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "x.db", inline=True)
    await store.open()
    try:
        await register(store, ("wf", ()))
        # about 0.1-0.3 s of writes here, against a budget of 10 ms a transaction
        parts = await _commit_burst(store, 3000)
        assert parts >= 3, parts  # committed in parts, with the loop running between
        with sqlite3.connect(tmp_path / "x.db") as check:
            assert check.execute("SELECT count(*) FROM runs").fetchone() == (3000,)
    finally:
        await store.close()


async def test_while_its_owner_says_time_is_short_the_writer_commits_in_shorter_transactions(
    tmp_path: Path,
) -> None:
    """A runner's wake-up due during a commit waits for it: near one, transactions are kept
    to a fifth of the usual budget, and the same burst commits in more, smaller parts."""
    store = SqliteStore(tmp_path / "x.db", inline=True)
    short = False
    store.commit_briefly_while(lambda: short)
    await store.open()
    try:
        await register(store, ("wf", ()))
        usual = await _commit_burst(store, 3000)
        short = True
        brief = await _commit_burst(store, 3000)
        assert brief >= 2 * usual, (brief, usual)
        with sqlite3.connect(tmp_path / "x.db") as check:
            assert check.execute("SELECT count(*) FROM runs").fetchone() == (6000,)
    finally:
        await store.close()


def _committing_thread(tx: object) -> str:
    return threading.current_thread().name


async def test_a_client_store_commits_on_the_loop_only_while_a_runner_store_is_open_on_it(
    tmp_path: Path,
) -> None:
    """``inline=None`` (AsyncClient): on a runner's loop the client commits there too (a
    thread beside that loop only slowed both down); elsewhere it keeps the loop free."""
    client = SqliteStore(tmp_path / "x.db", inline=None)
    await client.open()
    runner = SqliteStore(tmp_path / "x.db", inline=True)
    loop_thread = threading.current_thread().name
    try:
        assert await client._write(_committing_thread) != loop_thread
        await runner.open()
        assert await client._write(_committing_thread) == loop_thread
        await register(client, ("wf", ()))
        run_id = await client.start_run(APP, "wf", None)
        assert (await runner.get_run(run_id)).status == "queued"
        await runner.close()
        assert await client._write(_committing_thread) != loop_thread
    finally:
        await runner.close()
        await client.close()


async def test_a_runner_store_on_another_loop_does_not_make_a_client_commit_inline(
    tmp_path: Path,
) -> None:
    ready = threading.Event()
    release = threading.Event()

    def other_loop() -> None:
        async def run() -> None:
            store = SqliteStore(tmp_path / "x.db", inline=True)
            await store.open()
            ready.set()
            await asyncio.to_thread(release.wait)
            await store.close()

        asyncio.run(run())

    thread = threading.Thread(target=other_loop)
    thread.start()
    client = SqliteStore(tmp_path / "x.db", inline=None)
    try:
        assert await asyncio.to_thread(ready.wait, 10)
        await client.open()
        assert await client._write(_committing_thread) != threading.current_thread().name
    finally:
        release.set()
        await client.close()
        await asyncio.to_thread(thread.join, 10)


def _transaction_time_after_a_while(tx: Tx) -> int:
    time.sleep(0.0002)  # a write that takes a while: a burst spans several time budgets
    return tx.now_us


async def _transactions_of_a_burst(store: SqliteStore, writes: int) -> int:
    """Queue ``writes`` slow writes at once; return in how many transactions they committed
    (the writes of one transaction see its time)."""

    async def one() -> int:
        return await store._write(_transaction_time_after_a_while)

    return len(set(await asyncio.gather(*(one() for _ in range(writes)))))


async def test_a_client_beside_a_runner_commits_as_briefly_as_the_runner_asks(
    tmp_path: Path,
) -> None:
    """Beside a runner, a client's burst holds the write lock, which the runner's commits wait
    for: near a wake-up of the runner's, its transactions keep to the short budget too."""
    runner = SqliteStore(tmp_path / "x.db", inline=True)
    short = False
    runner.commit_briefly_while(lambda: short)
    await runner.open()
    client = SqliteStore(tmp_path / "x.db", inline=None)
    await client.open()
    try:
        usual = await _transactions_of_a_burst(client, 300)
        short = True
        brief = await _transactions_of_a_burst(client, 300)
        assert brief >= 2 * usual, (brief, usual)
    finally:
        await client.close()
        await runner.close()


@unbounded
def _unbounded_committing_thread(tx: object) -> str:
    return threading.current_thread().name


def _committing_connection(tx: Tx) -> int:
    return id(tx.conn)


@unbounded
def _unbounded_committing_connection(tx: Tx) -> int:
    return id(tx.conn)


async def test_beside_a_runner_a_client_writes_through_the_runners_connection(
    tmp_path: Path,
) -> None:
    """One connection writes for both (another's commit empties a connection's page cache),
    and a burst commits there in short transactions like the runner's own; an event that
    resumes every waiting run is one write too long for the loop, and commits on the client's
    thread, where SQLite runs beside the loop."""
    runner = SqliteStore(tmp_path / "x.db", inline=True)
    await runner.open()
    client = SqliteStore(tmp_path / "x.db", inline=None)
    await client.open()
    loop_thread = threading.current_thread().name
    try:
        assert runner._writer is not None and client._writer is not None
        assert await client._write(_committing_connection) == id(runner._writer)
        await register(client, ("wf", ()))
        run_id = await client.start_run(APP, "wf", None)
        assert (await runner.get_run(run_id)).status == "queued"
        assert client._writer.total_changes == 0

        async def one() -> int:
            return await client._write(_committing_connection)

        assert set(await asyncio.gather(*(one() for _ in range(20)))) == {id(runner._writer)}
        assert await client._write(_unbounded_committing_connection) == id(client._writer)
        assert await client._write(_unbounded_committing_thread) != loop_thread

        # once the runner's store begins to close, the client writes on its own writer again
        pending = runner._write(_committing_connection, durable=False)  # for the drain
        closing = asyncio.ensure_future(runner.close())
        await asyncio.sleep(0)  # the close has begun, and waits for its committer to drain
        assert not closing.done()
        written = await client._write(_committing_connection)
        assert await pending == id(runner._writer)
        await closing
        assert written == id(client._writer)
        assert await client._write(_committing_connection) == id(client._writer)
    finally:
        await client.close()
        await runner.close()


async def test_a_client_writes_through_a_runners_connection_only_as_durable_as_its_own(
    tmp_path: Path,
) -> None:
    """A runner's store in process durability does not fsync, so a client asking for full
    durability keeps its own writer beside it; the other way round they share."""
    runner = SqliteStore(tmp_path / "x.db", inline=True, durability="process")
    await runner.open()
    full = SqliteStore(tmp_path / "x.db", inline=None, durability="full")
    process = SqliteStore(tmp_path / "x.db", inline=None, durability="process")
    await full.open()
    await process.open()
    try:
        assert full._writer is not None and runner._writer is not None
        assert await full._write(_committing_connection) == id(full._writer)
        assert await process._write(_committing_connection) == id(runner._writer)
    finally:
        await process.close()
        await full.close()
        await runner.close()
