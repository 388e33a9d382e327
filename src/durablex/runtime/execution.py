"""One pass of one run: replay the completed steps, execute new ones, then end or park.

A pass runs the workflow function as a task. Completed steps return their saved values without
suspending; new steps execute and commit before their ``await`` returns. A step that must wait
(sleep, event, child, retry backoff) records its pause and then awaits a future that this pass
never resolves. When no step is executing and the workflow makes no further progress, the pass
is quiescent: it cancels the workflow task, drops it, and parks the run in one commit. A later
pass calls the workflow again from the top.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import logging
import time
import types
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import orjson

from durablex.app import WorkflowSpec
from durablex.core.clock import Clock, SystemClock
from durablex.core.ids import new_id
from durablex.core.retry import backoff_ms
from durablex.core.serialization import dumps, encode, encode_form
from durablex.errors import (
    AmbiguousWorkflowError,
    NonRetriableError,
    RetryAfterError,
    SerializationError,
    WorkflowNotFoundError,
)
from durablex.runtime import branches
from durablex.runtime.failures import error_dict, step_failure
from durablex.runtime.holds import Holds
from durablex.runtime.signals import PassAborted, PassClosed
from durablex.store.base import (
    AttemptWrite,
    ClaimedRun,
    LeaseLostError,
    NewChildRun,
    NewEvent,
    StepRow,
    Store,
    StoreError,
    WaiterWrite,
)

log = logging.getLogger("durablex.runner")

SETTLE_ROUNDS = 3
RUNNING_MARKER_DELAY = 0.2
UNWIND_TIMEOUT = 5.0
# A workflow whose steps finish without awaiting anything (async bodies that return at once,
# records committed inline, a replay of completed steps) would never give the event loop a
# turn: a 5,000-step run held a runner's loop for 1 s, and its lease renewals, timers and other
# runs waited for all of it. Every this long, a step looks whether the loop has turned since
# the last look (a callback queued then has run), and gives it a turn if not.
LOOP_TURN_EVERY = 0.005


class Outcome(enum.Enum):
    ENDED = "ended"
    PARKED = "parked"
    AGAIN = "again"
    ABORTED = "aborted"


@dataclass(slots=True)
class InFlight:
    kind: str
    seq: int
    after: list[str]
    input: bytes | None
    started_at_us: int
    attempt: int
    task: asyncio.Task[Any] | None
    settled: bool = False
    marked: bool = False


class RunPass:
    def __init__(
        self,
        *,
        store: Store,
        claimed: ClaimedRun,
        spec: WorkflowSpec,
        rows: list[StepRow],
        clock: Clock,
        executor: Executor,
        max_payload_bytes: int,
        hold_us: int = 0,
        holds: Holds | None = None,
        lease_us: int = 0,
    ) -> None:
        """``hold_us``: a pass that would park with a timer due this soon keeps the run and
        waits for the timer in memory instead (its runner claimed it that far ahead).
        ``holds``: the runner's budget for keeping runs through short sleeps (shown as
        ``sleeping``); ``lease_us``: the lease a held run gets again when it resumes."""
        self.store = store
        self.hold_us = hold_us
        self.holds = holds
        self.lease_us = lease_us
        self._held = False
        self.claimed = claimed
        self.run_id = claimed.id
        self.fence = claimed.fence
        self.spec = spec
        self.clock = clock
        self.executor = executor
        self.max_payload_bytes = max_payload_bytes
        self.journal: dict[str, StepRow] = {row.step_id: row for row in rows}
        self._next_seq = max((row.seq for row in rows), default=0) + 1
        self._seen: dict[str, int] = {}
        self._used: set[str] = set()
        self._warned = {w for w in claimed.warnings}
        self.busy = 0
        self.progress = 0
        self.parked: dict[str, tuple[str, int | None]] = {}
        self.inflight: dict[str, InFlight] = {}
        self._idle = asyncio.Event()
        self._closing = False
        self._parks: list[asyncio.Future[Any]] = []
        self._lost_write: BaseException | None = None
        self._unconfirmed: list[tuple[str, asyncio.Future[None]]] = []
        self._record_failed: asyncio.Future[None] | None = None
        self._markers: _RunningMarkers | None = None
        self._turn_due = time.perf_counter() + LOOP_TURN_EVERY
        self._loop_turned = False

    # -- driving the pass ----------------------------------------------------------------

    async def execute(self, ctx: Any) -> Outcome:
        loop = asyncio.get_running_loop()
        # queued before the workflow's first stretch, so that its first check finds the loop
        # turned unless it ran on its own for a while since
        loop.call_soon(self._turned)
        self._turn_due = time.perf_counter() + LOOP_TURN_EVERY
        workflow = loop.create_task(self.spec.fn(ctx), name=f"durablex-run-{self.run_id}")
        branches.track_root(workflow)
        workflow.add_done_callback(lambda _: self._idle.set())
        try:
            while True:
                await self._idle.wait()
                if workflow.done():
                    return await self._finish(workflow)
                self._idle.clear()
                if await self._settled(workflow):
                    try:
                        if await self._hold():
                            continue
                    except PassAborted:
                        await self._abandon(workflow)
                        return Outcome.ABORTED
                    return await self._park(workflow)
        except BaseException:
            await self._abandon(workflow)
            raise

    async def _settled(self, workflow: asyncio.Task[Any]) -> bool:
        mark = self.progress
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(0)
            if workflow.done() or self.busy or self.progress != mark or not self.parked:
                return False
        return not self._timer_near()

    def _timer_near(self) -> bool:
        if not self.hold_us:
            return False
        dues = [due for _, due in self.parked.values() if due is not None]
        return bool(dues) and min(dues) - self.now_us() <= self.hold_us

    async def _hold(self) -> bool:
        """Keep the run in memory through sleeps due within the holds' window (see
        durablex.runtime.holds); True if it is held now, else the pass parks it."""
        holds = self.holds
        if holds is None or not holds.window_us or self._lost_write is not None:
            return False
        dues = [due for kind, due in self.parked.values() if kind == "sleep" and due is not None]
        if len(dues) < len(self.parked):  # a wait or a child can wake it only through the store
            return False
        due = min(dues)
        if due - self.now_us() > holds.window_us or not holds.take(self.run_id, due):
            return False
        try:
            held = await self._guard(
                self.store.hold_run(self.run_id, self.fence, due + holds.grace_us)
            )
        except BaseException:
            holds.give(self.run_id)
            raise
        if not held:
            holds.give(self.run_id)
            return False
        self._held = True
        return True

    def _resume(self) -> None:
        """The first step woken in a held run makes it ``running`` again. The write is queued
        ahead of every later write of the pass, so it commits first; the step goes on at once
        (the run is still leased to this runner until its wake-up plus the grace)."""
        if self._drop_hold():
            self._lazy_write(self.store.resume_held_nowait(self.run_id, self.fence, self.lease_us))

    def _drop_hold(self) -> bool:
        """Give the hold back to the runner's budget; False if the run was not held."""
        if not self._held:
            return False
        self._held = False
        if self.holds is not None:
            self.holds.give(self.run_id)
        return True

    async def _park(self, workflow: asyncio.Task[Any]) -> Outcome:
        self._closing = True
        await self._abandon(workflow)
        if self._lost_write is not None:
            return Outcome.ABORTED
        kinds = {kind for kind, _ in self.parked.values()}
        status = "waiting" if "wait" in kinds else "sleeping"
        dues = [due for _, due in self.parked.values() if due is not None]
        due = min(dues) if dues else None
        try:
            parked = await self.store.park_run(self.run_id, self.fence, status, due)
            await self._confirm()
        except (LeaseLostError, PassAborted):
            return Outcome.ABORTED
        return Outcome.PARKED if parked else Outcome.AGAIN

    async def _abandon(self, workflow: asyncio.Task[Any]) -> None:
        """Cancel the workflow and every step still running; wait for them to unwind."""
        self._closing = True
        self._drop_hold()
        tasks = [workflow] + [f.task for f in self.inflight.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        for future in self._parks:
            future.cancel()
        for _, record in self._unconfirmed:
            # never awaited now: retrieve its outcome so that a refusal is not reported
            record.add_done_callback(_ignore_lease_lost)
        pending = [t for t in tasks if not t.done()]
        if pending:
            await asyncio.sleep(0)  # a cancelled workflow usually unwinds in one turn
            pending = [t for t in pending if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=UNWIND_TIMEOUT)
            if still:
                log.warning("run %s: workflow code ignored cancellation", self.run_id)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()

    async def _finish(self, workflow: asyncio.Task[Any]) -> Outcome:
        if workflow.cancelled():
            await self._abandon(workflow)
            return Outcome.ABORTED
        exc = workflow.exception()
        if isinstance(exc, PassAborted | PassClosed) or self._lost_write is not None:
            await self._abandon(workflow)
            return Outcome.ABORTED
        self._closing = True
        try:
            if exc is None:
                try:
                    output = encode(
                        workflow.result(), what="workflow output", max_bytes=self.max_payload_bytes
                    )
                except SerializationError as bad:
                    await self._fail(bad)
                else:
                    for row in self._cancelled_in_flight():
                        self.record_lazy(row)  # queued before the end: one commit
                    required = [key for key, future in self._unconfirmed if not future.done()]
                    await self.store.complete_run(
                        self.run_id, self.fence, output, required, open_steps=self._open_steps()
                    )
            else:
                await self._fail(exc)
            await self._confirm()
        except (LeaseLostError, PassAborted):
            return Outcome.ABORTED
        finally:
            await self._abandon(workflow)
        return Outcome.ENDED

    def _open_steps(self) -> bool:
        """Might a step of the run be unfinished? Only this run's passes open steps, under its
        fence, so the journal (loaded at the claim, then kept by this pass) tells; others (an
        event, a child's end, a timeout) only ever finish them. Steps still in flight are not
        asked about: the end records them cancelled itself (``_cancelled_in_flight``)."""
        return any(row.status in _OPEN_STATUSES for row in self.journal.values())

    async def _fail(self, exc: BaseException) -> None:
        """Fail the run and record every step still running as cancelled, in one commit."""
        cancelled = self._cancelled_in_flight()
        await self.store.fail_run(self.run_id, self.fence, error_dict(exc), cancelled)

    def _cancelled_in_flight(self) -> list[StepRow]:
        """The steps still running (the workflow ended without awaiting them), as cancelled
        now: a run's end records them, whether or not their running marker was written."""
        now = self.clock.now_us()
        return [
            StepRow(
                step_id=key,
                seq=flight.seq,
                kind=flight.kind,
                status="cancelled",
                attempts=flight.attempt,
                input=flight.input,
                after=flight.after,
                started_at_us=flight.started_at_us,
                ended_at_us=now,
            )
            for key, flight in self.inflight.items()
        ]

    # -- shared step plumbing ------------------------------------------------------------

    async def _check_turn(self) -> None:
        """Give the loop a turn unless it took one since the last check (a pass whose steps
        await for real, a sleep say, must not be sent to the back of the loop's queue as well)."""
        if not self._loop_turned:
            await asyncio.sleep(0)
        self._loop_turned = False
        asyncio.get_running_loop().call_soon(self._turned)
        self._turn_due = time.perf_counter() + LOOP_TURN_EVERY

    def _turned(self) -> None:
        self._loop_turned = True

    async def enter(self, step_id: str) -> tuple[str, list[str], StepRow | None]:
        if time.perf_counter() >= self._turn_due:
            await self._check_turn()
        if self._closing:
            raise PassClosed()
        key = self._key_for(step_id)
        after = branches.before_step()
        self.progress += 1
        self.busy += 1
        return key, after, self.journal.get(key)

    def leave(self, key: str) -> None:
        if key in self.parked:
            return
        self.busy -= 1
        if self.busy == 0 and self.parked:
            self._idle.set()

    def done(self, key: str) -> None:
        branches.after_step(key)

    def _key_for(self, step_id: str) -> str:
        repeated = step_id in self._seen
        count = self._seen.get(step_id, 0) + 1
        key = step_id if count == 1 else f"{step_id}:{count}"
        while key in self._used:
            count += 1
            key = f"{step_id}:{count}"
        self._seen[step_id] = count
        self._used.add(key)
        if count >= 2:
            if repeated:
                warning = (
                    f"step id {step_id!r} was used more than once; repeated calls were "
                    f"recorded as {step_id}:2, {step_id}:3, ... in call order. "
                    "Give each step a unique id."
                )
            else:  # used once, but a repeated step was already recorded under this id
                warning = (
                    f"step id {step_id!r} is also the key of a repeated step; it was "
                    f"recorded as {key}. Give each step a unique id."
                )
            if warning not in self._warned:
                self._warned.add(warning)
                self._lazy_write(self.store.add_warning_nowait(self.run_id, self.fence, warning))
        return key

    def take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    async def park(self, key: str, kind: str, due_us: int | None) -> None:
        """Suspend this step until the pass parks the run (the await never returns then).

        With a timer (``due_us``), the step may also resume in this pass: when the timer is
        reached while siblings keep the pass busy, ``park`` returns and the caller continues
        (a retry wait or a sleep must not wait for a long-running sibling step to finish).
        """
        self.parked[key] = (kind, due_us)
        self.busy -= 1
        if self.busy == 0:
            self._idle.set()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._parks.append(future)
        if due_us is None:
            await future  # never resolved: cancelled when the pass parks the run
            return
        timer = self._timer(loop, due_us, future)
        try:
            await future  # resolved by the timer while the pass runs; else cancelled
        finally:
            timer.cancel()
        # the timer was reached while the pass still runs: continue in this pass
        self._parks.remove(future)
        del self.parked[key]
        self.busy += 1
        self.progress += 1
        self._resume()

    def _timer(
        self, loop: asyncio.AbstractEventLoop, due_us: int, future: asyncio.Future[Any]
    ) -> asyncio.TimerHandle | asyncio.Task[None]:
        """Resolve ``future`` at ``due_us`` unless the pass is parking by then: a plain loop
        timer on the real clock, a sleep of the injected clock otherwise."""

        def reached(*_: object) -> None:
            if not future.done() and not self._closing:
                future.set_result(None)

        delay = max(0.0, (due_us - self.now_us()) / 1e6)
        if isinstance(self.clock, SystemClock):
            return loop.call_later(delay, reached)
        task = loop.create_task(self.clock.sleep(delay))
        task.add_done_callback(lambda t: None if t.cancelled() else reached())
        return task

    def _lazy_write(self, future: asyncio.Future[Any]) -> None:
        future.add_done_callback(self._lazy_done)

    def _lazy_done(self, future: asyncio.Future[Any]) -> None:
        _ignore_lease_lost(future)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None and not isinstance(exc, LeaseLostError):
            # a record that this pass's park or end relies on (a waiter, a sleep) was not
            # stored: the pass must neither park nor end the run on top of it
            self._lost_write = exc

    async def _confirm(self) -> None:
        """Wait until every step record this pass had queued when it was called is committed
        (every task of the pass that calls this, not only the one that queued them)."""
        if self._unconfirmed and not (last := self._unconfirmed[-1][1]).done():
            self.store.flush()  # inline, this often commits them right here
            if not last.done():
                # batches commit in queue order: the last record done means all are. Wait on a
                # future of this task's own, so that cancelling it never cancels the record's.
                waiter = asyncio.get_running_loop().create_future()
                last.add_done_callback(functools.partial(_release, waiter))
                await waiter
        for _, future in self._unconfirmed:
            if future.done() and (future.cancelled() or future.exception() is not None):
                self._record_failed = future  # every later step of this pass must see it too
        unconfirmed = self._unconfirmed
        if unconfirmed and not unconfirmed[-1][1].done():
            self._unconfirmed = [item for item in unconfirmed if not item[1].done()]
        else:
            unconfirmed.clear()  # the last done means all are (see above)
        failed = self._record_failed
        if failed is not None:
            if failed.cancelled():
                raise PassAborted(self.run_id, "a step record was not committed")
            await self._guard(failed)  # raises its error as PassAborted

    async def _guard(self, coro: Any) -> Any:
        try:
            result = await coro
            if self._unconfirmed:
                await self._confirm()
            return result
        except LeaseLostError as lost:
            raise PassAborted(self.run_id, lost.reason) from None
        except StoreError as failed:
            # The database could not store the write (disk full, unreachable): the pass
            # ends, and the run is taken again once its lease expires. Workflow code must
            # never see this as the step's own failure (an ``except Exception`` would
            # swallow it and end the run with a wrong result).
            log.warning("run %s: pass aborted, a write failed: %s", self.run_id, failed)
            raise PassAborted(self.run_id, f"a write failed: {failed}") from None

    def record_lazy(self, row: StepRow, waiter: WaiterWrite | None = None) -> None:
        self._lazy_write(self.store.record_step_nowait(self.run_id, self.fence, row, waiter=waiter))

    def now_us(self) -> int:
        return self.clock.now_us()

    # -- run -----------------------------------------------------------------------------

    async def run_step(
        self,
        step_id: str,
        has_input: bool,
        value: Any,
        fn: Callable[..., Any],
        retries: int | None,
    ) -> Any:
        key, after, row = await self.enter(step_id)
        try:
            if row is not None:
                if row.status == "completed":
                    self.done(key)
                    return orjson.loads(row.output) if row.output is not None else None
                if row.status == "failed":
                    self.done(key)
                    raise step_failure(key, row.error, row.attempts)
                if row.status == "sleeping" and (row.wake_at_us or 0) > self.now_us():
                    await self.park(key, "sleep", row.wake_at_us)  # returns when due in-pass
            seq = row.seq if row is not None else self.take_seq()
            if row is not None and row.after:
                after = row.after
            attempt = (row.attempts if row is not None else 0) + 1
            limit = (self.spec.retries if retries is None else retries) + 1
            started = self.now_us()
            try:
                encoded_input = (
                    encode(value, step_id=key, what="input", max_bytes=self.max_payload_bytes)
                    if has_input
                    else None
                )
            except SerializationError as bad:
                return await self._attempt_failed(
                    key, seq, after, None, attempt, limit, started, bad, row
                )
            while True:
                result = await self._execute(
                    key,
                    seq,
                    after,
                    encoded_input,
                    fn,
                    has_input,
                    value,
                    attempt,
                    limit,
                    started,
                    row,
                )
                if result is not _RETRY_NOW:
                    return result
                # the retry wait ended within this pass (siblings kept it busy): next attempt
                row = self.journal[key]
                attempt = row.attempts + 1
                started = self.now_us()
        finally:
            self.leave(key)

    async def _execute(
        self,
        key: str,
        seq: int,
        after: list[str],
        encoded_input: bytes | None,
        fn: Callable[..., Any],
        has_input: bool,
        value: Any,
        attempt: int,
        limit: int,
        started: int,
        row: StepRow | None,
    ) -> Any:
        flight = InFlight(
            "run", seq, after, encoded_input, started, attempt, asyncio.current_task()
        )
        self.inflight[key] = flight
        markers = self._markers
        if markers is None:
            markers = self._markers = _RunningMarkers.of_running_loop()
        markers.watch(self)
        try:
            if self._unconfirmed:
                await self._confirm()
            try:
                args = (value,) if has_input else ()
                if _is_coroutine_function(fn):
                    result = await fn(*args)
                else:
                    result = await self._call_in_thread(fn, args)
                output, form = encode_form(result, step_id=key, max_bytes=self.max_payload_bytes)
            except Exception as exc:
                flight.settled = True
                return await self._attempt_failed(
                    key, seq, after, encoded_input, attempt, limit, started, exc, row
                )
            flight.settled = True
            done = StepRow(
                step_id=key,
                seq=seq,
                kind="run",
                status="completed",
                attempts=attempt,
                input=encoded_input,
                output=output,
                after=after,
                started_at_us=row.started_at_us if row and row.started_at_us else started,
                ended_at_us=self.now_us(),
            )
            record = AttemptWrite(attempt, started, done.ended_at_us, None) if attempt > 1 else None
            # The record joins the run's next commit: before another step body starts, or with
            # the run's end or park (see _confirm), so a last step and its run's end share one.
            recorded = self.store.record_step_nowait(self.run_id, self.fence, done, attempt=record)
            self._unconfirmed.append((key, recorded))
            self.journal[key] = done
            self.done(key)
            return form
        finally:
            self.inflight.pop(key, None)

    async def _call_in_thread(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.executor, functools.partial(fn, *args))
        if inspect.isawaitable(result):
            result = await result
        return result

    def _mark_running(self) -> bool:
        """Record steps running for a while, so that a console shows them; False once this
        pass has no step left to watch."""
        if self._closing or not self.inflight:
            return False
        threshold = self.now_us() - int(RUNNING_MARKER_DELAY * 1e6)
        for key, flight in self.inflight.items():
            if flight.settled or flight.marked or flight.started_at_us > threshold:
                continue
            flight.marked = True
            self.record_lazy(
                StepRow(
                    step_id=key,
                    seq=flight.seq,
                    kind=flight.kind,
                    status="running",
                    attempts=flight.attempt,
                    input=flight.input,
                    after=flight.after,
                    started_at_us=flight.started_at_us,
                )
            )
        return any(not f.settled and not f.marked for f in self.inflight.values())

    async def _attempt_failed(
        self,
        key: str,
        seq: int,
        after: list[str],
        encoded_input: bytes | None,
        attempt: int,
        limit: int,
        started: int,
        exc: BaseException,
        row: StepRow | None,
    ) -> Any:
        ended = self.now_us()
        error = error_dict(exc)
        first_start = row.started_at_us if row and row.started_at_us else started
        record = AttemptWrite(attempt, started, ended, error)
        retriable = not isinstance(exc, NonRetriableError | SerializationError)
        self.inflight.pop(key, None)
        if retriable and attempt < limit:
            if isinstance(exc, RetryAfterError):
                delay_ms = exc.delay_ms
            else:
                delay_ms = backoff_ms(
                    attempt, base_ms=self.spec.backoff_ms, max_ms=self.spec.backoff_max_ms
                )
            wake = ended + int(delay_ms * 1000)
            waiting = StepRow(
                step_id=key,
                seq=seq,
                kind="run",
                status="sleeping",
                attempts=attempt,
                input=encoded_input,
                error=error,
                after=after,
                started_at_us=first_start,
                wake_at_us=wake,
            )
            await self._guard(
                self.store.record_step(self.run_id, self.fence, waiting, attempt=record)
            )
            self.journal[key] = waiting
            await self.park(key, "sleep", wake)
            return _RETRY_NOW
        failed = StepRow(
            step_id=key,
            seq=seq,
            kind="run",
            status="failed",
            attempts=attempt,
            input=encoded_input,
            error=error,
            after=after,
            started_at_us=first_start,
            ended_at_us=ended,
        )
        await self._guard(self.store.record_step(self.run_id, self.fence, failed, attempt=record))
        self.journal[key] = failed
        self.done(key)
        raise step_failure(key, error, attempt)

    # -- sleep, sleep_until --------------------------------------------------------------

    async def sleep_step(
        self, step_id: str, kind: str, wake_us: int | None, delay_us: int | None, recorded: Any
    ) -> None:
        key, after, row = await self.enter(step_id)
        try:
            now = self.now_us()
            if row is None:
                wake = wake_us if wake_us is not None else now + (delay_us or 0)
                due = wake > now
                row = StepRow(
                    step_id=key,
                    seq=self.take_seq(),
                    kind=kind,
                    status="sleeping" if due else "completed",
                    attempts=1,
                    input=dumps(recorded),
                    after=after,
                    started_at_us=now,
                    ended_at_us=None if due else now,
                    wake_at_us=wake,
                )
                self.record_lazy(row)
                self.journal[key] = row
                if due:
                    await self.park(key, "sleep", wake)  # returns when due within this pass
            elif row.status == "sleeping" and (row.wake_at_us or 0) > now:
                await self.park(key, "sleep", row.wake_at_us)
            if row.status == "sleeping":
                now = self.now_us()
                self._lazy_write(self.store.complete_sleep_nowait(self.run_id, self.fence, key))
                row.status = "completed"
                row.ended_at_us = now
            self.done(key)
            return None
        finally:
            self.leave(key)

    # -- wait_for_event ------------------------------------------------------------------

    async def wait_step(
        self,
        step_id: str,
        event: str,
        timeout_us: int,
        match: dict[str, Any] | None,
        recorded: Any,
    ) -> Any:
        key, after, row = await self.enter(step_id)
        try:
            now = self.now_us()
            if row is None:
                expires = now + timeout_us
                row = StepRow(
                    step_id=key,
                    seq=self.take_seq(),
                    kind="wait_for_event",
                    status="waiting",
                    attempts=1,
                    input=dumps(recorded),
                    after=after,
                    started_at_us=now,
                    wake_at_us=expires,
                )
                self.record_lazy(row, WaiterWrite(event_name=event, match=match))
                self.journal[key] = row
                await self.park(key, "wait", expires)  # returns at the timeout within this pass
            elif row.status == "waiting" and (row.wake_at_us or 0) > now:
                await self.park(key, "wait", row.wake_at_us)
            if row.status == "waiting":
                now = self.now_us()
                status, output = await self._guard(
                    self.store.resolve_wait_timeout(self.run_id, self.fence, key, event)
                )
                row.status, row.output, row.ended_at_us = status, output, now
            self.done(key)
            return orjson.loads(row.output) if row.output is not None else None
        finally:
            self.leave(key)

    # -- run_workflow --------------------------------------------------------------------

    async def child_step(
        self,
        step_id: str,
        name: str,
        data: bytes | None,
        data_value: Any,
        app: str | None,
        runner: str | None,
    ) -> Any:
        key, after, row = await self.enter(step_id)
        try:
            if row is None:
                now = self.now_us()
                seq = self.take_seq()
                try:
                    target_app, workflow = await self.store.resolve_workflow(
                        name, app, self.spec.app
                    )
                except (WorkflowNotFoundError, AmbiguousWorkflowError) as missing:
                    failed = StepRow(
                        step_id=key,
                        seq=seq,
                        kind="run_workflow",
                        status="failed",
                        attempts=1,
                        input=dumps(
                            {"name": name, "app": app, "runner": runner, "data": data_value}
                        ),
                        error=error_dict(missing, with_traceback=False),
                        after=after,
                        started_at_us=now,
                        ended_at_us=now,
                    )
                    await self._guard(self.store.record_step(self.run_id, self.fence, failed))
                    self.journal[key] = failed
                    self.done(key)
                    raise step_failure(key, failed.error, 1) from None
                child_id = new_id()
                row = StepRow(
                    step_id=key,
                    seq=seq,
                    kind="run_workflow",
                    status="waiting",
                    attempts=1,
                    input=dumps(
                        {"name": workflow, "app": target_app, "runner": runner, "data": data_value}
                    ),
                    after=after,
                    started_at_us=now,
                    child_run_id=child_id,
                )
                child = NewChildRun(child_id, target_app, workflow, data, runner)
                await self._guard(self.store.start_child(self.run_id, self.fence, row, child))
                self.journal[key] = row
                await self.park(key, "wait", None)  # never returns: the child wakes the run
            if row.status == "waiting":
                await self.park(key, "wait", None)
            self.done(key)
            if row.status == "failed" or row.status == "cancelled":
                raise step_failure(key, row.error, row.attempts)
            return orjson.loads(row.output) if row.output is not None else None
        finally:
            self.leave(key)

    # -- emit ----------------------------------------------------------------------------

    async def emit_step(
        self, step_id: str, name: str, data: bytes | None, data_value: Any, app: str | None
    ) -> str:
        key, after, row = await self.enter(step_id)
        try:
            if row is None:
                now = self.now_us()
                event_id = new_id()
                row = StepRow(
                    step_id=key,
                    seq=self.take_seq(),
                    kind="emit",
                    status="completed",
                    attempts=1,
                    input=dumps({"name": name, "app": app, "data": data_value}),
                    output=dumps(event_id),
                    after=after,
                    started_at_us=now,
                    ended_at_us=now,
                )
                event = NewEvent(event_id=event_id, name=name, data=data, app=app)
                await self._guard(self.store.emit_event(self.run_id, self.fence, row, event))
                self.journal[key] = row
            self.done(key)
            return str(orjson.loads(row.output)) if row.output is not None else ""
        finally:
            self.leave(key)


_RETRY_NOW = object()
_OPEN_STATUSES = frozenset({"running", "sleeping", "waiting"})


def _is_coroutine_function(fn: Callable[..., Any]) -> bool:
    """``inspect.iscoroutinefunction``, with a shortcut for a plain ``async def`` (that check
    unwraps methods and partials first: about 3 µs a step)."""
    if type(fn) is types.FunctionType and fn.__code__.co_flags & inspect.CO_COROUTINE:
        return True
    return inspect.iscoroutinefunction(fn)


class _RunningMarkers:
    """One timer per event loop for the running markers of every pass on it, instead of a
    timer per pass: most steps end long before it fires, and a timer per pass costs a heap
    entry per resumed run when thousands resume at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.passes: set[RunPass] = set()
        self.handle: asyncio.TimerHandle | None = None

    @classmethod
    def of_running_loop(cls) -> _RunningMarkers:
        loop = asyncio.get_running_loop()
        markers = _markers_by_loop.get(loop)
        if markers is None:
            markers = _markers_by_loop[loop] = cls(loop)
        return markers

    def watch(self, run_pass: RunPass) -> None:
        self.passes.add(run_pass)
        if self.handle is None:
            self.handle = self.loop.call_later(RUNNING_MARKER_DELAY / 2, self.scan)

    def scan(self) -> None:
        self.handle = None
        self.passes = {p for p in self.passes if p._mark_running()}
        if self.passes:
            self.handle = self.loop.call_later(RUNNING_MARKER_DELAY / 2, self.scan)


def _release(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _ignore_lease_lost(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        exc = future.exception()
        if exc is not None and not isinstance(exc, LeaseLostError):
            log.error("background write failed: %r", exc)


_markers_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RunningMarkers] = (
    weakref.WeakKeyDictionary()
)
