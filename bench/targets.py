"""The issue 5 targets over the JSON lines of results directories:
``python -m bench.targets DIR [DIR ...] [--backend sqlite|postgres] [--skip FILE]``.

Reads every ``*.jsonl`` file directly in each DIR (not its subdirectories, where a results
directory keeps runs it does not count), but a sweep's (``sweep.jsonl``: other sizes, another
question) and those named by ``--skip``; counts the lines of one backend (SQLite unless told).
For each target, at the workload's size of the target (seq N=1000, event R=10,000, ...), prints
the range of the figure over all runs, its median, and in how many runs it meets the target; a
target no run measured says so.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Line = dict[str, Any]


@dataclass(frozen=True)
class Target:
    label: str
    values: Callable[[list[Line]], list[float]]
    met: Callable[[float], bool] | None = None


def read_lines(
    directories: Iterable[Path], *, backend: str = "sqlite", skip: Iterable[str] = ()
) -> list[Line]:
    left_out = {"sweep.jsonl", *skip}
    lines: list[Line] = []
    for directory in directories:
        for path in sorted(Path(directory).glob("*.jsonl")):
            if path.name not in left_out:
                lines += [json.loads(text) for text in path.read_text().splitlines() if text]
    return [line for line in lines if line.get("backend") == backend]


def ours(
    lines: list[Line],
    workload: str,
    durability: str = "full",
    runners: int | None = None,
    **params: Any,
) -> list[Line]:
    return [
        line
        for line in lines
        if line.get("system") == "durablex"
        and line["workload"] == workload
        and line["durability"] == durability
        and (runners is None or line.get("runner_count") == runners)
        and all(line["params"].get(key) == value for key, value in params.items())
    ]


def floor_ratios(lines: list[Line]) -> list[float]:
    """``raw_engine_steps`` over the ``raw_commit_store_wal`` measured just before it (the raw
    limits of one invocation come together, the store-WAL loop first)."""
    ratios = []
    store_wal: Line | None = None
    for line in lines:
        if line.get("system") != "sqlite3-raw":
            continue
        if line["workload"] == "raw_commit_store_wal":
            store_wal = line
        elif line["workload"] == "raw_engine_steps" and store_wal is not None:
            ratios.append(round(line["rows_per_s"] / store_wal["rows_per_s"], 3))
            store_wal = None
    return ratios


def _field(name: str, workload: str, **where: Any) -> Callable[[list[Line]], list[float]]:
    """The figure ``name`` of each run that has it (an invocation with ``--no-raw`` has no
    ratios to the raw limits, for one)."""
    return lambda lines: [
        line[name] for line in ours(lines, workload, **where) if line.get(name) is not None
    ]


def _dbos_ratio(workload: str) -> Callable[[list[Line]], list[float]]:
    return lambda lines: [
        line["ratio"]
        for line in lines
        if line.get("system") == "durablex/dbos" and line["workload"] == workload
    ]


def _p99_over_p50(lines: list[Line]) -> list[float]:
    return [round(line["p99_ms"] / line["p50_ms"], 2) for line in ours(lines, "latency", K=200)]


def _at_least(bound: float) -> Callable[[float], bool]:
    return lambda value: value >= bound


def _at_most(bound: float) -> Callable[[float], bool]:
    return lambda value: value <= bound


TARGETS = [
    Target(
        "seq x raw_commit (start of run)", _field("ratio_to_raw", "seq", N=1000), _at_least(0.9)
    ),
    Target("seq x adjacent raw", _field("ratio_to_adjacent_raw", "seq", N=1000), _at_least(0.9)),
    Target(
        "seq x raw_commit_store_wal",
        _field("ratio_to_raw_store_wal", "seq", N=1000),
        _at_least(0.9),
    ),
    Target("seq x its floor (raw_engine_steps)", _field("ratio_to_step_floor", "seq", N=1000)),
    Target("floor (raw_engine_steps) x raw_commit_store_wal", floor_ratios, _at_least(0.9)),
    Target(
        "seq process steps/s",
        _field("steps_per_s", "seq", durability="process"),
        _at_least(5000),
    ),
    *(
        Target(
            f"fanout steps/s, {n} runner(s)",
            _field("steps_per_s", "fanout", runners=n, R=500, S=10),
            _at_least(10_000),
        )
        for n in (1, 2)
    ),
    Target("fanout x DBOS", _dbos_ratio("fanout"), _at_least(30)),
    Target(
        "latency p50 in raw commits",
        _field("p50_in_raw_commits", "latency", K=200),
        _at_most(3),
    ),
    Target("latency p99 / p50", _p99_over_p50, _at_most(3)),
    *(
        Target(
            f"event R=10,000 wall_s, {n} runner(s)",
            _field("wall_s", "event", runners=n, R=10_000),
            _at_most(1),
        )
        for n in (1, 2)
    ),
    *(
        Target(
            f"sleep R=10,000 p99 ms, {n} runner(s)",
            _field("p99_ms", "sleep", runners=n, R=10_000),
            _at_most(50),
        )
        for n in (1, 2)
    ),
    Target(
        "parked R=100,000 peak RSS MB", _field("peak_rss_mb", "parked", R=100_000), _at_most(300)
    ),
    Target(
        "resume N=1000 ms",
        lambda lines: [round(line["wall_s"] * 1000, 1) for line in ours(lines, "resume", N=1000)],
        lambda value: value < 50,
    ),
]


def summarize(lines: list[Line]) -> list[str]:
    out = []
    for target in TARGETS:
        values = target.values(lines)
        if not values:
            out.append(f"{target.label}: no run")
            continue
        text = (
            f"{target.label}: {min(values):g}-{max(values):g}"
            f" (median {statistics.median(values):g})"
        )
        if target.met is not None:
            met = sum(1 for value in values if target.met(value))
            text += f", meets the target in {met} of {len(values)}"
        out.append(text)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.targets", description=__doc__)
    parser.add_argument("directories", nargs="+", type=Path, metavar="DIR")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--skip", action="append", default=[], metavar="FILE", help="a .jsonl file to leave out"
    )
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.directories if not d.is_dir()]
    if missing:
        parser.error(f"not a directory: {', '.join(missing)}")
    lines = read_lines(args.directories, backend=args.backend, skip=args.skip)
    print("\n".join(summarize(lines)))


if __name__ == "__main__":
    main()
