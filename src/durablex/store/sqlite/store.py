"""The embedded SQLite store: one file in WAL mode, one group-committing writer, many readers."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from durablex.core.clock import Clock, SystemClock
from durablex.records import AppInfo, Event, Run, SendResult
from durablex.store import handoff
from durablex.store.base import (
    AttemptWrite,
    ClaimedRun,
    EventPage,
    HandOff,
    NewChildRun,
    NewEvent,
    RunFilter,
    RunPage,
    StepRow,
    WaiterWrite,
    WorkflowRegistration,
)
from durablex.store.notify import EndWatch, Listener, Notices, hub_for
from durablex.store.rows import claimed_run
from durablex.store.sqlite import reads, writes
from durablex.store.sqlite.committer import BoundWrite, GroupCommitter
from durablex.store.sqlite.connection import check_durability, connect, migrate, set_up_wal
from durablex.store.sqlite.wakeups import Wakeups

T = TypeVar("T")

POLL_INTERVAL = 0.01
# A client's writer (on its own thread) waits this long for the write lock before the
# committer retries; a runner's writer never waits, as it would block the event loop.
WRITER_BUSY_TIMEOUT_MS = 20


# The runners' (inline) stores open on each event loop: a client's store on one of those loops
# (``inline=None``) writes through one of them (``_runner_committer``). Weak both ways, so that
# neither a store left open nor its loop is kept alive by this.
_runner_stores: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakSet[SqliteStore]
] = weakref.WeakKeyDictionary()


def _runner_committer(client: SqliteStore) -> GroupCommitter | None:
    """The committer of a runner's store on the client's loop and file, at least as durable
    and on the same clock, for the client's bounded writes. One connection then writes for
    both: SQLite drops a connection's page cache whenever another connection has written, so
    two writers taking turns each read their pages again (a run's start, step and end took
    about twice as long in their statements, docs/performance.md)."""
    store = _runner_store(client)
    return store._committer if store is not None else None


def _runner_store(client: SqliteStore) -> SqliteStore | None:
    loop = client._loop
    for store in _runner_stores.get(loop, ()) if loop is not None else ():
        if _may_write_for(store, client):
            return store
    return None


def _may_write_for(store: SqliteStore, client: SqliteStore) -> bool:
    """Whether ``store``, a runner's, may commit ``client``'s writes: on its loop (inline), on
    the same file, at least as durable, on the same clock, and not closing."""
    return (
        store.inline
        and store._loop is client._loop
        and store._database == client._database
        and store._committer is not None
        and not store._closing
        and (store.durability == "full" or client.durability == "process")
        and (store.clock is client.clock or _both_system(store.clock, client.clock))
    )


def _both_system(a: Clock, b: Clock) -> bool:
    return type(a) is SystemClock and type(b) is SystemClock


class SqliteStore:
    """See ``durablex.store.base.Store``.

    Runners may hold runs beside other runners: every transaction runs at most about 10 ms
    (``TX_TIME_BUDGET``), so a held run's resume commits well within the grace.

    ``inline=True`` runs transactions on the event loop (runners); ``False`` runs them on
    worker threads so that the caller's loop never waits on the disk (clients, the server).
    ``None`` (clients) reads and commits on worker threads too, except that its bounded writes
    go through the writer of a runner's store open on its loop and file
    (``_runner_committer``), on that loop: a runner's loop already waits on every commit of its
    own, a client commit on a thread beside it took about twice as long (the thread hand-offs
    and the two threads taking turns at the GIL), and a second connection's commits empty the
    runner's page cache (docs/performance.md, "A client on a runner's loop" and "one writer for
    a client and its runner").
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: str = "full",
        clock: Clock | None = None,
        inline: bool | None = True,
        url: str | None = None,
    ) -> None:
        self.holds_beside_others = True
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        self.durability = check_durability(durability)
        self.clock = clock or SystemClock()
        self.inline = bool(inline)
        self._commits_beside_runner = inline is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._local = threading.local()
        self._thread_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._committer: GroupCommitter | None = None
        self._closing = False
        self._brief_while: Callable[[], bool] | None = None
        self._listener: Listener | None = None
        self._database = str(self.path.resolve())
        self._hub = hub_for(self._database)
        self._taker: handoff.LocalRunner | None = None
        self._wakeups = Wakeups(self.path) if str(self.path) != ":memory:" else None
        self._data_version = 0
        self._watched: sqlite3.Connection | None = None
        self._changes_polled = 0
        self._next_poll = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        self._closing = False
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = await asyncio.to_thread(connect, self.path, durability=self.durability)
        try:
            await asyncio.to_thread(migrate, writer, self.path)
            # a writer that commits on the loop never waits for the lock (the committer
            # retries a batch that finds it taken)
            busy_ms = 0 if self.inline else WRITER_BUSY_TIMEOUT_MS
            writer.execute(f"PRAGMA busy_timeout = {busy_ms}")
            await asyncio.to_thread(set_up_wal, writer, self.path, self.durability)
            reader = connect(self.path, durability=self.durability)
        except BaseException:
            writer.close()
            raise
        self._writer, self._reader = writer, reader
        loop = self._loop = asyncio.get_running_loop()
        if self.inline:
            _runner_stores.setdefault(loop, weakref.WeakSet()).add(self)
        self._committer = GroupCommitter(
            writer,
            now_us=self.clock.now_us,
            publish=self._publish,
            inline=self.inline,
            fsync=self.durability == "full",
        )
        self._committer.short_while = self._brief_while
        self._listener = Listener(loop)
        self._hub.add(self._listener)
        if self._wakeups is not None:
            self._wakeups.open(loop, self._listener.deliver)
        self._others_committed()

    async def close(self) -> None:
        # from here on, clients beside this runner's store write on their own writers again
        # (their writes would otherwise keep its drain below going)
        self._closing = True
        if self._taker is not None:
            self.take_new_runs(None)
        if self._committer is not None:
            await self._committer.drain()
            self._committer.close()
            self._committer = None
            loop = self._loop
            if loop is not None and (stores := _runner_stores.get(loop)) is not None:
                stores.discard(self)
                if not stores:
                    del _runner_stores[loop]
        if self._listener is not None:
            self._hub.remove(self._listener)
            self._listener = None
        if self._wakeups is not None:
            self._wakeups.close()
        for conn in (self._writer, self._reader, *self._thread_conns):
            if conn is not None:
                conn.close()
        self._writer = self._reader = None
        self._thread_conns = []
        self._local = threading.local()

    # -- plumbing ----------------------------------------------------------------------

    def _publish(self, notices: Notices) -> None:
        """What a commit changed: to this process's stores at once, and to the other
        processes' stores on this file through their wake-up sockets."""
        self._hub.publish(notices)
        if self._wakeups is not None:
            self._wakeups.send(notices)

    def _write(
        self, fn: Callable[..., T], *args: Any, durable: bool = True, fsync: bool = True
    ) -> asyncio.Future[T]:
        committer = self._committer
        if committer is None:
            raise RuntimeError("the store is not open")
        write = BoundWrite(fn, args)
        if self._commits_beside_runner and not write.unbounded:
            committer = _runner_committer(self) or committer
        return committer.submit(write, durable=durable, fsync=fsync)

    def _thread_reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, durability=self.durability)
            self._local.conn = conn
            with self._conns_lock:
                self._thread_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._reader is None:
            raise RuntimeError("the store is not open")
        if self.inline:
            return fn(self._reader, *args)
        return await asyncio.to_thread(lambda: fn(self._thread_reader(), *args))

    @property
    def _watch(self) -> sqlite3.Connection:
        """The connection whose ``data_version`` tells of other writers' commits.

        Inline, that is the writer itself, which does not count its own commits. A client's
        store beside a runner's on its loop watches that runner's writer, which commits for
        both: what it commits is announced in this process (notices). Watching its own reader
        instead, a client waiting for a run's end read the run again at every poll while the
        runner committed its steps (81 reads during a seq run of 5,000 steps, 2 now). Otherwise
        the reader (the writer is busy on its thread), which sees every commit.
        """
        if self._commits_beside_runner and (runner := _runner_store(self)) is not None:
            conn = runner._writer
        else:
            conn = self._writer if self.inline else self._reader
        assert conn is not None
        return conn

    def _others_committed(self) -> bool:
        """Whether the watched connection's ``data_version`` changed since the last look: a
        commit by another connection, or a new watched connection (which may have missed one)."""
        conn = self._watch
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        changed: bool = conn is not self._watched or version != self._data_version
        self._watched, self._data_version = conn, version
        return changed

    def commit_briefly_while(self, predicate: Callable[[], bool]) -> None:
        self._brief_while = predicate
        if self._committer is not None:
            self._committer.short_while = predicate

    def take_new_runs(self, runner: handoff.LocalRunner | None) -> None:
        assert self._loop is not None, "open the store first"
        if self._taker is not None:
            handoff.remove(self._database, self._loop, self._taker)
        self._taker = runner
        if runner is not None and str(self.path) != ":memory:":
            handoff.add(self._database, self._loop, runner)

    def listen_for(self, *, work: bool, terminal: bool) -> None:
        """Which in-process notices wake ``wait_for_change`` (default: both)."""
        assert self._listener is not None
        self._listener.wants_work = work
        self._listener.wants_terminal = terminal

    def watch_end(self, run_id: str) -> EndWatch:
        assert self._listener is not None
        return self._listener.watch_end(run_id)

    def change_mark(self) -> int:
        assert self._listener is not None
        return self._listener.delivered + self._changes_polled

    async def wait_for_change(self, timeout: float) -> Notices | None:
        """Notices of this process's commits wake at once, and those of other processes as
        soon as their datagram arrives (``wakeups``); any commit by another process is also
        seen by polling ``data_version`` every POLL_INTERVAL, in case a datagram is lost."""
        assert self._listener is not None and self._reader is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._listener.event.is_set():
                # the caller reads the database after this: whatever any process committed
                # until now is seen then, so the poll need not report it again
                self._others_committed()
                return self._listener.take()
            now = loop.time()
            if now >= self._next_poll:
                self._next_poll = now + POLL_INTERVAL
                if self._others_committed():
                    self._changes_polled += 1
                    return Notices(work_due=True)
            remaining = deadline - now
            if remaining <= 0:
                return None
            await self._listener.wait(min(max(self._next_poll - now, 0.0), remaining))

    # -- registry ----------------------------------------------------------------------

    async def register_runner(
        self,
        runner: str,
        host: str,
        pid: int,
        apps: Sequence[str],
        workflows: Sequence[WorkflowRegistration],
    ) -> None:
        await self._write(writes.register_runner, runner, host, pid, apps, workflows)

    async def runner_heartbeat(self, runner: str) -> None:
        await self._write(writes.runner_heartbeat, runner, fsync=False)

    async def runner_stopped(self, runner: str) -> None:
        await self._write(writes.runner_stopped, runner)

    # -- claims ------------------------------------------------------------------------

    async def claim(
        self, runner: str, apps: Sequence[str], limit: int, lease_us: int, ahead_us: int = 0
    ) -> list[ClaimedRun]:
        rows = await self._write(writes.claim, runner, apps, limit, lease_us, ahead_us, fsync=False)
        return [claimed_run(r) for r in rows]

    async def next_due_us(self, apps: Sequence[str], runner: str | None = None) -> int | None:
        return await self._read(reads.next_due_us, apps, runner)

    async def renew_leases(self, runner: str, run_ids: Sequence[str], lease_us: int) -> None:
        if run_ids:
            await self._write(writes.renew_leases, runner, run_ids, lease_us, fsync=False)

    async def live_runners(self, apps: Sequence[str]) -> int:
        return await self._read(reads.live_runners, apps, self.clock.now_us())

    async def held_runs(self, runner: str, run_ids: Sequence[str]) -> set[str]:
        return await self._read(reads.held_runs, runner, run_ids)

    async def release_runs(self, runner: str) -> None:
        await self._write(writes.release_runs, runner)

    async def release_run(self, run_id: str, fence: int) -> None:
        await self._write(writes.release_run, run_id, fence)

    async def load_journals(self, run_ids: Sequence[str]) -> dict[str, list[StepRow]]:
        return await self._read(reads.load_journals, run_ids)

    async def load_steps(self, run_id: str) -> list[StepRow]:
        return (await self.load_journals([run_id]))[run_id]

    # -- fenced writes -----------------------------------------------------------------

    async def record_step(
        self,
        run_id: str,
        fence: int,
        step: StepRow,
        *,
        attempt: AttemptWrite | None = None,
        waiter: WaiterWrite | None = None,
        durable: bool = True,
    ) -> None:
        await self._write(writes.record_step, run_id, fence, step, attempt, waiter, durable=durable)

    async def resolve_wait_timeout(
        self, run_id: str, fence: int, step_id: str, event_name: str
    ) -> tuple[str, bytes | None]:
        # one writer at a time, each reading its time once it holds the lock: commit order
        return await self._write(writes.resolve_wait_timeout, run_id, fence, step_id)

    def complete_sleep_nowait(self, run_id: str, fence: int, step_id: str) -> asyncio.Future[None]:
        return self._write(writes.complete_sleep, run_id, fence, step_id, durable=False)

    def record_step_nowait(
        self,
        run_id: str,
        fence: int,
        step: StepRow,
        *,
        attempt: AttemptWrite | None = None,
        waiter: WaiterWrite | None = None,
    ) -> asyncio.Future[None]:
        return self._write(writes.record_step, run_id, fence, step, attempt, waiter, durable=False)

    def flush(self) -> None:
        if self._committer is not None:
            self._committer.flush()

    async def start_child(self, run_id: str, fence: int, step: StepRow, child: NewChildRun) -> None:
        await handoff.start(
            self._database,
            child.app,
            child.workflow,
            child.runner_pin,
            lambda taker: self._write(writes.start_child, run_id, fence, step, child, taker),
            lambda child_id: self._write(writes.release_run, child_id, 1),
        )

    async def emit_event(
        self, run_id: str, fence: int, step: StepRow, event: NewEvent
    ) -> SendResult:
        return await self._write(writes.emit_event, run_id, fence, step, event)

    def add_warning_nowait(self, run_id: str, fence: int, warning: str) -> asyncio.Future[None]:
        return self._write(writes.add_warning, run_id, fence, warning, durable=False)

    async def park_run(self, run_id: str, fence: int, status: str, due_at_us: int | None) -> bool:
        return await self._write(writes.park_run, run_id, fence, status, due_at_us)

    async def hold_run(self, run_id: str, fence: int, until_us: int) -> bool:
        return await self._write(writes.hold_run, run_id, fence, until_us)

    def resume_held_nowait(self, run_id: str, fence: int, lease_us: int) -> asyncio.Future[None]:
        return self._write(writes.resume_held, run_id, fence, lease_us, fsync=False)

    async def complete_run(
        self,
        run_id: str,
        fence: int,
        output: bytes | None,
        required: Sequence[str] = (),
        *,
        open_steps: bool = True,
    ) -> None:
        await self._write(writes.complete_run, run_id, fence, output, required, open_steps)

    async def fail_run(
        self, run_id: str, fence: int, error: dict[str, Any], cancelled_steps: Sequence[StepRow]
    ) -> None:
        await self._write(writes.fail_run, run_id, fence, error, cancelled_steps)

    # -- client operations -------------------------------------------------------------

    async def resolve_workflow(
        self, name: str, app: str | None, calling_app: str | None
    ) -> tuple[str, str]:
        return await self._read(reads.resolve_workflow, name, app, calling_app)

    async def start_run(
        self,
        app: str | None,
        workflow: str,
        input: bytes | None,
        *,
        runner_pin: str | None = None,
        rerun_of: str | None = None,
    ) -> str:
        return await handoff.start(
            self._database,
            app,
            workflow,
            runner_pin,
            lambda taker: self._write(
                writes.start_run, app, workflow, input, runner_pin, rerun_of, taker
            ),
            lambda run_id: self._write(writes.release_run, run_id, 1),
            lambda runner, taker: self._begin_run(app, workflow, input, rerun_of, runner, taker),
        )

    async def _begin_run(
        self,
        app: str | None,
        workflow: str,
        input: bytes | None,
        rerun_of: str | None,
        runner: handoff.LocalRunner,
        taker: HandOff,
    ) -> handoff.Begun | None:
        """A start committed with its run's first writes (``durablex.store.handoff``), when the
        runner that takes the run writes through a store on this loop that may take this
        store's writes: the workflow resolved now, by that store's writer, and the start queued
        there (where the pass's own writes go) to commit with the next write that must be
        durable, or after ``handoff.BEGUN_START_WINDOW``."""
        writer = runner.store
        if not isinstance(writer, SqliteStore) or not _may_write_for(writer, self):
            return None
        conn, committer = writer._writer, writer._committer
        if conn is None or committer is None:
            return None
        try:
            app, workflow = reads.resolve_workflow(conn, workflow, app, None)
        except Exception:  # not found, or in several apps: the start transaction says so
            return None
        if not taker.serves(app, workflow):
            return None
        run = handoff.begun_run(app, workflow, input, rerun_of, taker, writer.clock.now_us())
        stored = committer.submit(
            BoundWrite(writes.start_begun_run, (run,)),
            durable=False,
            within=handoff.BEGUN_START_WINDOW,
        )
        return run.claim, stored

    async def send_event(self, event: NewEvent) -> SendResult:
        return await self._write(writes.accept_event, event)

    async def cancel_run(self, run_id: str) -> bool:
        return await self._write(writes.cancel_run, run_id)

    async def resume_run(self, run_id: str) -> None:
        await self._write(writes.resume_run, run_id)

    # -- reads -------------------------------------------------------------------------

    async def get_run(self, run_id: str, *, with_steps: bool = True) -> Run | None:
        if not with_steps:
            return self._point_read(reads.get_run, run_id, False)
        return await self._read(reads.get_run, run_id, with_steps)

    async def run_statuses(self, run_ids: Sequence[str]) -> dict[str, str]:
        if len(run_ids) <= 100:
            return self._point_read(reads.run_statuses, run_ids)
        return await self._read(reads.run_statuses, run_ids)

    def _point_read(self, fn: Callable[..., T], *args: Any) -> T:
        """A primary-key lookup: microseconds in WAL mode, where readers never wait for the
        writer, so it runs on the caller's loop even when other reads go to a thread (a thread
        hop costs more than the read)."""
        if self._reader is None:
            raise RuntimeError("the store is not open")
        return fn(self._reader, *args)

    async def list_runs(self, filt: RunFilter, limit: int, cursor: str | None) -> RunPage:
        return await self._read(reads.list_runs, filt, limit, cursor)

    async def list_events(
        self, name: str | None, limit: int, cursor: str | None, search: str | None = None
    ) -> EventPage:
        return await self._read(reads.list_events, name, limit, cursor, search)

    async def get_event(self, event_id: str) -> Event | None:
        return await self._read(reads.get_event, event_id)

    async def resumed_by_event(self, event_id: str) -> list[str]:
        return await self._read(reads.resumed_by_event, event_id)

    async def list_apps(self) -> list[AppInfo]:
        return await self._read(reads.list_apps, self.clock.now_us())

    async def count_runs(self, status: str | None = None) -> int:
        return await self._read(reads.count_runs, status)
