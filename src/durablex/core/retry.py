"""Exponential backoff with jitter for step retries."""

from __future__ import annotations

import math
import random

JITTER_LOW = 0.8
JITTER_HIGH = 1.2

_DEFAULT_RNG = random.Random()


def backoff_ms(
    retry_number: int,
    *,
    base_ms: float,
    max_ms: float,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry ``retry_number`` (1 = first retry): ``base_ms * 2**(n-1)``, jittered
    by a factor in [0.8, 1.2], never more than ``max_ms``."""
    if retry_number < 1:
        raise ValueError(f"retry_number must be >= 1, got {retry_number!r}")
    for name, amount in (("base_ms", base_ms), ("max_ms", max_ms)):
        if math.isnan(amount) or amount < 0:
            raise ValueError(f"{name} must be a number >= 0, got {amount!r}")
    # 2.0**1024 raises OverflowError; the product may become inf, which the cap absorbs.
    exponent = min(retry_number - 1, 1023)
    delay = min(base_ms * 2.0**exponent, max_ms)
    factor = (rng if rng is not None else _DEFAULT_RNG).uniform(JITTER_LOW, JITTER_HIGH)
    return max(0.0, min(delay * factor, max_ms))
