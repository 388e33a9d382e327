"""The JSON line of benchmarks.md, the ratios to the physical limits, and the human table."""

from __future__ import annotations

import json
from typing import Any

KEYS = (
    "system",
    "backend",
    "durability",
    "workload",
    "params",
    "wall_s",
    "steps_per_s",
    "runs_per_s",
    "p50_ms",
    "p99_ms",
    "peak_rss_mb",
)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if abs(value) < 10 else round(value, 1)
    return value


def line(
    backend: str, durability: str, workload: str, figures: dict[str, Any], system: str = "durablex"
) -> dict[str, Any]:
    """The benchmarks.md shape first, then any extra keys the workload returned."""
    out: dict[str, Any] = {
        "system": system,
        "backend": backend,
        "durability": durability,
        "workload": workload,
    }
    for key in KEYS[4:]:
        out[key] = _round(figures.get(key))
    for key, value in figures.items():
        if key not in out:
            out[key] = _round(value)
    return out


def raw_line(backend: str, durability: str, name: str, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "system": "sqlite3-raw",
        "backend": backend,
        "durability": durability,
        "workload": name,
        "params": {"rows": raw["rows"], "batch": raw["batch"], "synchronous": raw["synchronous"]},
        "wall_s": raw["wall_s"],
        "steps_per_s": None,
        "runs_per_s": None,
        "p50_ms": None,
        "p99_ms": None,
        "peak_rss_mb": None,
        "rows_per_s": raw["rows_per_s"],
        "commits_per_s": raw["commits_per_s"],
        "commit_ms": raw["commit_ms"],
        **{k: v for k, v in raw.items() if k.endswith("_ms") and k != "commit_ms"},
    }


def add_ratios(out: dict[str, Any], raws: dict[str, dict[str, Any]], durability: str) -> None:
    """Ratios to the raw rates of this run.

    ratio_to_raw: the workload's rate (steps_per_s, or runs_per_s when it has no steps rate)
    divided by the raw fsync'd single-row commit rate (synchronous=FULL, 1 row per commit).
    ratio_to_raw_batch: the same rate over the raw batched rate (FULL, 100 rows per commit).
    ratio_to_raw_same_sync: over the raw single-row rate at this run's synchronous setting.
    ratio_to_raw_ckpt256: over raw single-row commits with wal_autocheckpoint=256, the setting
    of Durablex's SQLite store (SQLite's default, used by raw_commit, is 1000).
    ratio_to_raw_store_wal: over raw single-row commits with the store's whole WAL set-up: that
    checkpoint setting and the WAL grown to its full size before the first commit, as the store
    does when it opens a file (``presize_wal``); on a fresh file, the fairest physical limit.
    p50_in_raw_commits / p99_in_raw_commits: a latency figure in units of one raw fsync'd
    commit (how many commits' time it costs).
    ratio_to_step_floor (seq, full durability): over raw_engine_steps, a bare loop of no-op
    bodies each followed by the engine's fsync'd step record (bench.raw.step_floor).
    """
    rate = out.get("steps_per_s") or out.get("runs_per_s")
    if out.get("backend") == "postgres":  # the same figures from the raw_pg_* lines
        single, batch = raws["raw_pg_commit"], raws["raw_pg_batch"]
        same = raws["raw_pg_commit" if durability == "full" else "raw_pg_commit_async"]
    else:
        single, batch = raws["raw_commit"], raws["raw_batch"]
        same = raws["raw_commit" if durability == "full" else "raw_commit_normal"]
    if rate:
        out["ratio_to_raw"] = round(rate / single["rows_per_s"], 3)
        out["ratio_to_raw_batch"] = round(rate / batch["rows_per_s"], 4)
        out["ratio_to_raw_same_sync"] = round(rate / same["rows_per_s"], 3)
        tuned = raws.get("raw_commit_ckpt256")
        if tuned and out.get("backend") != "postgres" and durability == "full":
            # against raw commits with the store's own WAL checkpoint setting
            out["ratio_to_raw_ckpt256"] = round(rate / tuned["rows_per_s"], 3)
        store_wal = raws.get("raw_commit_store_wal")
        if store_wal and out.get("backend") != "postgres" and durability == "full":
            out["ratio_to_raw_store_wal"] = round(rate / store_wal["rows_per_s"], 3)
    for key in ("p50_ms", "p99_ms"):
        if out.get(key) is not None:
            out[key.replace("_ms", "_in_raw_commits")] = round(out[key] / single["commit_ms"], 2)
    steps_floor = raws.get("raw_engine_steps")
    if steps_floor and out.get("workload") == "seq" and durability == "full" and rate:
        # against a bare loop that commits the engine's step record after each no-op body
        out["floor_steps_per_s"] = steps_floor["rows_per_s"]
        out["ratio_to_step_floor"] = round(rate / steps_floor["rows_per_s"], 3)
    floor = raws.get("raw_engine_1step")
    if floor and out.get("workload") == "latency" and out.get("backend") != "postgres":
        # the round trip over the engine's own transaction of a 1-step run, alone
        out["floor_1step_ms"] = floor["commit_ms"]
        if out.get("p50_ms") is not None:
            out["p50_in_engine_floor"] = round(out["p50_ms"] / floor["commit_ms"], 2)


def add_event_floor(out: dict[str, Any], floor: dict[str, Any]) -> None:
    """The event workload against its floor measured right after it (``bench.event_floor``):
    the engine's own transactions for the same number of runs, from the send to the last end,
    on one connection with nothing around them. A floor above the target (1 s) shows that no
    runner, however fast, meets it with this schema on this disk at this time."""
    out["floor_event_s"] = floor["wall_s"]
    out["floor_event_send_s"] = floor["send_s"]
    if out.get("wall_s"):
        out["wall_in_event_floor"] = round(out["wall_s"] / floor["wall_s"], 2)


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj)


def table(lines: list[dict[str, Any]]) -> str:
    head = [
        "system",
        "runners",
        "durability",
        "workload",
        "params",
        "wall_s",
        "steps/s",
        "runs/s",
        "p50_ms",
        "p99_ms",
        "rss_mb",
        "x raw",
    ]
    rows = [head]
    for o in lines:
        if o.get("error"):
            rows.append([o["system"], "", o["durability"], o["workload"], "", "FAILED", *[""] * 6])
            continue
        params = o.get("params") or {}
        rows.append(
            [
                str(o.get("system")),
                str(o.get("runner_count") or "-"),
                str(o.get("durability")),
                str(o.get("workload")),
                " ".join(f"{k}={v}" for k, v in params.items()),
                _fmt(o.get("wall_s")),
                _fmt(o.get("steps_per_s") or o.get("rows_per_s")),
                _fmt(o.get("runs_per_s") or o.get("commits_per_s")),
                _fmt(o.get("p50_ms")),
                _fmt(o.get("p99_ms")),
                _fmt(o.get("peak_rss_mb")),
                _fmt(o.get("ratio_to_raw")),
            ]
        )
    return _grid(rows)


def ratio_table(ratios: list[dict[str, Any]]) -> str:
    """One row per --vs ratio line: > 1 means Durablex is better on that figure."""
    rows = [["workload", "runners", "figure", "durablex", "dbos", "ratio (>1: durablex better)"]]
    for o in ratios:
        rows.append(
            [
                o["workload"],
                str(o.get("runners") or "-"),
                o["figure"],
                _fmt(o["durablex"]),
                _fmt(o["dbos"]),
                _fmt(o["ratio"]),
            ]
        )
    return _grid(rows)


def scaling_table(scalings: list[dict[str, Any]]) -> str:
    """One row per scaling line: > 1 means more runner processes did better."""
    rows = [["workload", "runners", "figure", "fewer", "more", "scaling (>1: more is better)"]]
    for o in scalings:
        rows.append(
            [
                o["workload"],
                o["runners"],
                o["figure"],
                _fmt(o["base"]),
                _fmt(o["more"]),
                _fmt(o["scaling"]),
            ]
        )
    return _grid(rows)


def _grid(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def add_adjacent_ratio(obj: dict[str, Any], raw_rows_per_s: float) -> None:
    """``ratio_to_adjacent_raw``: as ``ratio_to_raw``, against the raw single-row rate measured
    just before and just after this workload (their mean)."""
    rate = obj.get("steps_per_s") or obj.get("runs_per_s")
    obj["raw_commit_adjacent"] = round(raw_rows_per_s, 1)
    if rate and raw_rows_per_s:
        obj["ratio_to_adjacent_raw"] = round(float(rate) / raw_rows_per_s, 3)
