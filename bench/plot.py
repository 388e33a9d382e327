"""Plot steps/s against concurrency from sweep lines (``python -m bench sweep --out FILE``).

Run by the bench venv's python (it has matplotlib; the project does not depend on it):

    ~/.cache/durablex-bench/dbos-venv/bin/python bench/plot.py sweep.jsonl out.png

One series per (system, durability); repeated points are reduced to their median.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LABELS = {
    ("durablex", "full"): "Durablex, durability=full (fsync per commit)",
    ("durablex", "process"): "Durablex, durability=process (synchronous=NORMAL)",
    ("dbos", "dbos-default"): "DBOS Transact, defaults (SQLite)",
}


def main(src: str, png: str) -> None:
    series: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    backend = "sqlite"
    with open(src) as fh:
        lines = [json.loads(text) for text in fh if text.strip()]
    for o in lines:
        if o.get("workload") != "fanout" or not o.get("steps_per_s"):
            continue
        backend = o["backend"]
        series[(o["system"], o["durability"])][o["params"]["R"]].append(o["steps_per_s"])
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for key, points in sorted(series.items()):
        rs = sorted(points)
        ax.plot(
            rs,
            [statistics.median(points[r]) for r in rs],
            marker="o",
            label=LABELS.get(key, str(key)),
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrency: runs started at once (R), 10 sequential no-op steps each")
    ax.set_ylabel("steps completed per second")
    ax.set_title(f"fanout throughput against concurrency ({backend}, 2-core VM)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
