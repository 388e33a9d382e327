"""A listener that waits for ends remembers the final ones lately brought (``durablex.store.
notify``): a waiter that watches a run after it ended (a start that committed with the run's
end) gets the end without reading the run. A failed run can still be resumed, so its end is
not one of them."""

from __future__ import annotations

import asyncio

from durablex.store.notify import (
    RECENT_END_MAX_BYTES,
    RECENT_ENDS_BYTES,
    RECENT_FINAL_ENDS,
    Listener,
    Notices,
    RunEnd,
)


def ended(**ends: RunEnd) -> Notices:
    return Notices(terminal=set(ends), ends=dict(ends))


async def test_a_run_watched_after_its_end_was_brought_has_it_if_final() -> None:
    listener = Listener(asyncio.get_running_loop())
    done = RunEnd("completed", b"1", None)
    cancelled = RunEnd("cancelled", None, None)
    listener.deliver(ended(a=done, b=RunEnd("failed", None, b'{"message":"x"}'), c=cancelled))
    watches = {run_id: listener.watch_end(run_id) for run_id in "abcd"}
    assert {run_id: watch.end for run_id, watch in watches.items()} == {
        "a": done,
        "b": None,  # resumable: read back, not remembered
        "c": cancelled,
        "d": None,
    }
    for watch in watches.values():
        watch.close()


async def test_only_the_latest_final_ends_are_remembered() -> None:
    listener = Listener(asyncio.get_running_loop())
    done = RunEnd("completed", None, None)
    for i in range(RECENT_FINAL_ENDS + 1):
        listener.deliver(ended(**{f"r{i}": done}))
    assert listener.watch_end("r0").end is None
    assert listener.watch_end("r1").end == done
    assert listener.watch_end(f"r{RECENT_FINAL_ENDS}").end == done


async def test_the_ends_remembered_are_bounded_in_bytes_too() -> None:
    """An output may be megabytes: a large end is not kept, and the kept ones stay under a
    budget of bytes, the oldest dropped first."""
    listener = Listener(asyncio.get_running_loop())
    big = RunEnd("completed", b"x" * (RECENT_END_MAX_BYTES + 1), None)
    listener.deliver(ended(big=big))
    assert listener.watch_end("big").end is None
    piece = RunEnd("completed", b"y" * RECENT_END_MAX_BYTES, None)
    fit = RECENT_ENDS_BYTES // RECENT_END_MAX_BYTES
    for i in range(fit + 1):
        listener.deliver(ended(**{f"p{i}": piece}))
    assert listener.watch_end("p0").end is None
    assert listener.watch_end("p1").end == piece
    assert listener.watch_end(f"p{fit}").end == piece


async def test_a_listener_that_waits_for_no_ends_remembers_none() -> None:
    listener = Listener(asyncio.get_running_loop())
    listener.wants_terminal = False
    listener.deliver(ended(a=RunEnd("completed", b"1", None)))
    assert listener.watch_end("a").end is None
