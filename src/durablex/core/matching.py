"""``match=`` filters of ``wait_for_event``: dotted paths into event data and required values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from durablex.core.durations import show
from durablex.core.serialization import to_jsonable
from durablex.errors import SerializationError

MAX_PATH_CHARS = 255

_MISSING = object()


def normalize_match(match: object) -> dict[str, Any] | None:
    """Validate a ``match`` mapping and return it as a plain dict of JSON values."""
    if match is None:
        return None
    if not isinstance(match, Mapping):
        raise TypeError(
            f"invalid match {show(match)} of type {type(match).__name__}: expected a mapping "
            "of dotted paths to JSON values, e.g. {'order_id': 42} or {'customer.id': 'c1'}"
        )
    out: dict[str, Any] = {}
    for key, value in match.items():
        if not isinstance(key, str):
            raise TypeError(
                f"invalid match key {show(key)} of type {type(key).__name__}: "
                "expected a dotted path string such as 'customer.id'"
            )
        if not key or len(key) > MAX_PATH_CHARS or "" in key.split("."):
            raise ValueError(
                f"invalid match key {show(key)}: expected a non-empty dotted path such as "
                f"'customer.id' (no empty segments, at most {MAX_PATH_CHARS} characters)"
            )
        try:
            out[str.__str__(key)] = to_jsonable(value)
        except SerializationError as error:
            raise SerializationError(f"invalid match value for {key!r}: {error}") from None
    return out


def _resolve(data: Any, path: str) -> Any:
    current = data
    for segment in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(segment, _MISSING)
            if current is _MISSING:
                return _MISSING
        elif isinstance(current, list | tuple):
            if not (segment.isascii() and segment.isdigit()):
                return _MISSING
            index = int(segment)
            if index >= len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``True != 1`` but ``1 == 1.0``; containers compared deeply."""
    a_bool = isinstance(a, bool)
    if a_bool or isinstance(b, bool):
        return a_bool and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or len(a) != len(b):
            return False
        for key, value in a.items():
            other = b.get(key, _MISSING)
            if other is _MISSING or not json_equal(value, other):
                return False
        return True
    if isinstance(a, list | tuple):
        if not isinstance(b, list | tuple) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, Mapping | list | tuple | int | float):
        return False
    return type(a) is type(b) and bool(a == b)


def matches(match: Mapping[str, Any] | None, data: Any) -> bool:
    """True when every path of ``match`` resolves in ``data`` to a JSON-equal value."""
    if match is None:
        return True
    for path, required in match.items():
        found = _resolve(data, path)
        if found is _MISSING or not json_equal(found, required):
            return False
    return True
