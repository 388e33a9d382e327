"""The issue 5 targets over every JSON line of this directory: ``python summary.py`` (from here).

Prints, per target, the range of the figure over all runs and how many runs meet the target.
The seq runs of the engine before 7621b3e, in ``before/``, are left out.
"""

import json
import statistics
from pathlib import Path

lines = []
for path in sorted(Path(__file__).parent.glob("*.jsonl")):
    if path.name == "sweep.jsonl":
        continue
    lines += [json.loads(text) for text in path.read_text().splitlines()]
ratios = [d for d in lines if d.get("system") == "durablex/dbos"]
raws = [d for d in lines if d.get("system") == "sqlite3-raw"]
ours = [d for d in lines if d.get("system") == "durablex"]


def show(name, values, ok=None):
    text = f"{name}: {min(values):g}-{max(values):g} (median {statistics.median(values):g})"
    if ok is not None:
        text += f", meets the target in {sum(1 for v in values if ok(v))} of {len(values)}"
    print(text)


def of(workload, durability="full", runners=None, **params):
    return [
        d
        for d in ours
        if d["workload"] == workload
        and d["durability"] == durability
        and (runners is None or d.get("runner_count") == runners)
        and all(d["params"].get(k) == v for k, v in params.items())
    ]


seq = of("seq", N=1000)
show("seq x raw_commit (start of run)", [d["ratio_to_raw"] for d in seq], lambda v: v >= 0.9)
show("seq x adjacent raw", [d["ratio_to_adjacent_raw"] for d in seq], lambda v: v >= 0.9)
show("seq x raw_commit_store_wal", [d["ratio_to_raw_store_wal"] for d in seq], lambda v: v >= 0.9)
show("seq x its floor (raw_engine_steps)", [d["ratio_to_step_floor"] for d in seq])
by_name = {}
for d in raws:
    by_name.setdefault(d["workload"], []).append(d)
floor = [
    f["rows_per_s"] / w["rows_per_s"]
    for f, w in zip(by_name["raw_engine_steps"], by_name["raw_commit_store_wal"], strict=True)
]
show(
    "floor (raw_engine_steps) x raw_commit_store_wal",
    [round(v, 3) for v in floor],
    lambda v: v >= 0.9,
)
show("seq process steps/s", [d["steps_per_s"] for d in of("seq", "process")], lambda v: v >= 5000)
for n in (1, 2):
    show(
        f"fanout steps/s, {n} runner(s)",
        [d["steps_per_s"] for d in of("fanout", runners=n)],
        lambda v: v >= 10000,
    )
show(
    "fanout x DBOS",
    [d["ratio"] for d in ratios if d["workload"] == "fanout"],
    lambda v: v >= 30,
)
lat = of("latency")
show("latency p50 in raw commits", [d["p50_in_raw_commits"] for d in lat], lambda v: v <= 3)
show("latency p99 / p50", [round(d["p99_ms"] / d["p50_ms"], 2) for d in lat], lambda v: v <= 3)
for n in (1, 2):
    show(
        f"event R=10,000 wall_s, {n} runner(s)",
        [d["wall_s"] for d in of("event", runners=n, R=10000)],
        lambda v: v <= 1,
    )
    show(
        f"sleep R=10,000 p99 ms, {n} runner(s)",
        [d["p99_ms"] for d in of("sleep", runners=n, R=10000)],
        lambda v: v <= 50,
    )
show(
    "parked R=100,000 peak RSS MB",
    [d["peak_rss_mb"] for d in of("parked", R=100000)],
    lambda v: v < 300,
)
show("resume N=1000 ms", [round(d["wall_s"] * 1000, 1) for d in of("resume")], lambda v: v < 50)
