"""Runs handed to a runner of this process in the transaction that starts them.

A run started on an event loop where a runner of this process serves its workflow, against the
same database, is inserted already claimed by that runner (fence 1, its lease), and the runner
begins the pass as soon as the start commits. Without this, the run would be inserted queued,
and the runner would learn of it by a notice, read its due time, claim it in a second
transaction and only then start: about 0.6 ms of a 2 ms round trip on this machine
(docs/performance.md, "Runs handed to the runner of their loop"). A child run started by a
pass goes the same way to the runner of that pass.

A run started by a client is further begun before its start commits, where the store can
(``begin`` below): the runner starts its pass at once, and the start commits on that runner's
writer with the pass's first durable writes, one commit for a short run instead of two
(design.md, "Runs begun before their start commits").

Nothing here is needed for correctness: a run that cannot be handed over (no runner on the
loop, no free slot, a runner stopping, another app's workflow) is started queued, as always.
A run handed to a runner that stopped before it could take it is released at once; one whose
process dies is claimed again by any runner when the lease ends, as any claimed run.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from durablex.core.ids import new_id
from durablex.store.base import ClaimedRun, HandOff
from durablex.store.rows import claimed_run, new_run

if TYPE_CHECKING:
    from durablex.store.base import Store

log = logging.getLogger("durablex.store")


class LocalRunner(Protocol):
    """What a runner offers to take runs as they start (``Store.take_new_runs``)."""

    name: str
    lease_us: int
    # the runner's own store: a run begun before its start commits has that start committed
    # by this store's writer, in the transaction of the run's first writes
    store: Store

    def reserve(self, app: str | None, workflow: str) -> bool:
        """On the runner's loop: take a slot for a run of this workflow (``app`` None: in any
        app the runner serves), or refuse (full, stopping, not its workflow)."""

    def serves(self, app: str, workflow: str) -> bool:
        """From any thread: whether the runner defines this workflow."""

    def adopt(self, run: ClaimedRun, started: asyncio.Future[Any] | None = None) -> bool:
        """On the runner's loop, once the start committed (or with ``started``, the future of
        a start not yet committed): begin the run's pass in the reserved slot; False if the
        runner is stopping (the run is then released)."""

    def unreserve(self) -> None:
        """Give back a slot the start did not use."""


_lock = threading.Lock()
_runners: dict[str, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[LocalRunner]]] = {}


def add(database: str, loop: asyncio.AbstractEventLoop, runner: LocalRunner) -> None:
    with _lock:
        on_loops = _runners.setdefault(database, weakref.WeakKeyDictionary())
        on_loop = on_loops.setdefault(loop, [])
        if runner not in on_loop:
            on_loop.append(runner)


def remove(database: str, loop: asyncio.AbstractEventLoop, runner: LocalRunner) -> None:
    with _lock:
        on_loops = _runners.get(database)
        on_loop = on_loops.get(loop) if on_loops is not None else None
        if on_loop is not None and runner in on_loop:
            on_loop.remove(runner)


def reserve(database: str, app: str | None, workflow: str) -> LocalRunner | None:
    """A runner on the running loop that took a slot for this run, or None."""
    on_loops = _runners.get(database)
    if not on_loops:
        return None
    on_loop = on_loops.get(asyncio.get_running_loop())
    for runner in on_loop or ():
        if runner.reserve(app, workflow):
            return runner
    return None


Started = asyncio.Future[tuple[str, tuple[Any, ...] | None]]
# The claim row of a run begun before its start committed, and the future of the start (its
# run id once committed).
Begun = tuple[tuple[Any, ...], asyncio.Future[str]]
# A run begun before its start committed has that start committed with the first of its writes
# that must be durable, or after this long at most.
BEGUN_START_WINDOW = 0.002


@dataclass(frozen=True, slots=True)
class BegunRun:
    """What a store fixes of a run that its runner begins before the start commits: the ids,
    the time (the workflow's ``event.ts``, the same on every replay), the run's INSERT
    parameters and its claim row, which the start transaction then writes as they are."""

    app: str
    input: bytes | None
    event_id: str
    run_id: str
    now_us: int
    params: tuple[Any, ...]
    claim: tuple[Any, ...]


def begun_run(
    app: str, workflow: str, input: bytes | None, rerun_of: str | None, taker: HandOff, now_us: int
) -> BegunRun:
    """A run of a resolved workflow that ``taker`` serves, begun at ``now_us``."""
    event_id, run_id = new_id(), new_id()
    params, claim = new_run(
        run_id=run_id, app=app, workflow=workflow, input=input, event_id=event_id,
        parent_run_id=None, parent_step_id=None, runner_pin=None, rerun_of=rerun_of,
        taker=taker, now_us=now_us,
    )  # fmt: skip
    assert claim is not None, "the taker serves the workflow"
    return BegunRun(app, input, event_id, run_id, now_us, params, claim)


async def start(
    database: str,
    app: str | None,
    workflow: str,
    runner_pin: str | None,
    start: Callable[[HandOff | None], Started],
    release: Callable[[str], asyncio.Future[None]],
    begin: Callable[[LocalRunner, HandOff], Awaitable[Begun | None]] | None = None,
) -> str:
    """A store's ``start_run`` and ``start_child``: ``start(taker)`` queues the transaction that
    starts the run (claiming it for ``taker`` if not None) and returns its future (the run id,
    and the claim row if taken); ``release(run_id)`` queues a release of a claimed run.

    ``begin(runner, taker)``, where the store can, queues on ``runner.store``'s writer a start
    that the runner may begin before it commits, and returns the run's claim row with the
    start's future: the start then commits with the run's first durable writes (one fsync for a
    short run, not two), and ``start`` returns once it has. Until then nothing of the run is
    stored, so a crash loses the run (``start`` never returned) and its first step may have run
    for nothing, as a step does that crashes before its record commits."""
    runner = reserve(database, app, workflow) if runner_pin is None else None
    if runner is None:
        return (await start(None))[0]
    taker = HandOff(runner=runner.name, lease_us=runner.lease_us, serves=runner.serves)
    try:
        begun = await begin(runner, taker) if begin is not None else None
    except BaseException:
        runner.unreserve()
        raise
    if begun is None:
        started = start(taker)
        settle(runner, started, release)
    else:
        row, stored = begun
        if not runner.adopt(claimed_run(row), stored):

            def release_once_stored(future: asyncio.Future[str]) -> None:
                if not future.cancelled() and future.exception() is None:
                    _release(release, future.result())

            stored.add_done_callback(release_once_stored)
        # shielded: once queued the start commits, and the runner must learn of it
        return await asyncio.shield(stored)
    return (await asyncio.shield(started))[0]


def settle(
    runner: LocalRunner, started: Started, release: Callable[[str], asyncio.Future[None]]
) -> None:
    """When the start transaction ends (whether or not its caller still waits): the run to the
    runner, or the slot back. ``release(run_id)`` queues the run for any runner. Registered
    before the caller awaits ``started``, so the runner has the run before ``start`` returns."""

    def done(future: Started) -> None:
        if future.cancelled() or future.exception() is not None:
            runner.unreserve()
            return
        run_id, row = future.result()
        if row is None:
            runner.unreserve()
        elif not runner.adopt(claimed_run(row)):
            _release(release, run_id)

    if started.done():
        # committed at once (on the loop): the caller goes on without yielding, so the run
        # must be the runner's before that, not in a callback after it
        done(started)
    else:
        started.add_done_callback(done)


def _release(release: Callable[[str], asyncio.Future[None]], run_id: str) -> None:
    """Queue the release of a run claimed for a runner that stopped before taking it."""
    try:
        release(run_id).add_done_callback(_log_release_failure(run_id))
    except RuntimeError as exc:  # the starting store was closed meanwhile
        _warn_unreleased(run_id, exc)


def _log_release_failure(run_id: str) -> Callable[[asyncio.Future[None]], None]:
    def check(future: asyncio.Future[None]) -> None:
        if not future.cancelled() and (exc := future.exception()) is not None:
            _warn_unreleased(run_id, exc)

    return check


def _warn_unreleased(run_id: str, exc: BaseException) -> None:
    log.warning(
        "run %s was handed to a stopping runner and could not be released (%s); it is claimed "
        "again when its lease ends",
        run_id,
        exc,
    )
