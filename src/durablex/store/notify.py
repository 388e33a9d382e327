"""Change notices between store instances on the same database within one process.

A runner and a client in one process use separate store objects (often on separate event
loops); a commit by one must wake the other at once, not at its next poll. Other processes
are reached by each backend's own means (SQLite: ``PRAGMA data_version`` polling; PostgreSQL:
LISTEN/NOTIFY). Hubs are keyed by database identity, so unrelated databases never interact.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass, field

# In ``Notices.terminal``: runs ended that are not named (too many for a datagram, or notices
# lost while a listener was reconnecting).
UNNAMED_RUNS = "…"
# A listener that waits for ends keeps the last final ends it was brought: this many at most,
# of this many bytes of output and error together, each end of at most RECENT_END_MAX_BYTES
# (an output may be megabytes; a larger end is read back when asked for).
RECENT_FINAL_ENDS = 1024
RECENT_ENDS_BYTES = 4 * 1024 * 1024
RECENT_END_MAX_BYTES = 64 * 1024
# Ends no later write changes: only a failed run can be resumed, and no run is deleted.
FINAL_STATUSES = frozenset({"completed", "cancelled"})


@dataclass(frozen=True, slots=True)
class RunEnd:
    """A run's end as a store of this process committed it: what ``result()`` returns or
    raises, without reading the run back (``output`` and ``error`` as stored, JSON)."""

    status: str
    output: bytes | None
    error: bytes | None


@dataclass(slots=True)
class Notices:
    """What a committed batch changed, as far as waiters care. ``ends``: the runs of
    ``terminal`` whose end this process committed, with it; a listener hands them to the
    watches of those runs on delivery (``merge`` leaves them out: nothing waits on them
    later)."""

    work_due: bool = False
    terminal: set[str] = field(default_factory=set)
    ends: dict[str, RunEnd] = field(default_factory=dict)

    @property
    def wanted(self) -> bool:
        """Whether any listener could care: most step commits raise nothing worth a wake-up."""
        return self.work_due or bool(self.terminal)

    def merge(self, other: Notices) -> None:
        self.work_due = self.work_due or other.work_due
        self.terminal |= other.terminal


class EndWatch:
    """A waiter's hold on one run's end (``Listener.watch_end``): ``end`` is set when a notice
    brings it; ``close()`` once done waiting."""

    __slots__ = ("_listener", "end", "run_id")

    def __init__(self, listener: Listener, run_id: str) -> None:
        self._listener = listener
        self.run_id = run_id
        self.end: RunEnd | None = None

    def close(self) -> None:
        self._listener._unwatch(self)


def _end_bytes(end: RunEnd) -> int:
    return len(end.output or b"") + len(end.error or b"")


class Listener:
    """One store instance's inbox, fed from any thread.

    A runner only needs waking when work may be due; a client waiting for results only when
    runs end. Notices of no interest are dropped, so a busy runner's own step commits do not
    wake its claim loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.pending = Notices()
        self.wants_work = True
        self.wants_terminal = True
        # notices taken in so far: unchanged, nothing of interest has happened
        self.delivered = 0
        self._lock = threading.Lock()
        # the open watches of each run; only watched runs' ends are kept
        self._watches: dict[str, list[EndWatch]] = {}
        # the final ends brought lately (while ``wants_terminal``), oldest first: a run that
        # ended before its waiter watched it (a start that committed with the run's end, say)
        # needs no read
        self._recent_ends: dict[str, RunEnd] = {}
        self._recent_bytes = 0

    def watch_end(self, run_id: str) -> EndWatch:
        """Keep the end of ``run_id`` when a notice brings it. Watch before reading the run:
        an end published earlier was committed earlier, so that read sees it."""
        watch = EndWatch(self, run_id)
        with self._lock:
            watch.end = self._recent_ends.get(run_id)
            self._watches.setdefault(run_id, []).append(watch)
        return watch

    def _remember(self, run_id: str, end: RunEnd) -> None:
        size = _end_bytes(end)
        if size > RECENT_END_MAX_BYTES:
            return
        recent = self._recent_ends
        old = recent.pop(run_id, None)
        if old is not None:
            self._recent_bytes -= _end_bytes(old)
        recent[run_id] = end
        self._recent_bytes += size
        while len(recent) > RECENT_FINAL_ENDS or self._recent_bytes > RECENT_ENDS_BYTES:
            self._recent_bytes -= _end_bytes(recent.pop(next(iter(recent))))

    def _unwatch(self, watch: EndWatch) -> None:
        with self._lock:
            watches = self._watches.get(watch.run_id)
            if watches is not None and watch in watches:
                watches.remove(watch)
                if not watches:
                    del self._watches[watch.run_id]

    def deliver(self, notices: Notices) -> None:
        if notices.ends and (self._watches or self.wants_terminal):
            with self._lock:
                for run_id, end in notices.ends.items():
                    for watch in self._watches.get(run_id, ()):
                        watch.end = end
                    if self.wants_terminal and end.status in FINAL_STATUSES:
                        self._remember(run_id, end)
        if not (
            (self.wants_work and notices.work_due) or (self.wants_terminal and notices.terminal)
        ):
            return
        with self._lock:
            self.pending.merge(notices)
            self.delivered += 1
        if self.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.event.set()
        else:
            self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout: float) -> bool:
        """Until a notice arrives (True) or ``timeout`` seconds pass (False). A timeout scope
        rather than ``wait_for``: no task per wait on the wake-up path."""
        if self.event.is_set():
            return True
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await self.event.wait()
        except TimeoutError:
            return False
        return True

    def take(self) -> Notices:
        with self._lock:
            notices, self.pending = self.pending, Notices()
        self.event.clear()
        return notices


class Hub:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        # names this process's writers to the database in notices sent to other processes
        self.token = secrets.token_hex(8)
        self._lock = threading.Lock()

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.add(listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def publish(self, notices: Notices) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.deliver(notices)


_hubs: dict[str, Hub] = {}
_hubs_lock = threading.Lock()


def hub_for(key: str) -> Hub:
    with _hubs_lock:
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = Hub()
        return hub
