"""Durations for steps and workflow options (milliseconds) and client-side timeouts (seconds)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_MS_PER_UNIT: dict[str, float] = {
    "ms": 1.0,
    "s": 1_000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
    "w": 604_800_000.0,
}

# 100 years of 365.25 days: anything longer is a mistake (e.g. microseconds passed as ms).
MAX_DURATION_MS = 100 * 365.25 * 86_400_000.0

# Whitespace is allowed around parts ("1h 30m") but not between a number and its unit.
_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(ms|s|m|h|d|w)\s*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")

DURATION_FORMS = (
    "milliseconds (int/float >= 0), a datetime.timedelta, or a string like "
    "'500ms', '10s', '5m', '1h', '1h30m', '1.5h', '2d', '1w'"
)
SECONDS_FORMS = "seconds (int/float >= 0), a datetime.timedelta, or None for no limit"


def show(value: object, limit: int = 120) -> str:
    """``repr(value)``, shortened, and safe for ints too long to print."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _message(value: object, what: str, reason: str, forms: str) -> str:
    where = "" if what == "duration" else f" for {what}"
    because = f" ({reason})" if reason else ""
    return f"invalid duration {show(value)}{where}{because}: expected {forms}"


def _type_message(value: object, what: str, forms: str) -> str:
    return _message(value, what, f"type {type(value).__name__} is not accepted", forms)


def _checked(amount: float | int, value: object, what: str, limit: float, forms: str) -> float:
    # ``amount`` may be an int too large for a float: compare before converting.
    if isinstance(amount, float) and math.isnan(amount):
        raise ValueError(_message(value, what, "not a number", forms))
    if amount < 0:
        raise ValueError(_message(value, what, "negative", forms))
    if amount > limit:
        reason = "infinite" if amount == math.inf else "longer than 100 years"
        raise ValueError(_message(value, what, reason, forms))
    return float(amount)


def parse_duration(value: object, *, what: str = "duration") -> float:
    """Return ``value`` as a number of milliseconds (>= 0)."""
    kind = type(value)
    if kind is int or kind is float:
        return _checked(value, value, what, MAX_DURATION_MS, DURATION_FORMS)  # type: ignore[arg-type]
    if kind is str:
        return _parse_string(value, what)  # type: ignore[arg-type]
    if isinstance(value, bool):
        raise ValueError(_message(value, what, "a bool is not a duration", DURATION_FORMS))
    if isinstance(value, int | float):
        return _checked(value, value, what, MAX_DURATION_MS, DURATION_FORMS)
    if isinstance(value, timedelta):
        ms = value / timedelta(milliseconds=1)
        return _checked(ms, value, what, MAX_DURATION_MS, DURATION_FORMS)
    if isinstance(value, str):
        return _parse_string(value, what)
    raise TypeError(_type_message(value, what, DURATION_FORMS))


def _parse_string(value: str, what: str) -> float:
    if not value.strip():
        raise ValueError(_message(value, what, "empty", DURATION_FORMS))
    total = 0.0
    pos = 0
    while pos < len(value):
        part = _PART.match(value, pos)
        if part is None:
            reason = "missing unit" if _NUMBER.fullmatch(value.strip()) else ""
            raise ValueError(_message(value, what, reason, DURATION_FORMS))
        total += float(part.group(1)) * _MS_PER_UNIT[part.group(2)]
        pos = part.end()
    return _checked(total, value, what, MAX_DURATION_MS, DURATION_FORMS)


def parse_seconds(value: object, *, what: str) -> float | None:
    """Return a client-side timeout in seconds; ``None`` means no limit.

    Strings are refused on purpose: in Python, client timeouts are seconds, and a bare
    ``"10"`` would be ambiguous next to the millisecond-based step durations.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(_message(value, what, "a bool is not a timeout", SECONDS_FORMS))
    limit = MAX_DURATION_MS / 1000
    if isinstance(value, int | float):
        return _checked(value, value, what, limit, SECONDS_FORMS)
    if isinstance(value, timedelta):
        return _checked(value.total_seconds(), value, what, limit, SECONDS_FORMS)
    raise TypeError(_type_message(value, what, SECONDS_FORMS))
