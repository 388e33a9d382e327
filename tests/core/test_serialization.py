from __future__ import annotations

import dataclasses
import enum
import math
import tracemalloc
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from durablex.core.serialization import (
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    decode,
    dumps,
    encode,
    encode_form,
    json_form,
    to_jsonable,
)
from durablex.errors import SerializationError


class Color(enum.Enum):
    RED = "red"
    PAIR = (1, 2)


class Level(enum.IntEnum):
    HIGH = 3


class Kind(enum.StrEnum):
    A = "a"


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str = "p"


@dataclasses.dataclass
class Shape:
    points: list[Point]
    when: datetime
    tags: Any = None


class FakeModel:
    """Duck-typed stand-in for a pydantic v2 model."""

    def __init__(self, **fields: Any) -> None:
        self.fields = fields
        self.calls: list[dict[str, Any]] = []

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return dict(self.fields)


class BrokenModel:
    def model_dump(self, **kwargs: Any) -> Any:
        raise RuntimeError("cannot dump")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1, "b": "x"}, {"a": 1, "b": "x"}),
        ([1, 2.5, True, None, "s"], [1, 2.5, True, None, "s"]),
        ((1, (2, 3)), [1, [2, 3]]),
        ({"nested": {"t": (1,)}}, {"nested": {"t": [1]}}),
        (datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "2026-01-01T12:00:00+00:00"),
        (datetime(2026, 1, 1, 12, 0), "2026-01-01T12:00:00"),
        (date(2026, 1, 1), "2026-01-01"),
        (UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (Decimal("1.10"), "1.10"),
        (Color.RED, "red"),
        (Color.PAIR, [1, 2]),
        (Level.HIGH, 3),
        ({Kind.A: Kind.A}, {"a": "a"}),
        (Point(1, 2.0), {"x": 1, "y": 2.0, "label": "p"}),
        (
            Shape([Point(0, 0.5)], datetime(2026, 1, 1), (1,)),
            {
                "points": [{"x": 0, "y": 0.5, "label": "p"}],
                "when": "2026-01-01T00:00:00",
                "tags": [1],
            },
        ),
        (FakeModel(a=1, b=[1, 2]), {"a": 1, "b": [1, 2]}),
        (2**64 - 1, 2**64 - 1),
        (-(2**63), -(2**63)),
        (-0.0, -0.0),
        ("", ""),
    ],
)
def test_to_jsonable_accepted(value: object, expected: Any) -> None:
    result = to_jsonable(value)
    assert result == expected
    assert orjson.loads(orjson.dumps(result)) == expected


def test_exact_types_are_returned() -> None:
    result = to_jsonable({Kind.A: [Level.HIGH, Kind.A]})
    key = next(iter(result))
    assert type(key) is str
    assert type(result[key][0]) is int
    assert type(result[key][1]) is str


def test_pydantic_models_are_dumped_in_json_mode() -> None:
    model = FakeModel(a=1)
    to_jsonable(model)
    assert model.calls == [{"mode": "json"}]


def test_model_dump_output_is_checked_too() -> None:
    with pytest.raises(SerializationError, match=r"value of type set at \$\.bad"):
        to_jsonable(FakeModel(bad={1}))


def test_model_dump_failure_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="cannot dump"):
        to_jsonable(BrokenModel())


def test_dataclass_class_itself_is_not_json() -> None:
    with pytest.raises(SerializationError, match="type"):
        to_jsonable(Point)


@pytest.mark.parametrize(
    ("value", "type_name", "path"),
    [
        ({1, 2}, "set", "$"),
        ({"tags": {1}}, "set", "$.tags"),
        ({"items": [1, 2, {3}]}, "set", "$.items[2]"),
        (b"raw", "bytes", "$"),
        ({"a": [{"b": object()}]}, "object", "$.a[0].b"),
        ({"f": len}, "builtin_function_or_method", "$.f"),
        ({"a b": frozenset()}, "frozenset", '$["a b"]'),
        (
            [Point(1, 2.0), Shape([Point(1, math.nan)], datetime(2026, 1, 1))],
            "nan",
            "$[1].points[0].y",
        ),
        ({"x": math.inf}, "inf", "$.x"),
        ({"x": -math.inf}, "-inf", "$.x"),
        ({"big": 2**64}, "64-bit", "$.big"),
        ({"small": -(2**63) - 1}, "64-bit", "$.small"),
        ({"c": 1j}, "complex", "$.c"),
        ({"k": {1: "x"}}, "int", "$.k"),
        ({"k": {(1, 2): "x"}}, "tuple", "$.k"),
        ({"k": {None: "x"}}, "NoneType", "$.k"),
    ],
)
def test_not_json(value: object, type_name: str, path: str) -> None:
    with pytest.raises(SerializationError) as info:
        to_jsonable(value)
    message = str(info.value)
    assert type_name in message
    assert message.endswith(f"at {path}")
    assert isinstance(info.value, TypeError)


def test_user_class_is_named_with_its_module() -> None:
    class Custom:
        pass

    with pytest.raises(SerializationError, match=r"test_serialization\..*Custom at \$\.c"):
        to_jsonable({"c": Custom()})


def test_cycles_and_deep_nesting_are_errors() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(SerializationError, match="cycle"):
        to_jsonable(cyclic)
    d: dict[str, Any] = {}
    d["self"] = d
    with pytest.raises(SerializationError, match=f"deeper than {MAX_DEPTH}"):
        encode(d)
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    with pytest.raises(SerializationError, match=f"deeper than {MAX_DEPTH}"):
        to_jsonable(deep)


def nested(levels: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("leaf", [1, date(2026, 1, 1)], ids=["plain", "converted"])
def test_the_nesting_limit_is_the_same_for_every_value(leaf: Any) -> None:
    """Plain JSON is written by orjson alone, a value with something to convert by the rules'
    walk: both store MAX_DEPTH levels of containers and refuse one more."""
    deep = nested(MAX_DEPTH, leaf)
    assert decode(encode(deep)) == nested(MAX_DEPTH, to_jsonable(leaf))
    with pytest.raises(SerializationError, match=f"deeper than {MAX_DEPTH}"):
        encode(nested(MAX_DEPTH + 1, leaf))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_float_is_refused_beside_a_null(bad: float) -> None:
    """orjson writes NaN and the infinities as null: a value that holds a null as well must
    still be refused, with the float's path."""
    with pytest.raises(SerializationError, match=r"non-finite float .* at \$\.b\[1\]"):
        encode({"a": None, "b": [None, bad]}, step_id="s")


def test_encode_names_step_and_what() -> None:
    with pytest.raises(SerializationError) as info:
        encode({"tags": {"a"}}, step_id="charge")
    assert str(info.value) == "step 'charge': output is not JSON: value of type set at $.tags"
    assert info.value.step_id == "charge"

    with pytest.raises(SerializationError) as info:
        encode([b"x"], what="input")
    assert str(info.value) == "input is not JSON: value of type bytes at $[0]"
    assert info.value.step_id is None


def test_encode_size_limit() -> None:
    value = {"s": "x" * 100}
    size = len(orjson.dumps(value))
    assert encode(value, max_bytes=size) == orjson.dumps(value)
    with pytest.raises(SerializationError) as info:
        encode(value, step_id="big", what="output", max_bytes=size - 1)
    message = str(info.value)
    assert "step 'big'" in message and "output" in message
    assert f"{size} bytes" in message and f"{size - 1} bytes" in message
    assert info.value.step_id == "big"


def test_default_limit_is_4_mib() -> None:
    assert DEFAULT_MAX_BYTES == 4 * 1024 * 1024
    encode("x" * (DEFAULT_MAX_BYTES - 2))
    with pytest.raises(SerializationError, match="too large"):
        encode("x" * (DEFAULT_MAX_BYTES - 1))


def test_orjson_errors_become_serialization_errors() -> None:
    with pytest.raises(SerializationError, match="step 's'"):
        encode({"bad": "\ud800"}, step_id="s")


def test_decode() -> None:
    assert decode(None) is None
    assert decode(b'{"a":[1,2.5,null]}') == {"a": [1, 2.5, None]}
    assert decode('"x"') == "x"
    assert decode(b"null") is None


def test_encode_form_shares_no_container_with_the_value() -> None:
    inner = [1, {"k": [2]}]
    value = {"list": inner, "tuple": (inner,), "p": Point(1, 2.0)}
    data, form = encode_form(value)
    assert form == decode(data)
    inner.append(3)
    inner[1]["k"].append(4)  # type: ignore[index]
    assert form == decode(data), "the form must not change with the caller's objects"
    form["list"].append("x")
    assert value["list"] is inner and inner == [1, {"k": [2, 4]}, 3]


def test_json_form_is_the_stored_form() -> None:
    value = {"t": (1, 2), "when": date(2026, 1, 1), "p": Point(1, 2.0)}
    assert json_form(value) == {
        "t": [1, 2],
        "when": "2026-01-01",
        "p": {"x": 1, "y": 2.0, "label": "p"},
    }
    with pytest.raises(SerializationError, match="step 'j'"):
        json_form({1}, step_id="j")


json_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=["Cs"])), children, max_size=5
        )
    ),
    max_leaves=30,
)


@given(json_values)
def test_to_jsonable_output_round_trips_through_orjson(value: Any) -> None:
    normalized = to_jsonable(value)
    assert orjson.loads(orjson.dumps(normalized)) == normalized
    assert to_jsonable(normalized) == normalized  # idempotent
    assert json_form(value) == normalized
    assert decode(encode(value)) == normalized
    data, form = encode_form(value)
    assert data == encode(value)
    assert form == decode(data) == normalized


rule_values = st.recursive(
    json_values
    | st.floats()
    | st.sampled_from(
        [Color.RED, Color.PAIR, Level.HIGH, Kind.A, UUID(int=7), Decimal("2.50"), Point(1, 0.5)]
    )
    | st.datetimes()
    | st.dates()
    | st.sampled_from([set(), b"", 1j, 2**64, -(2**63) - 1]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children)
        | st.dictionaries(st.sampled_from(["a", "b", Kind.A, 1]), children, max_size=3)
    ),
    max_leaves=12,
)


@given(rule_values)
def test_encode_stores_what_the_rules_say_for_any_value(value: Any) -> None:
    """Whichever way a value is encoded (orjson alone for plain JSON, the rules' walk for the
    rest), it is stored as ``to_jsonable`` says, or refused where ``to_jsonable`` refuses it."""
    try:
        expected = to_jsonable(value)
        orjson.dumps(expected)
    except (SerializationError, orjson.JSONEncodeError):
        with pytest.raises(SerializationError):
            encode_form(value)
        return
    data, form = encode_form(value)
    assert data == orjson.dumps(expected)
    assert form == expected


@given(json_values, st.sampled_from([set(), b"", object(), math.nan, 1j]))
def test_a_bad_leaf_anywhere_is_found(value: Any, bad: object) -> None:
    with pytest.raises(SerializationError):
        to_jsonable({"wrapper": [value, bad]})


@pytest.mark.parametrize("value", [{"i": 1}, "x" * 5000, list(range(3000))])
def test_encoded_values_own_only_their_length(value: Any) -> None:
    """The bytes kept for a step's input or output take their own length, not the encoder's
    write buffer (orjson 3.12 and later return at least 4 KB behind any value)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [dumps(value) for _ in range(100)] + [encode(value) for _ in range(100)]
        per_value = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert kept[0] == kept[-1] == orjson.dumps(value)
    assert per_value < len(kept[0]) + 100, f"{per_value:.0f} bytes for {len(kept[0])} of JSON"
