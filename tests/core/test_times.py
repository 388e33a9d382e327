from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durablex.core.times import (
    datetime_to_us,
    now_us,
    parse_instant,
    us_to_datetime,
    us_to_iso,
)

NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOON_US = 1_767_268_800_000_000


def test_reference_instant() -> None:
    assert datetime_to_us(NOON) == NOON_US


@pytest.mark.parametrize(
    "value",
    [
        NOON,
        datetime(2026, 1, 1, 12, 0),  # naive = UTC
        datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        "2026-01-01T12:00:00Z",
        "2026-01-01T12:00:00z",
        "2026-01-01T12:00:00+00:00",
        "2026-01-01T12:00:00",  # no offset = UTC
        "2026-01-01T07:00:00-05:00",
        "2026-01-01 12:00:00Z",
        "  2026-01-01T12:00:00Z  ",
        "2026-01-01T12:00:00.000Z",
        NOON_US // 1000,  # epoch ms
        float(NOON_US // 1000),
    ],
)
def test_accepted_forms(value: object) -> None:
    assert parse_instant(value) == NOON_US


def test_date_only_string_and_date_object_are_midnight_utc() -> None:
    midnight = datetime_to_us(datetime(2026, 1, 1, tzinfo=UTC))
    assert parse_instant("2026-01-01") == midnight
    assert parse_instant(date(2026, 1, 1)) == midnight


def test_fractional_milliseconds_and_microseconds() -> None:
    assert parse_instant(1.5) == 1500
    assert parse_instant(0) == 0
    assert parse_instant(-1000) == -1_000_000  # before 1970 is still an instant
    assert parse_instant("2026-11-25T17:46:59.123456Z") % 1_000_000 == 123_456


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nope",
        "2026-13-01",
        "2026-01-01T25:00:00Z",
        "tomorrow",
        "1h",
        "12345",
        math.nan,
        math.inf,
        -math.inf,
        10**20,
        1e300,
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_bad_values_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_instant(value, what="sleep_until")
    message = str(info.value)
    assert repr(value)[:40] in message
    assert "sleep_until" in message
    assert "ISO-8601" in message and "epoch milliseconds" in message


@pytest.mark.parametrize("value", [None, True, False, [], {}, b"2026-01-01", object()])
def test_bad_types_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError) as info:
        parse_instant(value, what="deadline")
    assert repr(value) in str(info.value)
    assert "deadline" in str(info.value)
    assert "datetime" in str(info.value)


def test_now_us_is_the_wall_clock() -> None:
    before = time.time_ns() // 1000
    current = now_us()
    after = time.time_ns() // 1000
    assert before <= current <= after


def test_us_to_datetime_is_aware_utc() -> None:
    dt = us_to_datetime(NOON_US + 7)
    assert dt == NOON + timedelta(microseconds=7)
    assert dt.utcoffset() == timedelta(0)


def test_us_to_iso() -> None:
    base = datetime_to_us(datetime(2026, 11, 25, 17, 46, 59, tzinfo=UTC))
    assert us_to_iso(base) == "2026-11-25T17:46:59Z"
    assert us_to_iso(base + 123_456) == "2026-11-25T17:46:59.123456Z"
    assert us_to_iso(base + 1) == "2026-11-25T17:46:59.000001Z"
    assert us_to_iso(0) == "1970-01-01T00:00:00Z"


def test_naive_datetime_is_utc_not_local() -> None:
    naive = datetime(2026, 6, 1, 3, 4, 5)
    assert datetime_to_us(naive) == datetime_to_us(naive.replace(tzinfo=UTC))


aware = st.datetimes(
    min_value=datetime(1000, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone.min]),
)


@given(aware)
def test_datetime_round_trip(dt: datetime) -> None:
    us = parse_instant(dt)
    assert us_to_datetime(us) == dt
    assert parse_instant(us_to_iso(us)) == us
    assert parse_instant(dt.isoformat()) == us


@given(st.integers(min_value=-(10**13), max_value=10**14))
def test_epoch_ms_round_trip(ms: int) -> None:
    us = parse_instant(ms)
    assert us == ms * 1000
    assert datetime_to_us(us_to_datetime(us)) == us


@given(st.integers(min_value=0, max_value=10**17))
def test_iso_microseconds_only_when_non_zero(us: int) -> None:
    text = us_to_iso(us)
    assert text.endswith("Z")
    assert ("." in text) == (us % 1_000_000 != 0)
    assert parse_instant(text) == us
