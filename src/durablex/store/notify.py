"""Change notices between store instances on the same database within one process.

A runner and a client in one process use separate store objects (often on separate event
loops); a commit by one must wake the other at once, not at its next poll. Other processes
are reached by each backend's own means (SQLite: ``PRAGMA data_version`` polling; PostgreSQL:
LISTEN/NOTIFY). Hubs are keyed by database identity, so unrelated databases never interact.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

# In ``Notices.terminal``: runs ended that are not named (too many for a datagram, or notices
# lost while a listener was reconnecting).
UNNAMED_RUNS = "…"


@dataclass(slots=True)
class Notices:
    """What a committed batch changed, as far as waiters care."""

    work_due: bool = False
    terminal: set[str] = field(default_factory=set)

    @property
    def wanted(self) -> bool:
        """Whether any listener could care: most step commits raise nothing worth a wake-up."""
        return self.work_due or bool(self.terminal)

    def merge(self, other: Notices) -> None:
        self.work_due = self.work_due or other.work_due
        self.terminal |= other.terminal


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

    def deliver(self, notices: Notices) -> None:
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
