from __future__ import annotations

from collections import OrderedDict
from datetime import date
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durablex.core.matching import json_equal, matches, normalize_match
from durablex.errors import SerializationError


def test_normalize_none() -> None:
    assert normalize_match(None) is None


def test_normalize_returns_plain_dict_of_json() -> None:
    source = MappingProxyType({"order_id": 42, "when": date(2026, 1, 1), "ids": (1, 2)})
    result = normalize_match(source)
    assert type(result) is dict
    assert result == {"order_id": 42, "when": "2026-01-01", "ids": [1, 2]}
    assert normalize_match(OrderedDict([("a.b.c", None)])) == {"a.b.c": None}
    assert normalize_match({}) == {}


@pytest.mark.parametrize("match", [[("a", 1)], "a=1", 42, {1, 2}])
def test_normalize_rejects_non_mappings(match: object) -> None:
    with pytest.raises(TypeError, match="invalid match"):
        normalize_match(match)


@pytest.mark.parametrize("key", [1, None, ("a",), b"a"])
def test_normalize_rejects_non_str_keys(key: object) -> None:
    with pytest.raises(TypeError) as info:
        normalize_match({key: 1})
    assert repr(key) in str(info.value)


@pytest.mark.parametrize("key", ["", ".", "a..b", ".a", "a.", "x" * 256])
def test_normalize_rejects_bad_paths(key: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_match({key: 1})
    assert repr(key)[:60] in str(info.value)


def test_normalize_accepts_255_char_path() -> None:
    key = "a" * 255
    assert normalize_match({key: 1}) == {key: 1}


def test_normalize_rejects_non_json_values_naming_the_key() -> None:
    with pytest.raises(TypeError) as info:
        normalize_match({"customer.tags": {"x"}})
    assert isinstance(info.value, SerializationError)
    assert "'customer.tags'" in str(info.value)
    assert "set" in str(info.value)


DATA = {
    "order_id": 42,
    "total": 9.5,
    "paid": True,
    "customer": {"id": "c1", "tier": None, "address": {"zip": "75001"}},
    "items": [{"sku": "A"}, {"sku": "B"}],
    "10": "ten",
}


@pytest.mark.parametrize(
    "match",
    [
        None,
        {},
        {"order_id": 42},
        {"order_id": 42.0},
        {"total": 9.5},
        {"paid": True},
        {"customer.id": "c1"},
        {"customer.tier": None},
        {"customer.address.zip": "75001"},
        {"customer.address": {"zip": "75001"}},
        {"items.1.sku": "B"},
        {"items.0": {"sku": "A"}},
        {"items": [{"sku": "A"}, {"sku": "B"}]},
        {"10": "ten"},
        {"order_id": 42, "customer.id": "c1"},
    ],
)
def test_matches(match: dict[str, Any] | None) -> None:
    assert matches(match, DATA)


@pytest.mark.parametrize(
    "match",
    [
        {"order_id": 43},
        {"order_id": "42"},
        {"paid": 1},
        {"paid": 1.0},
        {"order_id": True},
        {"customer.id": "c2"},
        {"customer.missing": None},
        {"customer.tier.x": None},
        {"customer.id.x": "c1"},
        {"items.2.sku": "A"},
        {"items.x": "A"},
        {"items.-1.sku": "B"},
        {"items.01x": "A"},
        {"customer.address": {"zip": "75001", "extra": 1}},
        {"customer.address": {}},
        {"items": [{"sku": "A"}]},
        {"items": {"0": {"sku": "A"}}},
        {"order_id": 42, "customer.id": "nope"},
        {"nothing": None},
    ],
)
def test_does_not_match(match: dict[str, Any]) -> None:
    assert not matches(match, DATA)


@pytest.mark.parametrize("data", [None, 5, "s", [], {}])
def test_paths_into_non_containers_do_not_match(data: Any) -> None:
    assert not matches({"a": 1}, data)
    assert matches({}, data)
    assert matches(None, data)


def test_json_equality_rules() -> None:
    assert json_equal(1, 1.0)
    assert json_equal([1, {"a": 2}], [1.0, {"a": 2.0}])
    assert json_equal(True, True)
    assert not json_equal(True, 1)
    assert not json_equal(1, True)
    assert not json_equal(0, False)
    assert not json_equal([True], [1])
    assert not json_equal({"a": False}, {"a": 0})
    assert not json_equal(None, 0)
    assert not json_equal("1", 1)
    assert not json_equal([1, 2], [1, 2, 3])
    assert not json_equal({"a": 1}, {"b": 1})
    assert not json_equal({}, [])
    assert not json_equal(2**53 + 1, float(2**53))


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="abcxyz.", max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


def _leaf_paths(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every (dotted path, value) reachable in ``data`` through keys without dots."""
    out: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        items = [(k, v) for k, v in data.items() if k and "." not in k]
    elif isinstance(data, list):
        items = [(str(i), v) for i, v in enumerate(data)]
    else:
        return out
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else key
        out.append((path, value))
        out.extend(_leaf_paths(value, path))
    return out


@given(json_values, st.data())
def test_a_match_derived_from_the_data_matches_it(data: Any, draw: st.DataObject) -> None:
    paths = _leaf_paths(data)
    if not paths:
        return
    chosen = draw.draw(st.lists(st.sampled_from(paths), max_size=5))
    match = normalize_match(dict(chosen))
    assert matches(match, data)


@given(json_values)
def test_json_equal_is_reflexive(value: Any) -> None:
    assert json_equal(value, value)
    assert matches({"v": value}, {"v": value})
