"""The time of ``encode_form`` (every step output and input, run output, event data) for values
of several sizes, on the engine checked out where this runs (best of 7 rounds, µs a value).

    cd TREE && PYTHONPATH=TREE/src python $MAIN/bench/results/2026-11-30-plain-json/encode.py

"with nulls" values hold a None in every record, which orjson writes as it writes NaN, so the
plain path also compares the decoded form with the value (``durablex.core.serialization``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import orjson

import durablex
from durablex.core.serialization import encode_form


def record(i: int, null: bool) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"item {i}",
        "price": i * 1.5,
        "tags": ["a", "b"],
        "note": None if null else "n",
    }


def values() -> dict[str, Any]:
    out: dict[str, Any] = {"{'i': 1}": {"i": 1}}
    for n in (1, 20, 150, 15_000):
        for null in (False, True):
            out[f"{n} records{' with nulls' if null else ''}"] = [record(i, null) for i in range(n)]
    return out


def best_us(value: Any) -> float:
    size = len(orjson.dumps(value))
    loops = max(3, min(20_000, 2_000_000 // (size + 100)))
    best = float("inf")
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(loops):
            encode_form(value)
        best = min(best, (time.perf_counter() - t0) / loops)
    return best * 1e6


def main() -> None:
    tree = durablex.__file__.split("/src/")[0]
    for name, value in values().items():
        line = {"tree": tree, "value": name, "bytes": len(orjson.dumps(value))}
        line["encode_form_us"] = round(best_us(value), 2)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
