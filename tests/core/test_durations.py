from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durablex.core.durations import MAX_DURATION_MS, parse_duration, parse_seconds

UNITS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (500, 500.0),
        (1.5, 1.5),
        (0.0, 0.0),
        (timedelta(seconds=2), 2_000.0),
        (timedelta(microseconds=500), 0.5),
        (timedelta(0), 0.0),
        ("500ms", 500.0),
        ("10s", 10_000.0),
        ("5m", 300_000.0),
        ("1h", 3_600_000.0),
        ("2d", 172_800_000.0),
        ("1w", 604_800_000.0),
        ("1h30m", 5_400_000.0),
        ("1.5h", 5_400_000.0),
        ("2d12h", 216_000_000.0),
        ("30m1h", 5_400_000.0),
        ("1s1s", 2_000.0),
        (".5s", 500.0),
        ("0s", 0.0),
        ("1m1ms", 60_001.0),
        ("  10s  ", 10_000.0),
        ("1h 30m", 5_400_000.0),
    ],
)
def test_accepted_forms(value: object, expected: float) -> None:
    result = parse_duration(value)
    assert result == expected
    assert type(result) is float


def test_int_subclass_enum_is_accepted() -> None:
    import enum

    class Delay(enum.IntEnum):
        SHORT = 250

    assert parse_duration(Delay.SHORT) == 250.0


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.5,
        timedelta(seconds=-1),
        "",
        "   ",
        "10",
        "1.5",
        "x5",
        "5x",
        "5 s",
        "1H",
        "1S",
        "10sec",
        "1e3s",
        "1.s",
        "-5s",
        "+5s",
        "1h30",
        "h",
        "1h,30m",
        "١s",  # a non-ASCII digit
        True,
        False,
        math.nan,
        math.inf,
        -math.inf,
        101 * 366 * 86_400_000,
        "5300w",
        10**400,
        timedelta(days=365 * 101),
    ],
)
def test_rejected_values_raise_value_error_naming_value_and_forms(value: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value, what="sleep")
    message = str(info.value)
    assert repr(value)[:60] in message
    assert "for sleep" in message
    assert "'1h30m'" in message and "timedelta" in message and "milliseconds" in message


@pytest.mark.parametrize("value", [None, [], ["1s"], {}, b"1s", object(), {1, 2}])
def test_other_types_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError) as info:
        parse_duration(value, what="timeout")
    message = str(info.value)
    assert "for timeout" in message
    assert type(value).__name__ in message
    assert "'500ms'" in message


def test_message_matches_documented_example() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("x5", what="sleep")
    assert str(info.value) == (
        "invalid duration 'x5' for sleep: expected milliseconds (int/float >= 0), a "
        "datetime.timedelta, or a string like '500ms', '10s', '5m', '1h', '1h30m', '1.5h', "
        "'2d', '1w'"
    )


def test_missing_unit_is_explained() -> None:
    with pytest.raises(ValueError, match="missing unit"):
        parse_duration("10")


def test_huge_int_message_is_short() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(10**5000)
    assert len(str(info.value)) < 500


def test_limit_is_inclusive_at_100_years() -> None:
    assert parse_duration(MAX_DURATION_MS) == MAX_DURATION_MS
    with pytest.raises(ValueError, match="100 years"):
        parse_duration(MAX_DURATION_MS + 1)


parts = st.lists(
    st.tuples(st.integers(min_value=0, max_value=1000), st.sampled_from(sorted(UNITS))),
    min_size=1,
    max_size=6,
)


@given(parts)
def test_any_composition_parses_to_the_sum(items: list[tuple[int, str]]) -> None:
    text = "".join(f"{number}{unit}" for number, unit in items)
    expected = sum(number * UNITS[unit] for number, unit in items)
    assert parse_duration(text) == pytest.approx(expected)


@given(
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False),
    st.sampled_from(sorted(UNITS)),
)
def test_decimal_numbers(number: object, unit: str) -> None:
    text = f"{number}{unit}"
    assert parse_duration(text) == pytest.approx(float(str(number)) * UNITS[unit])


@given(st.floats(min_value=0, max_value=MAX_DURATION_MS))
def test_numbers_are_milliseconds(value: float) -> None:
    assert parse_duration(value) == value


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)))
def test_timedeltas(value: timedelta) -> None:
    assert parse_duration(value) == pytest.approx(value.total_seconds() * 1000)


@given(st.text(max_size=20))
def test_strings_either_parse_or_raise_value_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except ValueError as error:
        assert "invalid duration" in str(error)
    else:
        assert 0 <= result <= MAX_DURATION_MS


# parse_seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0.0),
        (5, 5.0),
        (0.25, 0.25),
        (timedelta(minutes=1), 60.0),
        (timedelta(milliseconds=1), 0.001),
    ],
)
def test_seconds_accepted(value: object, expected: float | None) -> None:
    assert parse_seconds(value, what="result timeout") == expected


@pytest.mark.parametrize(
    "value", [-1, -0.1, True, False, math.nan, math.inf, timedelta(seconds=-1), 10**12]
)
def test_seconds_rejected_with_value_error(value: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_seconds(value, what="result timeout")
    assert repr(value) in str(info.value)
    assert "result timeout" in str(info.value)
    assert "seconds" in str(info.value)


@pytest.mark.parametrize("value", ["10s", "10", [], object(), b"1"])
def test_seconds_rejects_strings_and_other_types_with_type_error(value: object) -> None:
    with pytest.raises(TypeError) as info:
        parse_seconds(value, what="result timeout")
    assert repr(value)[:40] in str(info.value)
    assert "seconds (int/float >= 0), a datetime.timedelta" in str(info.value)
