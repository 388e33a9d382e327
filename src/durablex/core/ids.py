"""ULIDs: 26-character ids that sort by creation time."""

from __future__ import annotations

import os
import threading
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_DECODE = {char: index for index, char in enumerate(ALPHABET)}
_RANDOM_BITS = 80
_RANDOM_LIMIT = 1 << _RANDOM_BITS
_MAX_MS = (1 << 48) - 1
_urandom = os.urandom  # a seam for tests


def encode_ulid(ms: int, random_part: int) -> str:
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"ULID timestamp {ms!r} is outside 0..2**48-1")
    if not 0 <= random_part < _RANDOM_LIMIT:
        raise ValueError("ULID random part is outside 0..2**80-1")
    value = (ms << _RANDOM_BITS) | random_part
    chars = []
    for _ in range(26):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid_timestamp_ms(ulid: str) -> int:
    """The millisecond timestamp encoded in ``ulid``."""
    if len(ulid) != 26:
        raise ValueError(f"not a ULID: {ulid!r}")
    value = 0
    for char in ulid.upper():
        digit = _DECODE.get(char)
        if digit is None:
            raise ValueError(f"not a ULID: {ulid!r}")
        value = (value << 5) | digit
    if value >> 128:
        raise ValueError(f"not a ULID: {ulid!r}")
    return value >> _RANDOM_BITS


class UlidGenerator:
    """Monotonic within one generator: ids made in the same (or an earlier, if the wall
    clock stepped back) millisecond reuse the last timestamp and increment the random part."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, ms: int) -> str:
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms
                random_part = self._last_random + 1
                if random_part >= _RANDOM_LIMIT:  # 2**80 ids in one ms: borrow the next ms
                    ms += 1
                    random_part = int.from_bytes(_urandom(10), "big")
            else:
                random_part = int.from_bytes(_urandom(10), "big")
            self._last_ms = ms
            self._last_random = random_part
        return encode_ulid(ms, random_part)


_GENERATOR = UlidGenerator()


def new_id() -> str:
    return _GENERATOR.new(time.time_ns() // 1_000_000)
