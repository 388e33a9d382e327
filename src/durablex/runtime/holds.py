"""The budget of runs a runner keeps in memory through short sleeps ("held" runs).

A pass whose run would park on sleeps due within ``window_us`` keeps the workflow in memory
instead: the run shows ``sleeping`` and the runner keeps its lease until the wake-up plus a
grace, so the run continues without a claim, a journal read and a replay. Held runs do not
count against the runner's ``concurrency`` (they execute nothing); at most ``limit`` are held.

The grace is how late a held run may resume before another runner takes it over and replays
it. Alone, a runner gets ``HOLD_GRACE_US``: nobody else could take the run over sooner. With
other live runners of its apps (``alone`` False) it gets ``HOLD_GRACE_SHARED_US``: a saturated
runner resumes held runs late, and with a 1 s grace the other runner took half of them over
and replayed them (PostgreSQL, two runner processes: p99 lateness 1.05 s against 22 ms without
holds). A crash then delays the held runs of the dead runner by up to that grace, against the
lease (30 s by default) that its running runs wait out. A store whose commits can lag past that
grace under load (PostgreSQL: ``holds_beside_others`` False) gets no holds beside others.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

# A held run's lease ends this long after its wake-up: if its runner died (or is too busy to
# resume it by then), another runner claims it then and replays it. This bounds how late a
# held run wakes after a crash; it must exceed the runner's claim-ahead window (100 ms).
HOLD_GRACE_US = 1_000_000
HOLD_GRACE_SHARED_US = 5_000_000


class Holds:
    def __init__(
        self,
        window_us: int,
        limit: int,
        on_release: Callable[[], None],
        *,
        beside_others: bool = True,
    ) -> None:
        """``beside_others``: whether runs may be held while other runners are live (the
        store's ``holds_beside_others``)."""
        self.window_us = window_us
        self.limit = limit
        self.run_ids: dict[str, int] = {}  # run id -> its wake-up (µs)
        self.alone = True
        self.beside_others = beside_others
        self._on_release = on_release
        self._dues: list[tuple[int, str]] = []  # a heap; entries of runs no longer held linger

    def take(self, run_id: str, due_us: int) -> bool:
        """Count ``run_id`` as held until ``due_us``, if the budget allows (and, with other
        runners live, the store lets it); its slot of ``concurrency`` frees."""
        if len(self.run_ids) >= self.limit or not (self.alone or self.beside_others):
            return False
        self.run_ids[run_id] = due_us
        heapq.heappush(self._dues, (due_us, run_id))
        self._on_release()
        return True

    def give(self, run_id: str) -> None:
        self.run_ids.pop(run_id, None)
        if not self.run_ids:
            self._dues.clear()

    @property
    def grace_us(self) -> int:
        """How long after its wake-up a held run stays leased to this runner."""
        return HOLD_GRACE_US if self.alone else HOLD_GRACE_SHARED_US

    def wake_within(self, window_us: int, now_us: int) -> bool:
        """Whether a run still held wakes within ``window_us`` of ``now_us``."""
        due = self.next_due_us()
        return due is not None and due - now_us <= window_us

    def next_due_us(self) -> int | None:
        """The earliest wake-up of a run still held."""
        dues = self._dues
        while dues and self.run_ids.get(dues[0][1]) != dues[0][0]:
            heapq.heappop(dues)
        return dues[0][0] if dues else None
