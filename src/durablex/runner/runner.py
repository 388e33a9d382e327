"""The runner: claims due runs, drives their passes, keeps their leases, stops gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import signal
import socket
from typing import Any

import orjson

from durablex.app import App, WorkflowSpec, check_name
from durablex.core.clock import Clock, SystemClock
from durablex.core.durations import parse_duration
from durablex.core.serialization import DEFAULT_MAX_BYTES
from durablex.core.times import us_to_datetime
from durablex.records import Event
from durablex.runner import collector
from durablex.runner.threads import StepThreads
from durablex.runtime import branches
from durablex.runtime.context import Context, Steps
from durablex.runtime.execution import Outcome, RunPass
from durablex.runtime.holds import Holds
from durablex.store.base import ClaimedRun, LeaseLostError, StepRow, Store, WorkflowRegistration
from durablex.store.url import open_store

log = logging.getLogger("durablex.runner")

CLAIM_BATCH = 500
# With N live runners serving these apps, a claim takes at most CLAIM_BATCH / N runs (and at
# least CLAIM_SHARE_MIN), so that a burst of due runs is shared among them instead of taken by
# whichever runner looks first. The count is read again at most this often.
CLAIM_SHARE_MIN = 50
LIVE_RUNNERS_REFRESH = 1.0
# A run is handed to this runner as it starts only while its count is at most this old (the
# claim loop, awake at least every IDLE_POLL, reads it again once it is LIVE_RUNNERS_REFRESH old).
HANDOFF_COUNT_AGE = 2 * LIVE_RUNNERS_REFRESH
# After a claim smaller than a batch while passes are running, wait this long before the next
# claim, so that runs coming due as passes end are claimed together.
CLAIM_GATHER = 0.002
GATHER_MIN_ACTIVE = 16
# Runs due this soon are claimed and replayed now, and their pass holds them in memory until
# their timer: a wake-up is not late by the time a claim, a journal load and a replay take, and
# a burst of timers is absorbed by doing that work ahead.
CLAIM_AHEAD_US = 100_000
# At most this many runs are held in memory through short sleeps (see Runner(hold=)).
MAX_HELD = 10_000
# While a held run wakes within WAKE_GUARD_US, a claim takes at most WAKE_CLAIM_LIMIT runs: the
# first steps of a claim of 500 keep the loop busy for 100-150 ms here, and a wake-up due then
# waits for them (sleep R=10,000 p99 lateness 150 -> 82 ms; docs/performance.md).
WAKE_GUARD_US = 300_000
WAKE_CLAIM_LIMIT = 32
# While a held run wakes within this, the store keeps each commit short: on SQLite a transaction
# runs on this loop, 10 ms at most otherwise, and a wake-up due meanwhile waits for it.
BRIEF_COMMITS_US = 25_000
IDLE_POLL = 1.0
UNCLAIMABLE_RETRY_US = 10_000
CANCEL_POLL = 0.25
DEFER_UNKNOWN_US = 5_000_000
MIN_LEASE_MS = 500.0


class Runner:
    """Executes the runs of one or more apps against one database.

    ``runner.run()`` blocks until SIGTERM or SIGINT; ``async with runner:`` runs it inside the
    current event loop and enters only once its apps, workflows and triggers are committed.
    """

    def __init__(
        self,
        app: App,
        *more_apps: App,
        db: object = None,
        name: str | None = None,
        concurrency: int = 1000,
        lease: object = "30s",
        clock: Clock | None = None,
        durability: str | None = None,
        max_payload_bytes: int = DEFAULT_MAX_BYTES,
        threads: int | None = None,
        grace: float = 10.0,
        hold: object = "5s",
    ) -> None:
        apps = (app, *more_apps)
        for candidate in apps:
            if not isinstance(candidate, App):
                raise TypeError(
                    f"Runner takes durablex.App objects, got {type(candidate).__name__} "
                    f"{candidate!r}"
                )
        names = [a.name for a in apps]
        if len(set(names)) != len(names):
            raise ValueError(f"Runner got two apps with the same name: {names}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
        lease_ms = parse_duration(lease, what="lease")
        hold_ms = parse_duration(hold, what="hold")
        if lease_ms < MIN_LEASE_MS:
            raise ValueError(f"lease must be at least {MIN_LEASE_MS:.0f}ms, got {lease!r}")
        if isinstance(max_payload_bytes, bool) or not isinstance(max_payload_bytes, int):
            raise TypeError(f"max_payload_bytes must be an int, got {max_payload_bytes!r}")
        if max_payload_bytes < 1024:
            raise ValueError(f"max_payload_bytes must be at least 1024, got {max_payload_bytes}")
        self.apps: dict[str, App] = {a.name: a for a in apps}
        self.name = (
            check_name(name, what="runner name")
            if name is not None
            else f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        )
        self.concurrency = concurrency
        self.lease_us = int(lease_ms * 1000)
        self.clock: Clock = clock or SystemClock()
        # Claiming ahead makes up for real processing time; an injected clock has none.
        real_clock = isinstance(self.clock, SystemClock)
        self._ahead_us = CLAIM_AHEAD_US if real_clock else 0
        self.max_payload_bytes = max_payload_bytes
        self.grace = grace
        self.store: Store = open_store(db, clock=self.clock, inline=True, durability=durability)
        self._holds = Holds(
            int(hold_ms * 1000) if real_clock else 0,
            MAX_HELD,
            self._kick_claims,
            beside_others=self.store.holds_beside_others,
        )
        self.store.commit_briefly_while(self._wakeup_near)
        self._threads = threads or min(64, concurrency)
        self._executor: StepThreads | None = None
        self._active: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._kick = asyncio.Event()
        self._started = False
        self._stopped = False
        self._claim_share = CLAIM_BATCH
        self._share_read_at: float | None = None
        # slots taken by runs being started on this loop for this runner (store.handoff)
        self._reserved = 0
        # runs begun before their start committed (store.handoff), until it has
        self._unstored: set[str] = set()

    def __repr__(self) -> str:
        return f"Runner(name={self.name!r}, apps={sorted(self.apps)!r}, db={self.store.url!r})"

    @property
    def active_runs(self) -> int:
        return len(self._active)

    @property
    def held_runs(self) -> int:
        """How many of ``active_runs`` are held in memory through a short sleep."""
        return len(self._holds.run_ids)

    def _kick_claims(self) -> None:
        self._kick.set()

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Runner:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._started:
            raise RuntimeError(f"{self!r} was already started; create a new Runner")
        self._started = True
        self._stopping = asyncio.Event()
        self._kick = asyncio.Event()
        branches.install(asyncio.get_running_loop())
        self._executor = StepThreads(self._threads, name="durablex-step")
        collector.acquire()
        try:
            await self._open_and_register()
        except BaseException:
            collector.release()
            self._stopped = True
            raise
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="durablex-claim"),
            asyncio.create_task(self._lease_loop(), name="durablex-lease"),
            asyncio.create_task(self._cancel_loop(), name="durablex-cancel"),
        ]
        log.info("runner %s serving %s on %s", self.name, sorted(self.apps), self.store.url)

    async def _open_and_register(self) -> None:
        await self.store.open()
        self.store.listen_for(work=True, terminal=False)
        workflows = [
            WorkflowRegistration(app=spec.app, name=spec.name, triggers=spec.triggers)
            for app in self.apps.values()
            for spec in app.workflows.values()
        ]
        await self.store.register_runner(
            self.name, socket.gethostname(), os.getpid(), sorted(self.apps), workflows
        )
        self.store.take_new_runs(self)

    async def stop(self) -> None:
        """Stop claiming, let running passes finish for ``grace`` seconds, release the rest."""
        if not self._started or self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self._kick.set()
        self.store.take_new_runs(None)
        # Only claiming stops now. Leases are renewed (and cancellations noticed) until every
        # pass has ended: a run still executing here during the grace period must not be taken
        # over by another runner, which would run its step bodies a second time.
        claiming = [t for t in self._tasks if t.get_name() == "durablex-claim"]
        keeping = [t for t in self._tasks if t not in claiming]
        for task in claiming:
            task.cancel()
        await asyncio.gather(*claiming, return_exceptions=True)
        for run_id in list(self._holds.run_ids):
            # a held run only waits for its timer: released now, another runner continues it
            held = self._active.get(run_id)
            if held is not None:
                held.cancel()
        if self._active:
            await asyncio.wait(list(self._active.values()), timeout=self.grace)
        for task in list(self._active.values()):
            task.cancel()
        if self._active:
            await asyncio.gather(*self._active.values(), return_exceptions=True)
        for task in keeping:
            task.cancel()
        await asyncio.gather(*keeping, return_exceptions=True)
        try:
            await self.store.release_runs(self.name)
            await self.store.runner_stopped(self.name)
        finally:
            collector.release()
            await self.store.close()
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("runner %s stopped", self.name)

    def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            async with self:
                await stop.wait()

        asyncio.run(main())

    # -- claiming ------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        apps = sorted(self.apps)
        while not self._stopping.is_set():
            try:
                free = self._free_slots()
                due = await self.store.next_due_us(apps, self.name)
                now = self.clock.now_us()
                if free > 0 and due is not None and due <= now + self._ahead_us:
                    limit = self._yield_to_wakeups(min(free, await self._share(apps)), now)
                    claimed = await self.store.claim(
                        self.name, apps, limit, self.lease_us, self._ahead_us
                    )
                    if claimed:
                        # a run claimed for the first time (fence 1) has no steps yet
                        resumed = [run.id for run in claimed if run.fence > 1]
                        journals = await self.store.load_journals(resumed) if resumed else {}
                        for run in claimed:
                            self._launch(run, journals.get(run.id, []))
                        if self._gather_after(len(claimed)):
                            await asyncio.sleep(CLAIM_GATHER)
                        continue
                    due = await self.store.next_due_us(apps, self.name)
                    now = self.clock.now_us()
                    if due is not None and due <= now + self._ahead_us:
                        # due, yet the claim took nothing (another runner holds it): look
                        # again shortly instead of spinning on it
                        due = now + self._ahead_us + UNCLAIMABLE_RETRY_US
                if self._share_read_at is not None:
                    # counted once by a claim: kept fresh while idle, for runs handed over
                    # as they start (reserve)
                    await self._share(apps)
                await self._wait(None if due is None else due - self._ahead_us, now, free > 0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("runner %s: claim loop error; retrying", self.name)
                await asyncio.sleep(0.5)

    def _free_slots(self) -> int:
        return self.concurrency - len(self._active) + len(self._holds.run_ids) - self._reserved

    # -- runs handed over as they start (durablex.store.handoff) --------------------------

    def reserve(self, app: str | None, workflow: str) -> bool:
        """Take a slot for a run started on this loop, unless the runner is stopping, has no
        free slot, runs its share of a claim already (a burst started here is then shared with
        the other runners, as a burst of due runs is), or a held run wakes soon (new work then
        waits for a claim, which yields to wake-ups).

        Only once a claim has counted the live runners (the claim loop then counts them again
        every second, idle or not): that count decides the share and whether a run may be held
        (runtime.holds). Before, or if the count is older than HANDOFF_COUNT_AGE, the run is
        queued, and the claim that takes it reads the count again."""
        if self._stopping.is_set() or self._free_slots() <= 0:
            return False
        read_at = self._share_read_at
        if read_at is None or asyncio.get_running_loop().time() - read_at >= HANDOFF_COUNT_AGE:
            return False
        running = len(self._active) - len(self._holds.run_ids)  # held runs only wait
        if running + self._reserved >= self._claim_share:
            return False
        if not any(self.serves(name, workflow) for name in (self.apps if app is None else (app,))):
            return False
        if self._holds.run_ids and self._holds.wake_within(WAKE_GUARD_US, self.clock.now_us()):
            return False
        self._reserved += 1
        return True

    def serves(self, app: str, workflow: str) -> bool:
        served = self.apps.get(app)
        return served is not None and served.get(workflow) is not None

    def adopt(self, run: ClaimedRun, started: asyncio.Future[Any] | None = None) -> bool:
        self._reserved -= 1
        if self._stopping.is_set():
            return False
        self._launch(run, [])
        if started is not None:
            # not in the database until its start commits: not a run taken away meanwhile
            self._unstored.add(run.id)
            started.add_done_callback(functools.partial(self._stored, run.id))
        return True

    def _stored(self, run_id: str, started: asyncio.Future[Any]) -> None:
        self._unstored.discard(run_id)
        if started.cancelled() or started.exception() is not None:
            task = self._active.get(run_id)
            if task is not None:
                task.cancel()  # the run was never stored: its pass must not go on

    def unreserve(self) -> None:
        self._reserved -= 1
        self._kick.set()

    def _gather_after(self, claimed: int) -> bool:
        """Pause before the next claim? After a full share when other runners are live, so that
        they claim theirs; after a smaller claim (fewer due, or few free slots) while many
        passes run, so that the runs coming due and the slots freed as they end are claimed
        together. Not with few passes running: a run started then (one request waiting for its
        result) is claimed at once."""
        if claimed >= self._claim_share:
            return self._claim_share < CLAIM_BATCH
        return len(self._active) >= GATHER_MIN_ACTIVE

    def _yield_to_wakeups(self, limit: int, now: int) -> int:
        """Claim only a few runs while held runs are about to wake: a claim starts its passes
        in one turn of the loop, and a large one would delay every wake-up behind it."""
        if self._holds.wake_within(WAKE_GUARD_US, now):
            return min(limit, WAKE_CLAIM_LIMIT)
        return limit

    def _wakeup_near(self) -> bool:
        """Asked at every commit: without held runs, not even the clock is read."""
        holds = self._holds
        return bool(holds.run_ids) and holds.wake_within(BRIEF_COMMITS_US, self.clock.now_us())

    async def _share(self, apps: list[str]) -> int:
        """This runner's share of a claim: CLAIM_BATCH split among the live runners. The same
        count decides how long it keeps a held run's lease after the wake-up (runtime.holds)."""
        loop = asyncio.get_running_loop()
        if self._share_read_at is None or loop.time() - self._share_read_at >= LIVE_RUNNERS_REFRESH:
            self._share_read_at = loop.time()
            live = max(1, await self.store.live_runners(apps))
            self._claim_share = max(CLAIM_SHARE_MIN, CLAIM_BATCH // live)
            self._holds.alone = live == 1
        return self._claim_share

    async def _wait(self, due: int | None, now: int, has_room: bool) -> None:
        """Sleep until the next due time (by the injected clock), a change, or a free slot."""
        self._kick.clear()
        timeout = IDLE_POLL
        if has_room and due is not None:
            timeout = max(0.0, min(IDLE_POLL, (due - now) / 1e6))
        if not has_room:
            # only a pass that ends (a free slot) matters now
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL):
                    await self._kick.wait()
            return
        if isinstance(self.clock, SystemClock):
            # the store's own wait has the timeout: no task per waiter on the wake-up path
            await self.store.wait_for_change(timeout)
            return
        waiters = [
            asyncio.ensure_future(self.store.wait_for_change(IDLE_POLL)),
            asyncio.ensure_future(self._kick.wait()),
        ]
        if has_room and due is not None:
            waiters.append(asyncio.ensure_future(self.clock.sleep(timeout)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def _launch(self, claimed: ClaimedRun, journal: list[StepRow] | None = None) -> None:
        previous = self._active.get(claimed.id)
        if previous is not None and not previous.done():
            # Our lease lapsed (a stalled loop) and we claimed the run again: the old pass's
            # writes are fenced off already; stop it so it runs no further step bodies.
            previous.cancel()
        task = asyncio.create_task(
            self._drive(claimed, journal), name=f"durablex-pass-{claimed.id}"
        )
        self._active[claimed.id] = task

    async def _drive(self, claimed: ClaimedRun, journal: list[StepRow] | None) -> None:
        try:
            app = self.apps.get(claimed.app)
            spec = app.get(claimed.workflow) if app is not None else None
            if spec is None:
                log.warning(
                    "runner %s: run %s is for %s/%s, which this runner does not define",
                    self.name,
                    claimed.id,
                    claimed.app,
                    claimed.workflow,
                )
                due = self.clock.now_us() + DEFER_UNKNOWN_US
                await self.store.park_run(claimed.id, claimed.fence, "queued", due)
                return
            while True:
                outcome = await self._one_pass(claimed, spec, journal)
                if outcome is not Outcome.AGAIN:
                    break
                journal = None
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                return
            with contextlib.suppress(Exception):
                await self.store.release_run(claimed.id, claimed.fence)
            raise
        except LeaseLostError:
            pass
        except Exception:
            log.exception("runner %s: run %s pass crashed; releasing it", self.name, claimed.id)
            with contextlib.suppress(Exception):
                await self.store.release_run(claimed.id, claimed.fence)
        finally:
            if self._active.get(claimed.id) is asyncio.current_task():
                del self._active[claimed.id]
            self._kick.set()

    async def _one_pass(
        self, claimed: ClaimedRun, spec: WorkflowSpec, journal: list[StepRow] | None
    ) -> Outcome:
        assert self._executor is not None
        rows = journal if journal is not None else await self.store.load_steps(claimed.id)
        run_pass = RunPass(
            store=self.store,
            claimed=claimed,
            spec=spec,
            rows=rows,
            clock=self.clock,
            executor=self._executor,
            max_payload_bytes=self.max_payload_bytes,
            hold_us=self._ahead_us,
            holds=self._holds,
            lease_us=self.lease_us,
        )
        event = Event(
            id=claimed.event_id,
            name=claimed.event_name,
            data=orjson.loads(claimed.input) if claimed.input is not None else None,
            ts=us_to_datetime(claimed.event_ts_us),
        )
        ctx = Context(
            run_id=claimed.id,
            workflow=claimed.workflow,
            app=claimed.app,
            event=event,
            step=Steps(run_pass),
        )
        return await run_pass.execute(ctx)

    # -- leases and cancellation ---------------------------------------------------------

    async def _lease_loop(self) -> None:
        interval = self.lease_us / 3e6
        while True:
            await self.clock.sleep(interval)
            try:
                await self.store.renew_leases(self.name, list(self._active), self.lease_us)
                await self.store.runner_heartbeat(self.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("runner %s: lease renewal failed", self.name)

    async def _cancel_loop(self) -> None:
        """Stop passes whose run was cancelled or taken away by another runner."""
        while True:
            await asyncio.sleep(CANCEL_POLL)
            try:
                await self._stop_passes_of_runs_not_held()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("runner %s: cancellation check failed", self.name)

    async def _stop_passes_of_runs_not_held(self) -> None:
        # a run whose start has not committed is not in the database yet, not taken away
        ids = [run_id for run_id in self._active if run_id not in self._unstored]
        if not ids:
            return
        held = await self.store.held_runs(self.name, ids)
        for run_id in ids:
            task = self._active.get(run_id)
            if run_id not in held and task is not None and not task.done():
                task.cancel()
