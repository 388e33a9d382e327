"""Group commit: every write submitted while a transaction is being prepared shares its fsync.

Writes are queued as small functions of a transaction. A flush runs all queued writes in one
``BEGIN IMMEDIATE`` … ``COMMIT``, each inside its own savepoint so one refused write (a lost
lease, say) does not undo the others, then resolves each caller's future. With full durability
the commit is one fsync however many runs contributed to it.

In ``inline`` mode (runners) the flush runs on the event loop: SQLite has a single writer, the
fsync releases the GIL, and the loop has nothing better to do than to prepare the next batch.
It never waits there for another connection's write lock (the store's writer has no busy
timeout then): a batch that finds the lock taken is retried a few ms later, and the loop runs
its timers and steps meanwhile. Otherwise (clients inside someone else's loop) the flush runs
on one worker thread; a client beside a runner hands its bounded writes to the runner's
committer instead (``SqliteStore``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from durablex.store.base import StoreError
from durablex.store.notify import Notices

T = TypeVar("T")

LAZY_FLUSH_DELAY = 0.05
# A batch that finds the write lock taken is retried after 1 ms, doubling up to this. Inline
# (a runner's loop), the writer does not wait for the lock at all, so it asks again sooner.
BUSY_RETRY_MAX = 0.05
INLINE_BUSY_RETRY_MAX = 0.004
# A transaction stops taking queued writes once it has run this long; the rest commit in the
# next one, after the loop's other callbacks. A batch of 2,000 starts held the write lock (and,
# inline, the loop) for 60-360 ms here, which every other writer and every timer of a runner
# waited out. A cap by count instead (256 writes) cost fanout 10-25 %: a step record is far
# cheaper than a start (docs/performance.md).
TX_TIME_BUDGET = 0.010
# The budget while the committer's owner says that time is short (a runner: a held run wakes
# soon). A transaction of a runner runs on its event loop, and a wake-up due meanwhile waits
# for it: with two runner processes, sleep R=10,000 p99 lateness 40-93 ms at 10 ms, 22-29 ms
# at 2 ms; 2 ms always cost fanout 25 % (docs/performance.md).
TX_TIME_BUDGET_SHORT = 0.002
# Writes made a statement for many at a time, at most, in a transaction of TX_TIME_BUDGET;
# in proportion to a shorter budget. The budget is checked between such segments only, and a
# segment of 256 took about 4 ms here: against the 2 ms budget near wake-ups, sleep R=10,000
# with two runner processes woke with a p99 lateness of 40-67 ms against 25-30 ms before
# (docs/performance.md, "Many runs' writes in one statement").
MANY_SEGMENT_MAX = 256


class Tx:
    """The handle a write function gets: the connection, and the notices it raises."""

    __slots__ = ("conn", "notices", "now_us")

    def __init__(self, conn: sqlite3.Connection, now_us: int) -> None:
        self.conn = conn
        self.notices = Notices()
        self.now_us = now_us


F = TypeVar("F", bound=Callable[..., Any])


def checks_first(fn: F) -> F:
    """Mark a write function that refuses (raises) only before it changes anything, so that it
    needs no savepoint of its own in a shared batch (two statements fewer per write)."""
    fn.durablex_checks_first = True  # type: ignore[attr-defined]
    return fn


def unbounded(fn: F) -> F:
    """Mark a write function whose cost grows with what is stored (an event resumes every run
    waiting for it, a cancel reaches every child): beside a runner, a client commits it on its
    own thread, not through the runner's committer, so that SQLite's work runs beside the
    runner's loop instead of on it."""
    fn.durablex_unbounded = True  # type: ignore[attr-defined]
    return fn


ManyWrites = Callable[[Tx, list[tuple[Any, ...]]], list[Any] | None]


def one_statement_for_many(
    many: ManyWrites, takes: Callable[..., bool] | None = None
) -> Callable[[F], F]:
    """Mark a write function of one run (its first argument is the run's id) whose calls for
    different runs in one batch can be made by ``many(tx, [args, ...])``: one statement for all
    of them, where each call alone costs a statement or more (Python's ``sqlite3`` and SQLite
    spend about as much on each statement as on the row it writes). ``many`` returns each
    call's result, or None when some call would be refused; the committer then undoes what
    ``many`` did and makes the calls one by one (so ``many`` raises its notices last, once it
    knows it returns results). ``takes(*args)``: whether a call is one that
    ``many`` makes (calls it does not make are made alone); without it, every call is."""

    def mark(fn: F) -> F:
        fn.durablex_many = (many, takes)  # type: ignore[attr-defined]
        return fn

    return mark


# The marks of each write function (checks_first, unbounded, one_statement_for_many), read once:
# three getattr calls that mostly miss cost about 0.5 µs a write. Write functions are the
# module-level functions of ``writes``, so this holds a few dozen entries.
_TRAITS: dict[Callable[..., Any], tuple[bool, bool, Any]] = {}


class BoundWrite:
    """A write function with its arguments, as queued."""

    __slots__ = ("args", "checks_first", "fn", "many", "unbounded")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        traits = _TRAITS.get(fn)
        if traits is None:
            traits = _TRAITS[fn] = (
                getattr(fn, "durablex_checks_first", False),
                getattr(fn, "durablex_unbounded", False),
                getattr(fn, "durablex_many", None),
            )
        self.checks_first: bool = traits[0]
        self.unbounded: bool = traits[1]
        self.many: ManyWrites | None = None
        marked = traits[2]
        if marked is not None and (marked[1] is None or marked[1](*args)):
            self.many = marked[0]

    def __call__(self, tx: Tx) -> Any:
        return self.fn(tx, *self.args)


class GroupCommitter:
    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        now_us: Callable[[], int],
        publish: Callable[[Notices], None],
        inline: bool,
        fsync: bool = True,
    ) -> None:
        """``inline``: commit on the event loop, or on a worker thread."""
        self._conn = conn
        self._now_us = now_us
        self._publish = publish
        self._inline = inline
        self._queue: list[tuple[BoundWrite, asyncio.Future[Any] | None]] = []
        self._fsync = fsync
        self._needs_fsync = False
        self._urgent = False
        self._handle: asyncio.Handle | asyncio.TimerHandle | None = None
        # one timer for lazy writes, left to run out rather than cancelled at each flush (a
        # sequential run queues a lazy record per step)
        self._lazy_timer: asyncio.TimerHandle | None = None
        self._running = False
        self._busy_delay = 0.001
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._batch_sync = True
        self.short_while: Callable[[], bool] | None = None

    def submit(
        self,
        write: BoundWrite,
        *,
        durable: bool = True,
        fsync: bool = True,
        within: float | None = None,
    ) -> asyncio.Future[Any]:
        """Queue ``write``; the future resolves with its result once the batch is committed.

        ``durable=False`` writes wait for the next durable one (or a short delay, or at most
        ``within`` seconds when given).
        ``fsync=False`` writes (claims, lease renewals) lose nothing if a power cut undoes
        them; a batch made only of such writes commits without an fsync.
        """
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        self._loop = loop
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((write, future))
        self._needs_fsync = self._needs_fsync or fsync
        if durable:
            self.flush()
        elif within is not None:
            loop.call_later(within, self._due_by, future)
        else:
            self._arm_lazy()
        return future

    def _due_by(self, future: asyncio.Future[Any]) -> None:
        """A lazy write's time is up: commit it now if no other write took it along."""
        if not future.done() and self._queue and not self._urgent:
            self._urgent = True
            self._schedule(0)

    def _arm_lazy(self) -> None:
        if self._lazy_timer is None and self._loop is not None:
            self._lazy_timer = self._loop.call_later(LAZY_FLUSH_DELAY, self._lazy_due)

    def _lazy_due(self) -> None:
        self._lazy_timer = None
        if self._queue and not self._urgent:
            self._urgent = True
            self._schedule(0)

    def flush(self) -> None:
        """Commit what is queued: at once when nothing else can join the batch in this turn of
        the loop (so a sequential run's next step does not wait two more turns), else at the
        end of this turn."""
        if not self._queue or self._urgent or self._loop is None:
            return
        if not self._running and self._inline and _nothing_else_ready(self._loop):
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            self._flush()
        else:
            self._urgent = True
            self._schedule(0)

    async def drain(self) -> None:
        while self._queue or self._running:
            if self._queue and not self._running:
                self._urgent = True
                self._schedule(0)
            await asyncio.sleep(0.001)

    def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._lazy_timer is not None:
            self._lazy_timer.cancel()
            self._lazy_timer = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def _schedule(self, delay: float) -> None:
        assert self._loop is not None
        if self._running:
            return
        if self._handle is not None:
            if delay > 0:
                return
            self._handle.cancel()
        if delay <= 0:
            self._handle = self._loop.call_soon(self._flush)
        else:
            self._handle = self._loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._handle = None
        if self._running or not self._queue:
            return
        on_loop = self._inline
        # asked before the queue is taken: a predicate that raised loses no write (and not for
        # a write alone, which no budget splits)
        short = len(self._queue) > 1 and self.short_while is not None and self.short_while()
        budget = TX_TIME_BUDGET_SHORT if short else TX_TIME_BUDGET
        batch, self._queue = self._queue, []
        self._urgent = False
        sync = self._fsync and self._needs_fsync
        self._needs_fsync = False
        self._batch_sync = sync
        if on_loop:
            outcome = _run_batch(self._conn, batch, self._now_us, self._fsync, sync, budget)
            self._finish(batch, outcome, on_loop=True)
            return
        self._running = True
        assert self._loop is not None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="dx-write")
        done = self._loop.run_in_executor(
            self._executor, _run_batch, self._conn, batch, self._now_us, self._fsync, sync, budget
        )
        done.add_done_callback(lambda f: self._after_thread(batch, f))

    def _after_thread(self, batch: list[tuple[BoundWrite, Any]], done: asyncio.Future[Any]) -> None:
        self._running = False
        exc = done.exception()
        outcome = done.result() if exc is None else _Failed(exc)
        self._finish(batch, outcome, on_loop=False)

    def _finish(self, batch: list[tuple[BoundWrite, Any]], outcome: Any, *, on_loop: bool) -> None:
        if isinstance(outcome, _Busy):
            self._requeue(batch)
            self._busy_delay = min(
                self._busy_delay * 2, INLINE_BUSY_RETRY_MAX if on_loop else BUSY_RETRY_MAX
            )
            self._schedule(self._busy_delay)
            return
        self._busy_delay = 0.001
        if isinstance(outcome, _Failed):
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(outcome.error)
        else:
            results, notices = outcome
            rest = batch[len(results) :]
            if rest:  # over the time budget: next, after the loop's other callbacks
                self._requeue(rest)
                self._urgent = True
            for (_, future), (ok, value) in zip(batch, results, strict=False):
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            if notices.wanted:
                self._publish(notices)
        if self._queue:
            if self._urgent:
                self._schedule(0)
            else:
                self._arm_lazy()

    def _requeue(self, writes: list[tuple[BoundWrite, Any]]) -> None:
        """Put uncommitted writes of the last batch back at the head of the queue, in order,
        with the batch's need of an fsync."""
        self._queue[:0] = writes
        self._needs_fsync = self._needs_fsync or self._batch_sync


def _nothing_else_ready(loop: asyncio.AbstractEventLoop) -> bool:
    """True when no callback is waiting to run in this turn of the loop (CPython's asyncio keeps
    them in ``_ready``; on a loop without it, assume others may be ready and batch)."""
    ready = getattr(loop, "_ready", None)
    return ready is not None and not ready


class _Busy:
    pass


def _store_error(exc: sqlite3.Error) -> StoreError:
    """A failed commit (disk full, I/O error, ...) as a StoreError that says so: the runtime
    aborts the pass on it instead of showing it to workflow code as a step's failure."""
    error = StoreError(f"SQLite could not commit: {exc}; nothing of this write was stored")
    error.__cause__ = exc
    return error


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _run_batch(
    conn: sqlite3.Connection,
    batch: list[tuple[BoundWrite, Any]],
    now_us: Callable[[], int],
    full: bool,
    sync: bool,
    budget: float,
) -> Any:
    relaxed = full and not sync
    if relaxed:
        conn.execute("PRAGMA synchronous = NORMAL")
    try:
        return _run_transaction(conn, batch, now_us, budget)
    finally:
        if relaxed:
            conn.execute("PRAGMA synchronous = FULL")


def _run_transaction(
    conn: sqlite3.Connection,
    batch: list[tuple[BoundWrite, Any]],
    now_us: Callable[[], int],
    budget: float,
) -> Any:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return _Busy()
        return _Failed(_store_error(exc))
    # The transaction's time is read once it holds the write lock, so that times follow the
    # order of commits: an event stamped before a wait's deadline was also committed before
    # that wait's timeout (a time read before waiting for the lock could be older).
    tx = Tx(conn, now_us())
    results: list[tuple[bool, Any]] = []
    deadline = time.perf_counter() + budget
    try:
        if len(batch) == 1:
            try:
                results.append((True, batch[0][0](tx)))
            except (sqlite3.OperationalError, sqlite3.DatabaseError):
                raise
            except Exception as exc:
                conn.execute("ROLLBACK")
                return [(False, exc)], Notices()
        else:
            segment_max = max(2, round(MANY_SEGMENT_MAX * budget / TX_TIME_BUDGET))
            at = 0
            while at < len(batch):
                if results and time.perf_counter() > deadline:
                    break  # the rest go into the next transaction
                end = at
                while end < len(batch) and end - at < segment_max and batch[end][0].many:
                    end += 1
                if end - at > 1:
                    results.extend(_run_segment(tx, [write for write, _ in batch[at:end]]))
                    at = end
                else:
                    results.append(_run_one(tx, batch[at][0]))
                    at += 1
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return _Failed(_store_error(exc))
    return results, tx.notices


def _run_one(tx: Tx, write: BoundWrite) -> tuple[bool, Any]:
    """Make one write of a shared batch; a refused one is undone alone."""
    # a write that refuses before it changes anything needs no savepoint to be undone
    isolated = not write.checks_first
    if isolated:
        tx.conn.execute("SAVEPOINT w")
    try:
        result = write(tx)
    except (sqlite3.OperationalError, sqlite3.DatabaseError):
        raise
    except Exception as exc:
        if isolated:
            tx.conn.execute("ROLLBACK TO w")
            tx.conn.execute("RELEASE w")
        return False, exc
    if isolated:
        tx.conn.execute("RELEASE w")
    return True, result


def _run_segment(tx: Tx, segment: list[BoundWrite]) -> list[tuple[bool, Any]]:
    """Make consecutive writes that each concern one run, a statement for many at a time.

    Writes of one batch were all queued before any of them committed, so none was made
    knowing another's outcome, except that each run's pass queues its own in order: they may
    be made in any order that keeps each run's. Round k makes the k-th write of every run of
    the segment, the calls of one write function together."""
    rounds: list[dict[Any, list[int]]] = []
    depth: dict[str, int] = {}
    for index, write in enumerate(segment):
        run_id = write.args[0]
        level = depth.get(run_id, 0)
        depth[run_id] = level + 1
        if level == len(rounds):
            rounds.append({})
        rounds[level].setdefault(write.fn, []).append(index)
    results: list[tuple[bool, Any]] = [(False, None)] * len(segment)
    for groups in rounds:
        for indexes in groups.values():
            values = _run_many(tx, [segment[i] for i in indexes]) if len(indexes) > 1 else None
            if values is None:
                for i in indexes:
                    results[i] = _run_one(tx, segment[i])
            else:
                for i, value in zip(indexes, values, strict=True):
                    results[i] = (True, value)
    return results


def _run_many(tx: Tx, writes: list[BoundWrite]) -> list[Any] | None:
    """The results of ``writes`` (one function, different runs) made together, or None with
    nothing of them kept when some would be refused (then they are made one by one)."""
    many = writes[0].many
    assert many is not None
    tx.conn.execute("SAVEPOINT m")
    try:
        values = many(tx, [write.args for write in writes])
    except (sqlite3.OperationalError, sqlite3.DatabaseError):
        raise
    except Exception:
        values = None
    if values is None:
        tx.conn.execute("ROLLBACK TO m")
    tx.conn.execute("RELEASE m")
    return values
