"""Instants: integer epoch microseconds (UTC) everywhere in the engine."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta

from durablex.core.durations import show

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)

INSTANT_FORMS = (
    "a datetime (naive means UTC), a date (midnight UTC), an ISO-8601 string such as "
    "'2026-01-01T12:00:00Z', '2026-01-01T12:00:00+02:00' or '2026-01-01' (no offset means UTC), "
    "or epoch milliseconds (int/float)"
)


def now_us() -> int:
    return time.time_ns() // 1000


def datetime_to_us(dt: datetime) -> int:
    """Epoch microseconds of ``dt``; a naive datetime is taken as UTC."""
    # Naive arithmetic, then the offset: never overflows near datetime.min/max.
    offset = dt.utcoffset() or timedelta(0)
    return (dt.replace(tzinfo=None) - _NAIVE_EPOCH - offset) // _ONE_US


def us_to_datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def us_to_iso(us: int) -> str:
    """ISO-8601 in UTC with a 'Z'; microseconds are shown only when non-zero."""
    return us_to_datetime(us).replace(tzinfo=None).isoformat() + "Z"


_MIN_US = datetime_to_us(datetime.min)
_MAX_US = datetime_to_us(datetime.max)


def _message(value: object, what: str, reason: str = "") -> str:
    because = f" ({reason})" if reason else ""
    return f"invalid instant {show(value)} for {what}{because}: expected {INSTANT_FORMS}"


def parse_instant(value: object, *, what: str = "sleep_until") -> int:
    """Return ``value`` as epoch microseconds (UTC), within the range of ``datetime``."""
    if isinstance(value, datetime):
        us = datetime_to_us(value)
    elif isinstance(value, date):
        us = datetime_to_us(datetime(value.year, value.month, value.day))
    elif isinstance(value, str):
        us = _parse_string(value, what)
    elif isinstance(value, bool):
        raise TypeError(_message(value, what, "a bool is not an instant"))
    elif isinstance(value, int):
        us = value * 1000
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(_message(value, what, "not finite"))
        if abs(value) > 1e16:  # far outside the datetime range; avoids float->int overflow
            raise ValueError(_message(value, what, "out of range"))
        us = round(value * 1000)
    else:
        raise TypeError(_message(value, what, f"type {type(value).__name__} is not accepted"))
    if not _MIN_US <= us <= _MAX_US:
        raise ValueError(_message(value, what, "out of range"))
    return us


def _parse_string(value: str, what: str) -> int:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_message(value, what)) from None
    return datetime_to_us(parsed)
