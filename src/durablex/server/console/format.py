"""Pure formatting for the console: times, durations, JSON payloads cut to a readable size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

PAYLOAD_LIMIT = 10_000
"""Characters of a payload shown before it is cut (the rest is one click away)."""

PREVIEW_LIMIT = 160
"""Characters of a payload shown in a table cell."""

STATUS_ORDER = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class Payload:
    """A JSON value rendered as text, possibly cut."""

    text: str
    size: int
    cut: bool
    empty: bool


def to_json(value: Any, *, indent: bool = True) -> str:
    """The value as JSON text; values JSON cannot hold (never stored ones) fall back to repr."""
    option = orjson.OPT_INDENT_2 if indent else 0
    try:
        return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)


def payload(value: Any, *, limit: int | None = PAYLOAD_LIMIT) -> Payload:
    """Pretty JSON of ``value``, cut to ``limit`` characters (None: never cut)."""
    text = to_json(value)
    size = len(text)
    if limit is not None and size > limit:
        return Payload(text=text[:limit], size=size, cut=True, empty=value is None)
    return Payload(text=text, size=size, cut=False, empty=value is None)


def preview(value: Any, limit: int = PREVIEW_LIMIT) -> str:
    """Compact one-line JSON of ``value`` for a table cell, ending with an ellipsis when cut."""
    text = to_json(value, indent=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis in the middle."""
    if len(text) <= limit:
        return text
    if limit < 5:
        return text[:limit]
    head = (limit - 1) // 2 + (limit - 1) % 2
    tail = limit - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def format_size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def format_time(dt: datetime | None) -> str:
    """UTC wall time with milliseconds: ``2026-01-02 03:04:05.678``."""
    if dt is None:
        return "—"
    utc = dt.astimezone(UTC) if dt.tzinfo else dt
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def iso(dt: datetime | None) -> str:
    if dt is None:
        return ""
    utc = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return utc.isoformat().replace("+00:00", "Z")


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``840µs``, ``12ms``, ``1.25s``, ``3m 02s``, ``2h 05m``, ``3d 4h``."""
    if seconds is None:
        return "—"
    if seconds < 0:
        seconds = 0.0
    if seconds < 0.001:
        return f"{round(seconds * 1_000_000)}µs"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600}h"


def duration(start: datetime | None, end: datetime | None, now: datetime | None = None) -> str:
    """The time between ``start`` and ``end`` (or ``now`` while it lasts)."""
    if start is None:
        return "—"
    stop = end or now
    if stop is None:
        return "—"
    text = format_duration((stop - start).total_seconds())
    return text if end is not None else f"{text}…"


def ago(dt: datetime | None, now: datetime) -> str:
    """How long before ``now``: ``4s ago``."""
    if dt is None:
        return "never"
    return f"{format_duration(max(0.0, (now - dt).total_seconds()))} ago"


def error_summary(error: dict[str, Any] | None) -> str:
    """``Type: message`` of a stored error."""
    if not error:
        return ""
    kind = str(error.get("type") or "Error")
    message = str(error.get("message") or "")
    return f"{kind}: {message}" if message else kind


def status_counts_sorted(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Counts by status in lifecycle order, unknown statuses last."""
    known = [(s, counts[s]) for s in STATUS_ORDER if counts.get(s)]
    other = sorted((s, n) for s, n in counts.items() if s not in STATUS_ORDER and n)
    return known + other
