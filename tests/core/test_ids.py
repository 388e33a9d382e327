from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durablex.core import ids
from durablex.core.ids import (
    ALPHABET,
    UlidGenerator,
    encode_ulid,
    new_id,
    ulid_timestamp_ms,
)


def test_shape() -> None:
    value = new_id()
    assert len(value) == 26
    assert set(value) <= set(ALPHABET)
    assert value[0] in "01234567"  # 128 bits fit in 26 chars only if the first is < 8


def test_timestamp_is_now() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= ulid_timestamp_ms(value) <= after


def test_many_ids_are_unique_and_sorted() -> None:
    values = [new_id() for _ in range(5000)]
    assert len(set(values)) == len(values)
    assert values == sorted(values)


def test_same_millisecond_increments_random_part() -> None:
    generator = UlidGenerator()
    first = generator.new(1000)
    second = generator.new(1000)
    assert first < second
    assert ulid_timestamp_ms(second) == 1000
    assert _value(second) == _value(first) + 1


def test_clock_stepping_back_keeps_order() -> None:
    generator = UlidGenerator()
    first = generator.new(5000)
    second = generator.new(4000)
    assert second > first
    assert ulid_timestamp_ms(second) == 5000


def test_random_overflow_borrows_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = UlidGenerator()
    monkeypatch.setattr(ids, "_urandom", lambda n: b"\xff" * n)
    first = generator.new(7)
    second = generator.new(7)
    assert ulid_timestamp_ms(first) == 7
    assert ulid_timestamp_ms(second) == 8
    assert second > first


def test_new_ms_uses_fresh_randomness() -> None:
    generator = UlidGenerator()
    a = generator.new(1)
    b = generator.new(2)
    assert a[:10] != b[:10]
    assert a[10:] != b[10:]  # 80 fresh random bits: a collision is practically impossible


def test_thread_safety() -> None:
    results: list[list[str]] = []

    def work() -> None:
        results.append([new_id() for _ in range(2000)])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for chunk in results for value in chunk]
    assert len(set(every)) == 8 * 2000
    for chunk in results:
        assert chunk == sorted(chunk)


def test_encode_bounds() -> None:
    assert encode_ulid(0, 0) == "0" * 26
    assert encode_ulid(2**48 - 1, 2**80 - 1) == "7" + "Z" * 25
    with pytest.raises(ValueError):
        encode_ulid(2**48, 0)
    with pytest.raises(ValueError):
        encode_ulid(0, 2**80)
    with pytest.raises(ValueError):
        encode_ulid(-1, 0)


@pytest.mark.parametrize("bad", ["", "0" * 25, "U" * 26, "8" + "0" * 25, "0" * 25 + "!"])
def test_bad_ulids_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        ulid_timestamp_ms(bad)


def _value(ulid: str) -> int:
    value = 0
    for char in ulid:
        value = value * 32 + ALPHABET.index(char)
    return value


@given(
    st.integers(min_value=0, max_value=2**48 - 1),
    st.integers(min_value=0, max_value=2**80 - 1),
)
def test_encode_round_trip(ms: int, random_part: int) -> None:
    ulid = encode_ulid(ms, random_part)
    assert len(ulid) == 26
    assert ulid_timestamp_ms(ulid) == ms
    assert _value(ulid) == (ms << 80) | random_part


@given(st.lists(st.integers(min_value=0, max_value=2**48 - 2), min_size=2, max_size=20))
def test_ids_sort_by_time(times: list[int]) -> None:
    made = [(ms, UlidGenerator().new(ms)) for ms in times]
    for ms_a, id_a in made:
        for ms_b, id_b in made:
            if ms_a < ms_b:
                assert id_a < id_b


@given(st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=50))
def test_one_generator_is_monotonic(times: list[int]) -> None:
    generator = UlidGenerator()
    made = [generator.new(ms) for ms in times]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
