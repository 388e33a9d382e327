"""The JSON rules for stored values (step outputs and inputs, run outputs, event data)."""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson

from durablex.core.durations import show
from durablex.errors import SerializationError

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# The deepest nesting of containers stored: the most orjson writes, so that a value is stored
# or refused alike whether orjson alone encodes it or the rules' walk does (encode_form).
MAX_DEPTH = 254

# orjson's integer range: [-2**63, 2**64 - 1].
_MIN_INT = -(2**63)
_MAX_INT = 2**64 - 1
_MAX_PATH_CHARS = 120


def dumps(value: Any) -> bytes:
    """``orjson.dumps``, in a bytes object that owns only its length.

    orjson 3.12 and later (2026-08) hand back their write buffer without shrinking it: at least
    4 KB for any value, and containers reserve ahead (519 KB behind a 13.9 KB list here; see
    tests/core/test_serialization.py). Durablex keeps encoded values
    while a run is active (each step's record in its pass's journal, a held run's input), so a
    20,000-step run held 78 MB of buffers for 0.6 MB of JSON (docs/performance.md, "Encoded
    values that own only their length"). A two-part join always copies, into an allocation of
    the exact size; it costs about 0.25 us for a small value here.
    """
    return _owned(orjson.dumps(value))


def _owned(data: bytes) -> bytes:
    """A copy of orjson's output that owns only its length (see ``dumps``)."""
    return b"".join((data, b""))


class _NotJson(Exception):
    """Raised inside the walk; containers add their path segment while it unwinds.

    Building paths lazily keeps the common (valid) case free of string work.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: list[str] = []  # innermost first

    def where(self) -> str:
        path = "$" + "".join(reversed(self.segments))
        if len(path) > _MAX_PATH_CHARS:
            path = path[: _MAX_PATH_CHARS - 3] + "..."
        return f"{self.reason} at {path}"


def _type_name(value: object) -> str:
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _key_segment(key: str) -> str:
    if key.isidentifier():
        return f".{key}"
    return f"[{orjson.dumps(key).decode()}]"


def _walk(value: object, depth: int) -> Any:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if _MIN_INT <= value <= _MAX_INT:  # type: ignore[operator]
            return value
        raise _NotJson("integer out of the 64-bit range")
    if kind is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return value
        raise _NotJson(f"non-finite float {value!r}")
    if kind is dict:
        _check_depth(depth)
        return _walk_dict(value, depth)  # type: ignore[arg-type]
    if kind is list or kind is tuple:
        _check_depth(depth)
        return _walk_list(value, depth)  # type: ignore[arg-type]
    return _walk_other(value, depth)


def _check_depth(depth: int) -> None:
    """Each JSON object or array counts a level, as orjson counts them."""
    if depth >= MAX_DEPTH:
        raise _NotJson(f"nesting deeper than {MAX_DEPTH} levels (or a cycle)")


def _walk_dict(value: dict[Any, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            if isinstance(key, str):  # str subclasses, e.g. StrEnum members
                key = str.__str__(key)
            else:
                raise _NotJson(f"dict key {show(key)} of type {_type_name(key)} (keys must be str)")
        try:
            out[key] = _walk(item, depth + 1)
        except _NotJson as error:
            error.segments.append(_key_segment(key))
            raise
    return out


def _walk_list(value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
    out: list[Any] = []
    for index, item in enumerate(value):
        try:
            out.append(_walk(item, depth + 1))
        except _NotJson as error:
            error.segments.append(f"[{index}]")
            raise
    return out


def _walk_other(value: object, depth: int) -> Any:
    if isinstance(value, Enum):
        return _walk(value.value, depth)  # written as its value, at the member's level
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _walk(int(value), depth)
    if isinstance(value, float):
        return _walk(float(value), depth)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    _check_depth(depth)  # the rest are written as objects or arrays
    if isinstance(value, dict):
        return _walk_dict(value, depth)
    if isinstance(value, list | tuple):
        return _walk_list(value, depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            try:
                out[field.name] = _walk(getattr(value, field.name), depth + 1)
            except _NotJson as error:
                error.segments.append(_key_segment(field.name))
                raise
        return out
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):  # a pydantic v2 model
        try:
            dumped = dump(mode="json")
        except Exception as exc:
            raise _NotJson(
                f"value of type {_type_name(value)} (model_dump failed: {exc})"
            ) from None
        return _walk(dumped, depth + 1)
    raise _NotJson(f"value of type {_type_name(value)}")


def to_jsonable(value: object) -> Any:
    """Return ``value`` as plain JSON types (dict, list, str, int, float, bool, None)."""
    try:
        return _walk(value, 0)
    except _NotJson as error:
        raise SerializationError(f"value is not JSON: {error.where()}") from None


def _prefix(step_id: str | None, what: str) -> str:
    return f"step {step_id!r}: {what}" if step_id is not None else what


def encode(
    value: object,
    *,
    step_id: str | None = None,
    what: str = "output",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """Serialize ``value`` to JSON bytes, or raise ``SerializationError`` naming the step."""
    return encode_form(value, step_id=step_id, what=what, max_bytes=max_bytes)[0]


# With these options orjson refuses what the rules convert (dataclasses, datetimes and dates,
# subclasses of builtins; Decimals and models it refuses anyway), except enums and UUIDs, which
# it writes as the rules do.
_PLAIN_ONLY = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _plain(value: object, max_bytes: int) -> tuple[bytes, Any] | None:
    """``value``'s JSON and stored form, written by orjson alone, when nothing in it needs the
    rules' walk to be converted or refused and it is within ``max_bytes``; else None (the walk
    then names what is wrong). Most values are plain JSON, and from about a kilobyte this costs
    a third to a half of the walk (which is Python, element by element): orjson's encode, then
    its decode for the form."""
    try:
        data = orjson.dumps(value, option=_PLAIN_ONLY)
    except orjson.JSONEncodeError:
        return None
    if len(data) > max_bytes:
        return None  # not decoded: refused by the walk, after any of its own reasons
    form = orjson.loads(data)
    if b"null" in data and form != value:
        return None  # orjson writes NaN and the infinities as null; the walk refuses them
    return _owned(data), form


def encode_form(
    value: object,
    *,
    step_id: str | None = None,
    what: str = "output",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[bytes, Any]:
    """``encode``, and the value as it will come back from storage (new dicts and lists,
    nothing shared with ``value``), which a step hands back to its workflow: from orjson alone
    for plain JSON values (``_plain``), else from the walk that converts and checks."""
    plain = _plain(value, max_bytes)
    if plain is not None:
        return plain
    try:
        form = _walk(value, 0)
        data = dumps(form)
    except _NotJson as error:
        message = f"{_prefix(step_id, what)} is not JSON: {error.where()}"
        raise SerializationError(message, step_id=step_id) from None
    except orjson.JSONEncodeError as error:
        message = f"{_prefix(step_id, what)} is not JSON: {error}"
        raise SerializationError(message, step_id=step_id) from None
    if len(data) > max_bytes:
        message = (
            f"{_prefix(step_id, what)} is too large: {len(data)} bytes "
            f"(the limit is {max_bytes} bytes)"
        )
        raise SerializationError(message, step_id=step_id)
    return data, form


def decode(data: bytes | str | None) -> Any:
    if data is None:
        return None
    return orjson.loads(data)


def json_form(
    value: object,
    *,
    step_id: str | None = None,
    what: str = "output",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Any:
    """The value as it will come back from storage (tuples as lists, datetimes as strings...)."""
    return encode_form(value, step_id=step_id, what=what, max_bytes=max_bytes)[1]
