"""The peer side of ``python -m bench --vs dbos``: DBOS Transact in its own virtual environment.

``ensure_venv()`` creates ``~/.cache/durablex-bench/dbos-venv`` (or ``$DURABLEX_BENCH_VENV``)
the first time and ``pip install``s dbos (and matplotlib, for ``bench/plot.py``) into it; the
project never depends on either. ``run_dbos()`` runs one workload with that venv's python in a
fresh process (``bench/dbos_worker.py``), and ``ratio_line()`` compares the two systems.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKER = HERE / "dbos_worker.py"
VENV = Path(
    os.environ.get("DURABLEX_BENCH_VENV") or Path.home() / ".cache" / "durablex-bench" / "dbos-venv"
)
PACKAGES = ("dbos", "matplotlib")

# the figure compared for each workload, and whether a higher value is better
COMPARED: dict[str, tuple[str, bool]] = {
    "seq": ("steps_per_s", True),
    "fanout": ("steps_per_s", True),
    "parallel": ("steps_per_s", True),
    "latency": ("p50_ms", False),
    "sleep": ("p99_ms", False),
    "event": ("wall_s", False),
    "parked": ("runs_per_s", True),
    "resume": ("wall_s", False),
}


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """The bench venv's python, with dbos importable (created on first use)."""
    py = python()
    if not py.exists():
        print(f"bench: creating {VENV} for DBOS (pip install dbos)", file=sys.stderr)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if subprocess.run([str(py), "-c", "import dbos, matplotlib"], capture_output=True).returncode:
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    return py


def run_dbos(
    workload: str, params: dict[str, Any], timeout: float, tmpdir: str | None, pg_url: str | None
) -> dict[str, Any]:
    cmd = [str(python()), str(WORKER), workload, "--params", json.dumps(params)]
    cmd += ["--timeout", str(timeout)]
    if tmpdir:
        cmd += ["--tmpdir", tmpdir]
    if pg_url:
        cmd += ["--pg-url", pg_url]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 120)
    except subprocess.TimeoutExpired as exc:
        return {"params": params, "error": f"timed out after {exc.timeout}s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return {
            "params": params,
            "error": f"dbos worker exited {done.returncode}",
            "stderr_tail": done.stderr[-3000:],
        }
    return json.loads(lines[-1])


def ratio_line(durablex: dict[str, Any], dbos: dict[str, Any]) -> dict[str, Any]:
    """durablex / dbos on the workload's main figure, oriented so that > 1 means Durablex is
    better (for a lower-is-better figure, the ratio is dbos / durablex)."""
    workload = durablex["workload"]
    key, higher_better = COMPARED[workload]
    out: dict[str, Any] = {
        "system": "durablex/dbos",
        "backend": durablex["backend"],
        "durability": durablex["durability"],
        "workload": workload,
        "figure": key,
        "durablex": durablex.get(key),
        "dbos": dbos.get(key),
    }
    a, b = durablex.get(key), dbos.get(key)
    if durablex.get("error") or dbos.get("error") or not a or not b:
        out["ratio"] = "n/a"
        out["reason"] = durablex.get("error") or dbos.get("error") or "a figure is missing/zero"
    else:
        out["ratio"] = round(a / b if higher_better else b / a, 2)
    out["direction"] = (
        f"{'durablex/dbos' if higher_better else 'dbos/durablex'} {key}: "
        "higher is better for durablex"
    )
    if a and b and durablex.get("steps_per_s") and dbos.get("steps_per_s"):
        out["steps_per_s_ratio"] = round(durablex["steps_per_s"] / dbos["steps_per_s"], 2)
    if durablex.get("peak_rss_mb") and dbos.get("peak_rss_mb"):
        out["rss_ratio_dbos_over_durablex"] = round(
            dbos["peak_rss_mb"] / durablex["peak_rss_mb"], 2
        )
    if durablex.get("params") != dbos.get("params"):
        out["params"] = {"durablex": durablex.get("params"), "dbos": dbos.get("params")}
    if dbos.get("note"):
        out["note"] = dbos["note"]
    if durablex.get("runner_count"):
        out["runners"] = durablex["runner_count"]
    return out


def scaling_line(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Durablex with more runner processes over Durablex with fewer, on the workload's main
    figure and on steps/s, oriented like ratio_line: > 1 means more runners did better."""
    workload = base["workload"]
    key, higher_better = COMPARED[workload]
    out: dict[str, Any] = {
        "system": "durablex-scaling",
        "backend": base["backend"],
        "durability": base["durability"],
        "workload": workload,
        "runners": f"{base.get('runner_count')} -> {more.get('runner_count')}",
        "figure": key,
        "base": base.get(key),
        "more": more.get(key),
    }
    a, b = base.get(key), more.get(key)
    if base.get("error") or more.get("error") or not a or not b:
        out["scaling"] = "n/a"
    else:
        out["scaling"] = round(b / a if higher_better else a / b, 2)
    if base.get("steps_per_s") and more.get("steps_per_s"):
        out["steps_per_s_scaling"] = round(more["steps_per_s"] / base["steps_per_s"], 2)
    return out
