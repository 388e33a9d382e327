"""Clocks: the system clock, and a manual clock that tests move by hand."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock:
    """Time moves only through ``advance``/``set_us``; ``sleep`` parks until it is reached.

    ``advance`` and ``set_us`` may be called from any thread: each sleeper is woken through
    the event loop it was created on.
    """

    def __init__(self, start_us: int | None = None) -> None:
        self._now = time.time_ns() // 1000 if start_us is None else start_us
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int]] = []  # (deadline_us, ticket)
        self._sleepers: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
        self._tickets = itertools.count()

    def now_us(self) -> int:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if math.isnan(seconds) or seconds < 0:
            raise ValueError(f"a ManualClock cannot move backwards: advance({seconds!r})")
        with self._lock:
            self._now += round(seconds * 1_000_000)
        self._wake_due()

    def set_us(self, us: int) -> None:
        """Jump to ``us``, possibly backwards (a wall-clock step); sleepers keep deadlines."""
        with self._lock:
            self._now = us
        self._wake_due()

    def pending_sleeps(self) -> int:
        with self._lock:
            return len(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        if math.isnan(seconds):
            raise ValueError("cannot sleep for NaN seconds")
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        ticket = next(self._tickets)
        with self._lock:
            if seconds == math.inf:
                deadline = math.inf
            else:
                deadline = self._now + max(1, round(seconds * 1_000_000))
            self._sleepers[ticket] = (loop, future)
            if deadline != math.inf:  # an infinite sleep only ends by cancellation
                heapq.heappush(self._heap, (int(deadline), ticket))
        try:
            await future
        finally:
            with self._lock:
                self._sleepers.pop(ticket, None)

    def _wake_due(self) -> None:
        due: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= self._now:
                _, ticket = heapq.heappop(self._heap)
                sleeper = self._sleepers.pop(ticket, None)
                if sleeper is not None:
                    due.append(sleeper)
        for loop, future in due:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_wake, future)
