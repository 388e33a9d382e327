"""Group commit on PostgreSQL: every write queued while a transaction runs shares the next one.

Writes are queued as async functions of a ``Tx``. A flush runs all queued writes in one
transaction on the store's writer connection, each inside its own savepoint so that one
refused write (a lost lease, say) does not undo the others, then commits once and resolves each
caller's future. The transaction runs in pipeline mode: statements whose results nobody reads
(savepoints, upserts) cost no round trip of their own, and a write that returns a ``Deferred``
(a step record) has its result checked only after the batch's last write was sent. Writes
marked ``atomic`` (refused, they changed nothing) skip their savepoint.

The writer survives a restart of the server. A batch that failed before its COMMIT was sent is
run again on a new connection; one whose COMMIT was cut off is looked up by transaction id
(``pg_xact_status``), so it is neither lost nor applied twice. Deadlocks and serialization
failures are retried too. Other database errors fail the batch's writes one by one, each in its
own transaction, so that one bad write does not fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from durablex.store.base import StoreError
from durablex.store.notify import Notices
from durablex.store.postgres.connection import PgConfig, connect, redact

log = logging.getLogger("durablex.store.postgres")

Write = Callable[["Tx"], Awaitable[Any]]


@dataclass(slots=True)
class Item:
    """A queued write, with the locks its transaction must hold before anything else.

    ``runs`` are locked ``FOR UPDATE`` and ``locks`` (advisory, name -> exclusive) taken at the
    start of the batch in one global order, so that batches of different runners cannot
    deadlock on them.
    """

    write: Write
    future: asyncio.Future[Any]
    runs: tuple[str, ...] = ()
    locks: tuple[tuple[str, bool], ...] = ()
    fsync: bool = True
    # the write sends nothing before it can fail (or changes nothing when it fails): it
    # needs no savepoint of its own
    atomic: bool = False
    # the write's times must follow the commit order of contending transactions (an event, a
    # wait's timeout; docs/reliability.md): its batch reads its time once it holds its locks,
    # at the cost of a round trip. A step's record or a run's end only stamp what happened.
    stamped_after_locks: bool = True


LAZY_FLUSH_DELAY = 0.05
RECONNECT_DEADLINE = 120.0
NOTIFY_CHUNK = 7000  # NOTIFY payloads are limited to 8000 bytes

RETRY = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


class Tx:
    """The handle a write function gets: the connection, the batch's time and its notices."""

    __slots__ = ("conn", "notices", "now_us")

    def __init__(self, conn: Any, now_us: int) -> None:
        self.conn = conn
        self.notices = Notices()
        self.now_us = now_us

    async def execute(self, query: str, params: Any = ()) -> None:
        await self.conn.execute(query, params)

    async def one(self, query: str, params: Any = ()) -> Any:
        cur = await self.conn.execute(query, params)
        return await cur.fetchone()

    async def all(self, query: str, params: Any = ()) -> list[Any]:
        cur = await self.conn.execute(query, params)
        return list(await cur.fetchall())


class Deferred:
    """A write's result to be checked once the batch's statements have all been sent.

    A write whose statements are all conditional on its fence (so that, refused, it changed
    nothing) returns one of these instead of waiting for its fence check's round trip; the
    committer awaits ``check`` after the last write of the batch. Its exception (a lost lease)
    then fails that write alone, with nothing to roll back.
    """

    __slots__ = ("check",)

    def __init__(self, check: Callable[[], Awaitable[Any]]) -> None:
        self.check = check


class CommitUnknown(Exception):
    """The connection broke while COMMIT was in flight: ``outcome`` holds if ``xid`` committed."""

    def __init__(self, xid: str | None, outcome: tuple[list[tuple[bool, Any]], Notices]) -> None:
        self.xid = xid
        self.outcome = outcome


class GroupCommitter:
    def __init__(
        self,
        config: PgConfig,
        *,
        token: str,
        now_us: Callable[[], int],
        publish: Callable[[Notices], None],
    ) -> None:
        self._config = config
        self._token = token
        self._now_us = now_us
        self._publish = publish
        self._conn: Any = None
        self._queue: list[Item] = []
        self._urgent = False
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self) -> None:
        self._conn = await connect(self._config)

    @property
    def connection(self) -> Any:
        """The writer connection (for migrations, before any write is queued)."""
        return self._conn

    def submit(
        self,
        write: Write,
        *,
        durable: bool = True,
        runs: Sequence[str] = (),
        locks: Sequence[tuple[str, bool]] = (),
        fsync: bool = True,
        atomic: bool = False,
        stamped_after_locks: bool = True,
        within: float | None = None,
    ) -> asyncio.Future[Any]:
        """Queue ``write``; the future resolves with its result once its batch is committed.

        ``durable=False`` writes wait for the next durable one (or a short delay, or at most
        ``within`` seconds when given).
        ``fsync=False`` writes (claims, lease renewals) lose nothing if a crash of the server
        undoes them; a batch made only of such writes commits without waiting for the WAL
        flush (``synchronous_commit = off`` for that transaction).
        """
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(
            Item(write, future, tuple(runs), tuple(locks), fsync, atomic, stamped_after_locks)
        )
        if durable:
            self.flush()
        else:
            if within is not None:
                loop.call_later(within, self._due_by, future)
            if self._timer is None and self._task is None:
                self._timer = loop.call_later(LAZY_FLUSH_DELAY, self._lazy_due)
        return future

    def _due_by(self, future: asyncio.Future[Any]) -> None:
        """A lazy write's time is up: commit it now if no other write took it along."""
        if not future.done() and not self._closed and self._queue:
            self.flush()

    def flush(self) -> None:
        """Commit what is queued now (with whatever joins it before the batch starts)."""
        if self._queue:
            self._urgent = True
            self._start()

    async def drain(self) -> None:
        while self._queue or self._task is not None:
            if self._queue:
                self._urgent = True
                self._start()
            task = self._task
            if task is not None:
                await asyncio.wait([task])
            else:
                await asyncio.sleep(0.001)

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for item in self._queue:
            if not item.future.done():
                item.future.set_exception(RuntimeError("the store was closed"))
        self._queue = []
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    # -- flushing --------------------------------------------------------------------------

    def _lazy_due(self) -> None:
        self._timer = None
        self._urgent = True
        self._start()

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None and self._queue:
            self._task = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        try:
            while self._queue:
                if not self._urgent:
                    # only lazy writes remain: give them a moment to join a durable write
                    self._timer = asyncio.get_running_loop().call_later(
                        LAZY_FLUSH_DELAY, self._lazy_due
                    )
                    return
                batch, self._queue = self._queue, []
                self._urgent = False
                await self._flush(batch)
        finally:
            self._task = None

    async def _flush(self, batch: list[Item]) -> None:
        try:
            outcome = await self._commit_with_retries(batch)
        except asyncio.CancelledError:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(RuntimeError("the store was closed"))
            raise
        except psycopg.Error as exc:
            if len(batch) > 1:
                for item in batch:
                    await self._flush([item])
                return
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        except Exception as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        results, notices = outcome
        for item, (ok, value) in zip(batch, results, strict=True):
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)
        if notices.wanted:
            self._publish(notices)

    async def _commit_with_retries(
        self, batch: list[Item]
    ) -> tuple[list[tuple[bool, Any]], Notices]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECONNECT_DEADLINE
        delay = 0.05
        pending_xid: str | None = None
        pending: tuple[list[tuple[bool, Any]], Notices] | None = None
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await connect(self._config)
                if pending_xid is not None and pending is not None:
                    status = await _xact_status(self._conn, pending_xid)
                    if status == "in progress":
                        await asyncio.sleep(0.05)
                        continue
                    if status == "committed":
                        return pending
                    pending_xid = pending = None
                return await self._transaction(batch)
            except CommitUnknown as unknown:
                pending_xid = unknown.xid
                if pending_xid is None:
                    raise StoreError(
                        f"{redact(self._config.url)}: the connection broke during COMMIT"
                    ) from unknown
                pending = unknown.outcome
                await self._drop_connection()
            except RETRY:
                await asyncio.sleep(0.01)
                continue
            except (psycopg.OperationalError, psycopg.InterfaceError, StoreError) as exc:
                if isinstance(exc, psycopg.errors.QueryCanceled | pg_errors.LockNotAvailable):
                    raise
                await self._drop_connection()
                if loop.time() > deadline:
                    raise StoreError(
                        f"{redact(self._config.url)}: database unreachable for "
                        f"{RECONNECT_DEADLINE:.0f}s: {exc}"
                    ) from exc
                log.warning("durablex: database connection lost (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)

    async def _transaction(self, batch: list[Item]) -> tuple[list[tuple[bool, Any]], Notices]:
        conn = self._conn
        tx = Tx(conn, self._now_us())
        results: list[tuple[bool, Any]] = []
        single = len(batch) == 1
        locks: dict[str, bool] = {}
        runs: set[str] = set()
        for item in batch:
            runs.update(item.runs)
            for key, exclusive in item.locks:
                locks[key] = locks.get(key, False) or exclusive
        try:
            async with conn.pipeline() as pipeline:
                await conn.execute("BEGIN")
                # asked first, read last: its answer arrives with the first result the batch
                # waits for, instead of costing a round trip of its own before the COMMIT
                xid_cursor = await conn.execute("SELECT pg_current_xact_id()::text")
                if not any(item.fsync for item in batch):
                    await conn.execute("SET LOCAL synchronous_commit = off")
                for key in sorted(locks):
                    kind = "pg_advisory_xact_lock" if locks[key] else "pg_advisory_xact_lock_shared"
                    await conn.execute(f"SELECT {kind}(hashtext(%s))", (key,))
                if runs:
                    await conn.execute(
                        "SELECT id FROM runs WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                        (sorted(runs),),
                    )
                if (locks or runs) and any(item.stamped_after_locks for item in batch):
                    # Stamp the transaction once it holds its locks, so that the times of
                    # contending transactions (an event, a wait's timeout) follow commit order.
                    await pipeline.sync()
                    tx.now_us = self._now_us()
                for item in batch:
                    write = item.write
                    if single or item.atomic:
                        try:
                            results.append((True, await write(tx)))
                        except psycopg.Error:
                            raise
                        except Exception as exc:
                            results.append((False, exc))
                        continue
                    await conn.execute("SAVEPOINT w")
                    try:
                        results.append((True, await write(tx)))
                        await conn.execute("RELEASE w")
                    except psycopg.Error:
                        raise
                    except Exception as exc:
                        await conn.execute("ROLLBACK TO w")
                        await conn.execute("RELEASE w")
                        results.append((False, exc))
                for index, (ok, value) in enumerate(results):
                    if ok and isinstance(value, Deferred):
                        try:
                            results[index] = (True, await value.check())
                        except psycopg.Error:
                            raise
                        except Exception as exc:
                            results[index] = (False, exc)
                if single and not results[0][0]:
                    await conn.execute("ROLLBACK")
                    return results, Notices()
                for payload in notify_payloads(self._token, tx.notices):
                    await conn.execute("SELECT pg_notify(%s, %s)", (self._config.channel, payload))
                row = await xid_cursor.fetchone()
                xid = str(row[0]) if row else None
        except BaseException:
            await _rollback_quietly(conn)
            raise
        outcome = (results, tx.notices)
        try:
            await conn.execute("COMMIT")
        except psycopg.OperationalError as exc:
            raise CommitUnknown(xid, outcome) from exc
        return outcome


async def _rollback_quietly(conn: Any) -> None:
    if conn.closed:
        return
    try:
        await conn.execute("ROLLBACK")
    except psycopg.Error:
        log.debug("rollback failed", exc_info=True)


async def _xact_status(conn: Any, xid: str) -> str | None:
    cur = await conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,))
    row = await cur.fetchone()
    return None if row is None else row[0]


def notify_payloads(token: str, notices: Notices) -> list[str]:
    """NOTIFY payloads ``token|w|id,id,...`` (w: work may be due), chunked under 8000 bytes."""
    if not notices.work_due and not notices.terminal:
        return []
    work = "1" if notices.work_due else "0"
    payloads: list[str] = []
    ids: list[str] = []
    size = 0
    for run_id in sorted(notices.terminal):
        if size + len(run_id) + 1 > NOTIFY_CHUNK and ids:
            payloads.append(f"{token}|{work}|{','.join(ids)}")
            ids, size = [], 0
        ids.append(run_id)
        size += len(run_id) + 1
    payloads.append(f"{token}|{work}|{','.join(ids)}")
    return payloads
