"""Python's cyclic garbage collector, tuned while runners run in this process.

A runner creates and drops many small container objects per step (futures, handles, coroutine
frames, rows). At Python's default first threshold (a collection every 700 net allocations),
collections took 15-35 % of the fanout and event workloads (docs/performance.md). While at
least one runner runs, the thresholds are raised to ``TUNED``, if they are still Python's
defaults (thresholds a program set itself are left alone), and restored when the last runner
stops. Garbage in reference cycles then waits up to 50,000 allocations instead of 700, a few
MB at most; everything else is freed by reference counting as before.
"""

from __future__ import annotations

import gc

PYTHON_DEFAULT = (700, 10, 10)
TUNED = (50_000, 20, 20)

_users = 0


def acquire() -> None:
    global _users
    if _users == 0 and gc.get_threshold() == PYTHON_DEFAULT:
        gc.set_threshold(*TUNED)
    _users += 1


def release() -> None:
    global _users
    _users = max(0, _users - 1)
    if _users == 0 and gc.get_threshold() == TUNED:
        gc.set_threshold(*PYTHON_DEFAULT)
