"""The benchmark suite as its users run it: ``python -m bench`` from the repository root.

Every workload runs at a tiny size, so these tests check what the suite reports (a JSON line
per workload with the figures and ratios docs/performance.md relies on, the raw limits of the
same invocation, the table, the DBOS side and its ratio lines), never how fast anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--N", "20", "--R", "20", "--S", "2", "--P", "10", "--K", "10", "--D", "0.2"]
RAW_SMALL = ["--raw-rows", "30", "--raw-batch-rows", "200"]
SQLITE_RAWS = {
    "raw_commit",
    "raw_batch",
    "raw_commit_normal",
    "raw_batch_normal",
    "raw_commit_ckpt256",
    "raw_commit_store_wal",
    "raw_engine_1step",
    "raw_engine_steps",
}

pytestmark = pytest.mark.slow


def run_bench(
    tmp_path: Path, *args: str, timeout: float = 600
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``python -m bench ARGS --out FILE --tmpdir TMP`` (``sweep`` takes both too), and the
    JSON lines it wrote to FILE."""
    out = tmp_path / "lines.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--out", str(out), "--tmpdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [json.loads(text) for text in out.read_text().splitlines()] if out.exists() else []
    return done, lines


def by_workload(lines: list[dict[str, Any]], system: str) -> dict[str, dict[str, Any]]:
    return {line["workload"]: line for line in lines if line.get("system") == system}


def test_every_workload_reports_its_figures_against_the_raw_limits_of_the_same_run(
    tmp_path: Path,
) -> None:
    done, lines = run_bench(tmp_path, *TINY, *RAW_SMALL)
    assert done.returncode == 0, done.stderr[-3000:]

    raws = by_workload(lines, "sqlite3-raw")
    assert set(raws) == SQLITE_RAWS
    assert raws["raw_commit"]["params"] == {"rows": 30, "batch": 1, "synchronous": "FULL"}
    assert raws["raw_batch"]["params"] == {"rows": 200, "batch": 100, "synchronous": "FULL"}
    assert raws["raw_commit_normal"]["params"]["synchronous"] == "NORMAL"
    for raw in raws.values():
        assert raw["rows_per_s"] > 0 and raw["commit_ms"] > 0

    ours = by_workload(lines, "durablex")
    expected_params = {  # every workload, in the suite's order
        "seq": {"N": 20},
        "fanout": {"R": 20, "S": 2},
        "parallel": {"P": 10},
        "latency": {"K": 10},
        "sleep": {"R": 20, "D": 0.2},
        "event": {"R": 20},
        "parked": {"R": 20},
        "resume": {"N": 20},
    }
    assert list(ours) == list(expected_params)
    raw_rate = raws["raw_commit"]["rows_per_s"]
    for workload, line in ours.items():
        assert "error" not in line, line
        assert line["params"] == expected_params[workload]
        assert (line["backend"], line["durability"]) == ("sqlite", "full")
        assert line["wall_s"] > 0 and line["peak_rss_mb"] > 0
        rate = line["steps_per_s"] or line["runs_per_s"]
        assert line["ratio_to_raw"] == pytest.approx(rate / raw_rate, rel=0.01, abs=0.002)
        store_wal = raws["raw_commit_store_wal"]["rows_per_s"]
        assert line["ratio_to_raw_store_wal"] == pytest.approx(
            rate / store_wal, rel=0.01, abs=0.002
        )
        adjacent = line["raw_commit_adjacent"]
        assert adjacent > 0
        assert line["ratio_to_adjacent_raw"] == pytest.approx(rate / adjacent, rel=0.01, abs=0.002)
        if line["p50_ms"] is not None:
            assert 0 <= line["p50_ms"] <= line["p99_ms"]
            in_commits = line["p50_ms"] / raws["raw_commit"]["commit_ms"]
            assert line["p50_in_raw_commits"] == pytest.approx(in_commits, rel=0.02, abs=0.01)

    # wall_s is rounded to 0.1 ms in the line, a few % of these tiny runs
    assert ours["seq"]["steps_per_s"] == pytest.approx(20 / ours["seq"]["wall_s"], rel=0.05)
    assert ours["seq"]["ratio_to_step_floor"] == pytest.approx(
        ours["seq"]["steps_per_s"] / raws["raw_engine_steps"]["rows_per_s"], rel=0.01, abs=0.002
    )
    assert ours["fanout"]["steps_per_s"] == pytest.approx(40 / ours["fanout"]["wall_s"], rel=0.05)
    assert ours["latency"]["floor_1step_ms"] == raws["raw_engine_1step"]["commit_ms"]
    assert ours["sleep"]["wall_s"] >= 0.2  # the durable sleep itself
    assert ours["sleep"]["late_min_ms"] <= ours["sleep"]["p50_ms"]
    assert ours["event"]["resumed"] == 20
    assert ours["event"]["waiters_before_send"] == 20
    assert ours["event"]["floor_event_s"] > 0
    assert ours["parked"]["runs_per_s"] == pytest.approx(20 / ours["parked"]["wall_s"], rel=0.05)
    assert ours["parked"]["runners"] == "1 process (its own)"  # its RSS is the runner's
    assert ours["resume"]["steps_in_journal"] >= 20

    # the short table on stderr names every workload and raw limit
    for name in [*ours, *SQLITE_RAWS]:
        assert name in done.stderr
    # and the page's tables come from the same file
    table = subprocess.run(
        [sys.executable, "-m", "bench.markdown", str(tmp_path / "lines.jsonl")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "single-row fsync'd commit" in table
    for workload, params in expected_params.items():
        shown = " ".join(f"{key}={value}" for key, value in params.items())
        who = "durablex, 1 runner process" if workload == "parked" else "durablex"
        assert f"| {workload} | {shown} | {who} |" in table


def test_process_durability_is_compared_with_raw_commits_of_the_same_setting(
    tmp_path: Path,
) -> None:
    done, lines = run_bench(tmp_path, "seq", "--durability", "process", "--N", "20", *RAW_SMALL)
    assert done.returncode == 0, done.stderr[-3000:]
    raws = by_workload(lines, "sqlite3-raw")
    seq = by_workload(lines, "durablex")["seq"]
    assert seq["durability"] == "process"
    normal = raws["raw_commit_normal"]["rows_per_s"]
    assert seq["ratio_to_raw_same_sync"] == pytest.approx(
        seq["steps_per_s"] / normal, rel=0.01, abs=0.002
    )
    assert "ratio_to_raw_store_wal" not in seq  # a full-durability reference only


def test_postgres_backend_measures_the_servers_own_raw_commits(tmp_path: Path) -> None:
    from pgtest import server_url

    url = server_url()
    done, lines = run_bench(
        tmp_path, "seq", "latency", "--backend", "postgres", "--pg-url", url, *TINY, *RAW_SMALL
    )
    assert done.returncode == 0, done.stderr[-3000:]
    raws = by_workload(lines, "sqlite3-raw")
    assert {"raw_pg_commit", "raw_pg_batch", "raw_pg_commit_async"} <= set(raws)
    ours = by_workload(lines, "durablex")
    assert set(ours) == {"seq", "latency"}
    for line in ours.values():
        assert line["backend"] == "postgres"
        rate = line["steps_per_s"]
        expected = rate / raws["raw_pg_commit"]["rows_per_s"]
        assert line["ratio_to_raw"] == pytest.approx(expected, rel=0.01, abs=0.002)


def test_two_runner_processes_share_a_burst_and_get_a_scaling_line(tmp_path: Path) -> None:
    # with N runners live a claim takes at most 500 / N runs: 600 at once cannot go to one
    done, lines = run_bench(
        tmp_path, "fanout", "--runners", "1", "2", "--R", "600", "--S", "1", "--no-raw"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    fanouts = [line for line in lines if line.get("system") == "durablex"]
    assert [line["runner_count"] for line in fanouts] == [1, 2]
    assert fanouts[0]["runners"] == "in-process"
    assert fanouts[1]["runners"] == "2 process(es)"
    split = fanouts[1]["runs_by_runner"]
    assert len(split) == 2 and min(split) > 0 and sum(split) == 600
    (scaling,) = by_workload(lines, "durablex-scaling").values()
    assert scaling["runners"] == "1 -> 2"
    assert scaling["scaling"] == pytest.approx(
        fanouts[1]["steps_per_s"] / fanouts[0]["steps_per_s"], rel=0.02
    )


def test_bad_arguments_are_refused_with_what_is_accepted(tmp_path: Path) -> None:
    done, _ = run_bench(tmp_path, "seqq", "--no-raw")
    assert done.returncode == 2
    assert "'seqq'" in done.stderr and "latency" in done.stderr

    done, _ = run_bench(tmp_path, "seq", "--runners", "0", "--no-raw")
    assert done.returncode == 2 and "--runners takes counts >= 1" in done.stderr

    unreachable = "postgresql://nobody:none@127.0.0.1:9/none"
    done, _ = run_bench(tmp_path, "seq", "--backend", "postgres", "--pg-url", unreachable)
    assert done.returncode != 0
    assert "no PostgreSQL server reachable at " + unreachable in done.stderr


# The first of these on a new machine creates the DBOS venv: pip downloads dbos and matplotlib.
INSTALL_TIMEOUT = 900


@pytest.mark.timeout(INSTALL_TIMEOUT)
def test_vs_dbos_alternates_the_two_systems_and_orients_each_ratio(tmp_path: Path) -> None:
    """DBOS Transact is installed from the package index into its own venv on first use."""
    done, lines = run_bench(
        tmp_path, "seq", "latency", "--vs", "dbos", *TINY, *RAW_SMALL, timeout=INSTALL_TIMEOUT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    order = [(line.get("system"), line["workload"]) for line in lines if "workload" in line]
    measured = [(system, workload) for system, workload in order if system != "sqlite3-raw"]
    assert measured[:2] == [("durablex", "seq"), ("dbos", "seq")]
    assert [w for s, w in measured if s == "dbos"] == ["seq", "latency"]
    ours, theirs = by_workload(lines, "durablex"), by_workload(lines, "dbos")
    for workload in ("seq", "latency"):
        assert "error" not in theirs[workload], theirs[workload]
        assert theirs[workload]["durability"] == "dbos-default"
    ratios = by_workload(lines, "durablex/dbos")
    assert ratios["seq"]["ratio"] == pytest.approx(
        ours["seq"]["steps_per_s"] / theirs["seq"]["steps_per_s"], rel=0.02
    )
    # a latency is better lower: the ratio is theirs over ours
    assert ratios["latency"]["ratio"] == pytest.approx(
        theirs["latency"]["p50_ms"] / ours["latency"]["p50_ms"], rel=0.02
    )
    assert "ratio (>1: durablex better)" in done.stderr


@pytest.mark.timeout(INSTALL_TIMEOUT)
def test_sweep_draws_throughput_against_concurrency(tmp_path: Path) -> None:
    # a PNG named as the --out file (lines.jsonl): the plot's points must not take its place
    png = tmp_path / "lines.png"
    done, points = run_bench(
        tmp_path,
        *("sweep", "--R", "1", "5", "--S", "2", "--durability", "full", "process"),
        *("--raw-rows", "30", "--plot", str(png)),
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    swept = sorted(
        (line["params"]["R"], line["durability"]) for line in points if line.get("sweep")
    )
    assert swept == [(1, "full"), (1, "process"), (5, "full"), (5, "process")]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
