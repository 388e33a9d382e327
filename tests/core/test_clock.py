from __future__ import annotations

import asyncio
import threading
import time

import pytest

from durablex.core.clock import Clock, ManualClock, SystemClock

START = 1_700_000_000_000_000


def test_protocol_is_satisfied() -> None:
    clocks: list[Clock] = [SystemClock(), ManualClock(0)]
    assert all(isinstance(c.now_us(), int) for c in clocks)


async def test_system_clock() -> None:
    clock = SystemClock()
    before = time.time_ns() // 1000
    assert before <= clock.now_us() <= time.time_ns() // 1000
    started = time.monotonic()
    await clock.sleep(0.01)
    assert time.monotonic() - started >= 0.009
    await clock.sleep(-1)  # negative is no wait, not an error


def test_manual_clock_start_and_default() -> None:
    assert ManualClock(START).now_us() == START
    before = time.time_ns() // 1000
    assert ManualClock().now_us() >= before


def test_advance_and_set() -> None:
    clock = ManualClock(START)
    clock.advance(1.5)
    assert clock.now_us() == START + 1_500_000
    clock.advance(0.000001)
    assert clock.now_us() == START + 1_500_001
    clock.set_us(5)
    assert clock.now_us() == 5


@pytest.mark.parametrize("seconds", [-1.0, float("nan")])
def test_advance_never_goes_backwards(seconds: float) -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError):
        clock.advance(seconds)
    assert clock.now_us() == START


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_sleep_parks_until_deadline() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep(10))
    await _settle()
    assert clock.pending_sleeps() == 1
    clock.advance(9.999)
    await _settle()
    assert not task.done()
    assert clock.pending_sleeps() == 1
    clock.advance(0.001)
    assert clock.pending_sleeps() == 0
    await asyncio.wait_for(task, 1)


async def test_sleepers_wake_in_deadline_order_and_only_when_due() -> None:
    clock = ManualClock(START)
    woke: list[int] = []

    async def sleeper(seconds: int) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    tasks = [asyncio.create_task(sleeper(s)) for s in (3, 1, 2, 5)]
    await _settle()
    assert clock.pending_sleeps() == 4
    clock.advance(2)
    await _settle()
    assert woke == [1, 2]
    assert clock.pending_sleeps() == 2
    clock.advance(3)
    await asyncio.gather(*tasks)
    assert woke == [1, 2, 3, 5]


async def test_zero_and_negative_sleep_return_after_one_iteration() -> None:
    clock = ManualClock(START)
    await asyncio.wait_for(clock.sleep(0), 1)
    await asyncio.wait_for(clock.sleep(-5), 1)
    assert clock.pending_sleeps() == 0
    assert clock.now_us() == START


async def test_nan_sleep_is_rejected() -> None:
    with pytest.raises(ValueError):
        await ManualClock(START).sleep(float("nan"))


async def test_tiny_sleep_still_needs_time_to_pass() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep(1e-9))
    await _settle()
    assert not task.done()
    clock.advance(0.000001)
    await asyncio.wait_for(task, 1)


async def test_set_us_backwards_keeps_sleepers_parked() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep(5))
    await _settle()
    clock.set_us(START - 60_000_000)
    await _settle()
    assert not task.done()
    clock.set_us(START + 5_000_000)
    await asyncio.wait_for(task, 1)


async def test_set_us_forward_wakes() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep(3600))
    await _settle()
    clock.set_us(START + 3_600_000_000)
    await asyncio.wait_for(task, 1)


async def test_cancelled_sleep_is_forgotten() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep(10))
    await _settle()
    assert clock.pending_sleeps() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending_sleeps() == 0
    clock.advance(20)  # waking a cancelled sleeper must not fail
    await _settle()


async def test_infinite_sleep_only_ends_by_cancellation() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep(float("inf")))
    await _settle()
    clock.advance(10**9)
    await _settle()
    assert not task.done()
    assert clock.pending_sleeps() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_advance_from_another_thread_wakes_via_the_loop() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep(1))
    await _settle()
    thread = threading.Thread(target=clock.advance, args=(1,))
    thread.start()
    thread.join()
    await asyncio.wait_for(task, 1)
    assert clock.pending_sleeps() == 0


def test_sleepers_on_two_loops_in_two_threads() -> None:
    clock = ManualClock(START)
    parked = threading.Barrier(3)
    done: list[str] = []

    def run(name: str) -> None:
        async def main() -> None:
            task = asyncio.create_task(clock.sleep(2))
            await asyncio.sleep(0)
            parked.wait()
            await asyncio.wait_for(task, 5)
            done.append(name)

        asyncio.run(main())

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    parked.wait()
    assert clock.pending_sleeps() == 2
    clock.advance(2)
    for thread in threads:
        thread.join(5)
    assert sorted(done) == ["a", "b"]
