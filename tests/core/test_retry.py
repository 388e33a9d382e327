from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durablex.core.retry import backoff_ms


class FixedRandom(random.Random):
    def __init__(self, factor: float) -> None:
        super().__init__(0)
        self.factor = factor

    def uniform(self, a: float, b: float) -> float:
        assert (a, b) == (0.8, 1.2)
        return self.factor


@pytest.mark.parametrize(
    ("retry", "expected"),
    [(1, 1000.0), (2, 2000.0), (3, 4000.0), (4, 8000.0), (7, 60_000.0), (100, 60_000.0)],
)
def test_doubles_without_jitter(retry: int, expected: float) -> None:
    assert backoff_ms(retry, base_ms=1000, max_ms=60_000, rng=FixedRandom(1.0)) == expected


def test_jitter_is_applied_then_capped() -> None:
    assert backoff_ms(1, base_ms=1000, max_ms=60_000, rng=FixedRandom(0.8)) == 800.0
    assert backoff_ms(1, base_ms=1000, max_ms=60_000, rng=FixedRandom(1.2)) == 1200.0
    assert backoff_ms(10, base_ms=1000, max_ms=60_000, rng=FixedRandom(1.2)) == 60_000.0
    assert backoff_ms(10, base_ms=1000, max_ms=60_000, rng=FixedRandom(0.8)) == 48_000.0
    assert backoff_ms(1, base_ms=1000, max_ms=1100, rng=FixedRandom(1.2)) == 1100.0


def test_huge_retry_numbers_do_not_overflow() -> None:
    assert backoff_ms(5000, base_ms=10, max_ms=500, rng=FixedRandom(1.0)) == 500.0


def test_zero_base_is_zero() -> None:
    assert backoff_ms(3, base_ms=0, max_ms=100) == 0.0


@pytest.mark.parametrize("retry", [0, -1])
def test_retry_number_must_be_positive(retry: int) -> None:
    with pytest.raises(ValueError, match="retry_number"):
        backoff_ms(retry, base_ms=1, max_ms=2)


@pytest.mark.parametrize(("base", "maximum"), [(-1.0, 10.0), (1.0, -1.0), (float("nan"), 10.0)])
def test_negative_bounds_are_rejected(base: float, maximum: float) -> None:
    with pytest.raises(ValueError):
        backoff_ms(1, base_ms=base, max_ms=maximum)


def test_default_rng_jitters() -> None:
    values = {backoff_ms(1, base_ms=1000, max_ms=10_000) for _ in range(50)}
    assert len(values) > 1
    assert all(800 <= v <= 1200 for v in values)


@given(
    st.integers(min_value=1, max_value=2000),
    st.floats(min_value=0, max_value=1e7),
    st.floats(min_value=0, max_value=1e9),
    st.integers(min_value=0, max_value=2**32),
)
def test_bounds(retry: int, base: float, maximum: float, seed: int) -> None:
    delay = backoff_ms(retry, base_ms=base, max_ms=maximum, rng=random.Random(seed))
    assert 0 <= delay <= maximum
    nominal = min(base * 2.0 ** min(retry - 1, 1023), maximum)
    assert nominal * 0.8 - 1e-6 <= delay <= nominal * 1.2 + 1e-6


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0.001, max_value=1e5))
def test_monotonic_without_jitter(retry: int, base: float) -> None:
    maximum = base * 1000
    a = backoff_ms(retry, base_ms=base, max_ms=maximum, rng=FixedRandom(1.0))
    b = backoff_ms(retry + 1, base_ms=base, max_ms=maximum, rng=FixedRandom(1.0))
    assert a <= b
    if b < maximum:
        assert b == pytest.approx(2 * a)
