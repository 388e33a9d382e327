"""``python -m bench.targets DIR``: the issue 5 targets over a results directory's JSON lines, as
docs/performance.md quotes them (the range, the median, the runs that meet each target)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.targets import read_lines, summarize

ROOT = Path(__file__).resolve().parents[2]


def ours(workload: str, params: dict[str, Any], **figures: Any) -> dict[str, Any]:
    return {
        "system": "durablex",
        "backend": "sqlite",
        "durability": "full",
        "workload": workload,
        "params": params,
        "runner_count": 1,
        **figures,
    }


def raw(workload: str, rows_per_s: float) -> dict[str, Any]:
    return {
        "system": "sqlite3-raw",
        "backend": "sqlite",
        "durability": "full",
        "workload": workload,
        "params": {},
        "rows_per_s": rows_per_s,
    }


def write(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def line_of(summary: list[str], label: str) -> str:
    [line] = [text for text in summary if text.startswith(label + ":")]
    return line


def test_each_target_counts_the_runs_of_its_size_that_meet_it(tmp_path: Path) -> None:
    write(
        tmp_path / "a.jsonl",
        [
            raw("raw_commit_store_wal", 1000.0),
            raw("raw_engine_steps", 850.0),
            ours("seq", {"N": 1000}, ratio_to_adjacent_raw=0.95, ratio_to_raw=1.0),
            ours("seq", {"N": 1000}, ratio_to_adjacent_raw=0.85, ratio_to_raw=0.9),
            ours("seq", {"N": 20}, ratio_to_adjacent_raw=0.1, ratio_to_raw=0.1),  # not the size
            ours("latency", {"K": 200}, p50_ms=0.5, p99_ms=1.0, p50_in_raw_commits=2.5),
        ],
    )
    write(
        tmp_path / "b.jsonl",
        [
            raw("raw_commit_store_wal", 1000.0),
            raw("raw_engine_steps", 950.0),
            ours("seq", {"N": 1000}, ratio_to_adjacent_raw=1.05, ratio_to_raw=None),  # --no-raw
            ours("latency", {"K": 200}, p50_ms=0.5, p99_ms=2.0, p50_in_raw_commits=3.5),
            {**ours("seq", {"N": 1000}, ratio_to_adjacent_raw=0.2), "backend": "postgres"},
        ],
    )
    write(tmp_path / "sweep.jsonl", [ours("seq", {"N": 1000}, ratio_to_adjacent_raw=0.1)])
    (tmp_path / "before").mkdir()
    write(tmp_path / "before" / "c.jsonl", [ours("seq", {"N": 1000}, ratio_to_adjacent_raw=0.1)])

    summary = summarize(read_lines([tmp_path]))

    assert line_of(summary, "seq x adjacent raw") == (
        "seq x adjacent raw: 0.85-1.05 (median 0.95), meets the target in 2 of 3"
    )
    assert line_of(summary, "seq x raw_commit (start of run)") == (
        "seq x raw_commit (start of run): 0.9-1 (median 0.95), meets the target in 2 of 2"
    )
    assert line_of(summary, "floor (raw_engine_steps) x raw_commit_store_wal") == (
        "floor (raw_engine_steps) x raw_commit_store_wal: 0.85-0.95 (median 0.9),"
        " meets the target in 1 of 2"
    )
    assert line_of(summary, "latency p50 in raw commits").endswith("meets the target in 1 of 2")
    assert line_of(summary, "latency p99 / p50") == (
        "latency p99 / p50: 2-4 (median 3), meets the target in 1 of 2"
    )
    assert line_of(summary, "resume N=1000 ms") == "resume N=1000 ms: no run"

    postgres = summarize(read_lines([tmp_path], backend="postgres"))
    assert line_of(postgres, "seq x adjacent raw").endswith("meets the target in 0 of 1")
    skipped = summarize(read_lines([tmp_path], skip=["b.jsonl"]))
    assert line_of(skipped, "seq x adjacent raw").endswith("meets the target in 1 of 2")


def targets(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.targets", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_prints_the_summary_and_refuses_a_missing_directory(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", [ours("resume", {"N": 1000}, wall_s=0.0081)])
    done = targets(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "resume N=1000 ms: 8.1-8.1 (median 8.1), meets the target in 1 of 1" in done.stdout

    missing = tmp_path / "nowhere"
    done = targets(str(missing))
    assert done.returncode == 2
    assert f"not a directory: {missing}" in done.stderr
