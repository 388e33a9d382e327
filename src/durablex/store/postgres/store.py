"""The PostgreSQL store: a group-committing writer, a pool of readers, and a LISTEN connection.

Each store instance holds one writer connection (its group committer), a small pool for reads
(``?pool_size=``, default 10) and one connection listening for other processes' notices. Any
number of runners on any number of machines share one database: claims skip rows other
transactions hold (``FOR UPDATE SKIP LOCKED``), fences refuse stale passes, and NOTIFY wakes
idle runners and waiting clients at once, with polling as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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
    StoreError,
    WaiterWrite,
    WorkflowRegistration,
)
from durablex.store.notify import EndWatch, Listener, Notices, hub_for
from durablex.store.postgres import reads, writes
from durablex.store.postgres.committer import (
    RECONNECT_DEADLINE,
    GroupCommitter,
    Tx,
    notify_payloads,
)
from durablex.store.postgres.connection import PgConfig, configure, migrate, redact
from durablex.store.postgres.events import EVENT_LOCK, accept_event
from durablex.store.postgres.listen import NotifyListener
from durablex.store.rows import claimed_run

T = TypeVar("T")
log = logging.getLogger("durablex.store.postgres")

APP_LOCK = "durablex-app:"


class PostgresStore:
    """See ``durablex.store.base.Store``.

    A runner holds runs only while it is the only live runner of its apps: with two runner
    processes and 10,000 sleeping runs on this 2-core machine, the held runs' resumes waited in
    the committer's queue past the 5 s grace, the other runner replayed them all, and the p50
    lateness went from 9-12 s to 30-42 s (docs/performance.md).
    """

    def __init__(self, config: PgConfig, *, clock: Clock | None = None) -> None:
        self.holds_beside_others = False
        self.config = config
        self.url = config.url
        self.clock = clock or SystemClock()
        self._hub = hub_for(config.identity)
        # The stores of one hub hear each other's commits through it, with the ends of runs
        # (``Notices.ends``): they skip each other's NOTIFY, which would only wake them twice.
        self._token = self._hub.token
        self._loop: asyncio.AbstractEventLoop | None = None
        self._taker: handoff.LocalRunner | None = None
        self._committer: GroupCommitter | None = None
        self._pool: AsyncConnectionPool[Any] | None = None
        self._listener: Listener | None = None
        self._notify: NotifyListener | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._committer is not None:
            return
        committer = GroupCommitter(
            self.config, token=self._token, now_us=self.clock.now_us, publish=self._hub.publish
        )
        await committer.open()
        try:
            await migrate(committer.connection, self.config)
            config = self.config

            async def setup(conn: Any) -> None:
                await configure(conn, config)

            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                config.conninfo,
                min_size=1,
                max_size=config.pool_size,
                kwargs={"autocommit": True},
                configure=setup,
                open=False,
                name="durablex",
            )
            await pool.open(wait=True, timeout=30)
        except BaseException:
            await committer.close()
            raise
        self._committer, self._pool = committer, pool
        self._loop = asyncio.get_running_loop()
        self._listener = Listener(self._loop)
        self._hub.add(self._listener)
        self._notify = NotifyListener(self.config, self._token, self._listener)
        await self._notify.start()

    async def close(self) -> None:
        if self._taker is not None:
            self.take_new_runs(None)
        if self._committer is not None:
            with contextlib.suppress(Exception):
                await self._committer.drain()
            await self._committer.close()
            self._committer = None
        if self._notify is not None:
            await self._notify.stop()
            self._notify = None
        if self._listener is not None:
            self._hub.remove(self._listener)
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # -- plumbing ----------------------------------------------------------------------

    def _write(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        durable: bool = True,
        runs: Sequence[str] = (),
        locks: Sequence[tuple[str, bool]] = (),
        fsync: bool = True,
        atomic: bool = False,
        stamped_after_locks: bool = True,
    ) -> asyncio.Future[T]:
        if self._committer is None:
            raise RuntimeError("the store is not open")
        return self._committer.submit(
            lambda tx: fn(tx, *args),
            durable=durable,
            runs=runs,
            locks=locks,
            fsync=fsync,
            atomic=atomic,
            stamped_after_locks=stamped_after_locks,
        )

    def _lock(self, prefix: str, name: str) -> str:
        return f"{self.config.schema}:{prefix}{name}"

    async def _read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a read on a pooled connection, riding out a restart of the server."""
        if self._pool is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECONNECT_DEADLINE
        delay = 0.05
        while True:
            try:
                async with self._pool.connection() as conn:
                    return await fn(conn, *args)
            except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
                if loop.time() > deadline:
                    raise StoreError(
                        f"{redact(self.url)}: database unreachable for "
                        f"{RECONNECT_DEADLINE:.0f}s: {exc}"
                    ) from exc
                log.debug("durablex: read failed (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _side(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """A small write in its own transaction on a pooled connection, beside the group
        commit: claims, lease renewals and heartbeats never wait behind a batch (nor behind the
        locks a batch waits for), so a busy writer cannot let this runner's leases lapse. They
        commit without waiting for the WAL flush: a server crash that undoes one loses nothing
        (a lost claim's runs are claimed again when the lease recorded before expires)."""

        async def run(conn: Any) -> T:
            async with conn.transaction():
                await conn.execute("SET LOCAL synchronous_commit = off")
                tx = Tx(conn, self.clock.now_us())
                result = await fn(tx, *args)
                for payload in notify_payloads(self._token, tx.notices):
                    await conn.execute("SELECT pg_notify(%s, %s)", (self.config.channel, payload))
            if tx.notices.wanted:
                self._hub.publish(tx.notices)
            return result

        return await self._read(run)

    def commit_briefly_while(self, predicate: Callable[[], bool]) -> None:
        """Nothing to do: a transaction here is awaited on the server, the loop runs meanwhile."""

    def take_new_runs(self, runner: handoff.LocalRunner | None) -> None:
        assert self._loop is not None, "open the store first"
        if self._taker is not None:
            handoff.remove(self.config.identity, self._loop, self._taker)
        self._taker = runner
        if runner is not None:
            handoff.add(self.config.identity, self._loop, runner)

    def listen_for(self, *, work: bool, terminal: bool) -> None:
        assert self._listener is not None
        self._listener.wants_work = work
        self._listener.wants_terminal = terminal

    def watch_end(self, run_id: str) -> EndWatch:
        assert self._listener is not None
        return self._listener.watch_end(run_id)

    def change_mark(self) -> int:
        assert self._listener is not None
        return self._listener.delivered

    async def wait_for_change(self, timeout: float) -> Notices | None:
        assert self._listener is not None
        if not await self._listener.wait(timeout):
            return None
        return self._listener.take()

    # -- registry ----------------------------------------------------------------------

    async def register_runner(
        self,
        runner: str,
        host: str,
        pid: int,
        apps: Sequence[str],
        workflows: Sequence[WorkflowRegistration],
    ) -> None:
        locks = [(self._lock(APP_LOCK, app), True) for app in apps]
        await self._write(writes.register_runner, runner, host, pid, apps, workflows, locks=locks)

    async def runner_heartbeat(self, runner: str) -> None:
        await self._side(writes.runner_heartbeat, runner)

    async def runner_stopped(self, runner: str) -> None:
        await self._write(writes.runner_stopped, runner)

    # -- claims ------------------------------------------------------------------------

    async def claim(
        self, runner: str, apps: Sequence[str], limit: int, lease_us: int, ahead_us: int = 0
    ) -> list[ClaimedRun]:
        rows = await self._side(writes.claim, runner, apps, limit, lease_us, ahead_us)
        return [claimed_run(r) for r in rows]

    async def next_due_us(self, apps: Sequence[str], runner: str | None = None) -> int | None:
        return await self._read(reads.next_due_us, apps, runner)

    async def renew_leases(self, runner: str, run_ids: Sequence[str], lease_us: int) -> None:
        if run_ids:
            await self._side(writes.renew_leases, runner, run_ids, lease_us)

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

    def _step_write(
        self,
        run_id: str,
        fence: int,
        step: StepRow,
        attempt: AttemptWrite | None,
        waiter: WaiterWrite | None,
        durable: bool,
    ) -> asyncio.Future[None]:
        locks = [] if waiter is None else [(self._lock(EVENT_LOCK, waiter.event_name), False)]
        # the committer resolves record_step's Deferred to its check's result (None)
        record: Callable[..., Awaitable[None]] = writes.record_step  # type: ignore[assignment]
        return self._write(
            record,
            run_id,
            fence,
            step,
            attempt,
            waiter,
            durable=durable,
            runs=(run_id,),
            locks=locks,
            atomic=True,
            stamped_after_locks=waiter is not None,
        )

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
        await self._step_write(run_id, fence, step, attempt, waiter, durable)

    async def resolve_wait_timeout(
        self, run_id: str, fence: int, step_id: str, event_name: str
    ) -> tuple[str, bytes | None]:
        # The event's lock, shared as a waiter's insert takes it: a send of the event holds it
        # exclusively from before it reads its time to its commit, so the timeout either waits
        # for a send begun first (and finds the wait resolved) or makes a later send wait and
        # read a time after the timeout's (events.py, "Races").
        return await self._write(
            writes.resolve_wait_timeout,
            run_id,
            fence,
            step_id,
            runs=(run_id,),
            locks=[(self._lock(EVENT_LOCK, event_name), False)],
        )

    def complete_sleep_nowait(self, run_id: str, fence: int, step_id: str) -> asyncio.Future[None]:
        return self._write(
            writes.complete_sleep, run_id, fence, step_id, durable=False, runs=(run_id,)
        )

    def record_step_nowait(
        self,
        run_id: str,
        fence: int,
        step: StepRow,
        *,
        attempt: AttemptWrite | None = None,
        waiter: WaiterWrite | None = None,
    ) -> asyncio.Future[None]:
        return self._step_write(run_id, fence, step, attempt, waiter, False)

    def flush(self) -> None:
        if self._committer is not None:
            self._committer.flush()

    async def start_child(self, run_id: str, fence: int, step: StepRow, child: NewChildRun) -> None:
        await handoff.start(
            self.config.identity,
            child.app,
            child.workflow,
            child.runner_pin,
            lambda taker: self._write(
                writes.start_child, run_id, fence, step, child, taker, runs=(run_id,)
            ),
            lambda child_id: self._write(writes.release_run, child_id, 1),
        )

    async def emit_event(
        self, run_id: str, fence: int, step: StepRow, event: NewEvent
    ) -> SendResult:
        return await self._write(
            writes.emit_event,
            run_id,
            fence,
            step,
            event,
            runs=(run_id,),
            locks=[(self._lock(EVENT_LOCK, event.name), True)],
        )

    def add_warning_nowait(self, run_id: str, fence: int, warning: str) -> asyncio.Future[None]:
        return self._write(
            writes.add_warning, run_id, fence, warning, durable=False, runs=(run_id,)
        )

    async def park_run(self, run_id: str, fence: int, status: str, due_at_us: int | None) -> bool:
        return await self._write(writes.park_run, run_id, fence, status, due_at_us, runs=(run_id,))

    async def hold_run(self, run_id: str, fence: int, until_us: int) -> bool:
        return await self._write(writes.hold_run, run_id, fence, until_us, runs=(run_id,))

    def resume_held_nowait(self, run_id: str, fence: int, lease_us: int) -> asyncio.Future[None]:
        return self._write(writes.resume_held, run_id, fence, lease_us, runs=(run_id,))

    async def complete_run(
        self,
        run_id: str,
        fence: int,
        output: bytes | None,
        required: Sequence[str] = (),
        *,
        open_steps: bool = True,
    ) -> None:
        await self._write(
            writes.complete_run,
            run_id,
            fence,
            output,
            required,
            open_steps,
            runs=(run_id,),
            atomic=True,
            stamped_after_locks=False,
        )

    async def fail_run(
        self, run_id: str, fence: int, error: dict[str, Any], cancelled_steps: Sequence[StepRow]
    ) -> None:
        await self._write(writes.fail_run, run_id, fence, error, cancelled_steps, runs=(run_id,))

    # -- client operations -------------------------------------------------------------

    async def resolve_workflow(
        self, name: str, app: str | None, calling_app: str | None
    ) -> tuple[str, str]:
        async def read(conn: Any) -> tuple[str, str]:
            return await writes.resolve_workflow(
                Tx(conn, self.clock.now_us()), name, app, calling_app
            )

        return await self._read(read)

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
            self.config.identity,
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
        """A start committed with its run's first writes (``durablex.store.handoff``): the
        workflow resolved by a read now, and the start queued on the writer of the runner
        that takes the run (where the pass's own writes go), to commit with the next write
        that must be durable, or after ``handoff.BEGUN_START_WINDOW``."""
        writer = runner.store
        if (
            not isinstance(writer, PostgresStore)
            or writer.config.identity != self.config.identity
            or writer._loop is not self._loop
            or writer._committer is None
        ):
            return None
        try:
            app, workflow = await self.resolve_workflow(workflow, app, None)
        except Exception:  # not found, or in several apps: the start transaction says so
            return None
        committer = writer._committer
        if committer is None or not taker.serves(app, workflow):
            return None
        run = handoff.begun_run(app, workflow, input, rerun_of, taker, writer.clock.now_us())
        stored = committer.submit(
            lambda tx: writes.start_begun_run(tx, run),
            durable=False,
            within=handoff.BEGUN_START_WINDOW,
        )
        return run.claim, stored

    async def send_event(self, event: NewEvent) -> SendResult:
        return await self._write(
            accept_event, event, locks=[(self._lock(EVENT_LOCK, event.name), True)]
        )

    async def cancel_run(self, run_id: str) -> bool:
        return await self._write(writes.cancel_run, run_id, runs=(run_id,))

    async def resume_run(self, run_id: str) -> None:
        await self._write(writes.resume_run, run_id, runs=(run_id,))

    # -- reads -------------------------------------------------------------------------

    async def get_run(self, run_id: str, *, with_steps: bool = True) -> Run | None:
        return await self._read(reads.get_run, run_id, with_steps)

    async def run_statuses(self, run_ids: Sequence[str]) -> dict[str, str]:
        return await self._read(reads.run_statuses, run_ids)

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
