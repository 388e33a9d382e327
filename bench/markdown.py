"""The tables of docs/performance.md from the JSON lines of one ``python -m bench --out FILE``.

``python -m bench.markdown FILE`` prints the raw rates of the run, then one row per measured
workload (Durablex, then DBOS where the run had ``--vs dbos``), with the ratios to the raw rates
(``raw_commit``; ``raw_commit_store_wal``, the same with the store's WAL set-up, in runs since
2026-11-30's eighth session) and to DBOS, rounded as in the document. For a before/after file
(objects with ``ver`` = base or head, ``round`` and the worker's ``line``), it prints the
comparison table instead.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

HEAD = (
    "| workload | params | system | wall_s | steps/s | runs/s | p50 ms | p99 ms | peak RSS MB "
    "| x raw (start of run) | x store-WAL raw | x adjacent raw (adjacent raw/s) | vs DBOS |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def num(value: Any) -> str:
    """Three significant figures, thousands separated; '-' for a missing figure."""
    if value is None or value == "n/a":
        return "–"
    value = float(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def params(line: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in (line.get("params") or {}).items())


def runner_processes(line: dict[str, Any]) -> str | None:
    """ "N runner process(es)" when the runners were not the measuring process, else None."""
    runners = str(line.get("runners") or "in-process")
    if runners == "in-process":
        return None
    count = runners.split()[0]
    return f"{count} runner process{'' if count == '1' else 'es'}"


def system(line: dict[str, Any]) -> str:
    """The system, with its runner processes when they are not the measuring process."""
    processes = runner_processes(line)
    if line["system"] != "durablex" or processes is None:
        return str(line["system"])
    return f"durablex, {processes}"


def raw_summary(lines: list[dict[str, Any]]) -> str:
    raws = {x["workload"]: x for x in lines if x.get("system") == "sqlite3-raw"}
    if not raws:
        return ""
    single = raws.get("raw_commit")
    parts = []
    if single:
        parts.append(
            f"single-row fsync'd commit {num(single['rows_per_s'])}/s "
            f"({single['commit_ms']:.3f} ms)"
        )
    for name in ("raw_batch", "raw_commit_normal", "raw_commit_ckpt256", "raw_commit_store_wal"):
        if name in raws:
            parts.append(f"{name} {num(raws[name]['rows_per_s'])} rows/s")
    floor = raws.get("raw_engine_1step")
    if floor:
        parts.append(
            f"raw_engine_1step {floor['commit_ms']:.3f} ms (start, step and end in one commit"
            + (f"; in two: {floor['two_commits_ms']:.3f} ms)" if "two_commits_ms" in floor else ")")
        )
    steps = raws.get("raw_engine_steps")
    if steps:
        ratio = f" = {steps['rows_per_s'] / single['rows_per_s']:.2f} × raw" if single else ""
        parts.append(f"raw_engine_steps {num(steps['rows_per_s'])} steps/s{ratio}")
    return "Raw in this run: " + "; ".join(parts) + "."


def event_floors(lines: list[dict[str, Any]]) -> str:
    """One sentence per event line that has its floor (``report.add_event_floor``)."""
    notes = []
    for line in lines:
        if line.get("workload") == "event" and line.get("floor_event_s") is not None:
            cpu = [x for x in line.get("runner_cpu_s") or () if x is not None]
            used = (
                f"; the runners' CPU meanwhile: {' + '.join(f'{num(x)} s' for x in cpu)}"
                if cpu
                else ""
            )
            notes.append(
                f"event {params(line)} ({system(line)}): {num(line.get('wall_s'))} s from the "
                f"send to the last end; the engine's own transactions alone, right after: "
                f"{num(line['floor_event_s'])} s (the send {num(line['floor_event_send_s'])} s)"
                f"{used}."
            )
    return "\n".join(notes)


def rows(lines: list[dict[str, Any]]) -> str:
    ratios = {
        x["workload"]: x for x in lines if x.get("system") == "durablex/dbos" and "ratio" in x
    }
    out = [HEAD]
    for line in lines:
        if line.get("system") not in ("durablex", "dbos") or line.get("error"):
            continue
        vs = ""
        ratio = ratios.get(line["workload"])
        if line["system"] == "durablex" and ratio is not None:
            vs = f"{num(ratio['ratio'])} ({ratio['figure']})"
        adjacent = line.get("ratio_to_adjacent_raw")
        adjacent_text = (
            f"{num(adjacent)} ({num(line.get('raw_commit_adjacent'))})" if adjacent else "–"
        )
        out.append(
            "| "
            + " | ".join(
                [
                    line["workload"],
                    params(line),
                    system(line),
                    num(line.get("wall_s")),
                    num(line.get("steps_per_s")),
                    num(line.get("runs_per_s")),
                    num(line.get("p50_ms")),
                    num(line.get("p99_ms")),
                    num(line.get("peak_rss_mb")),
                    num(line.get("ratio_to_raw")),
                    num(line.get("ratio_to_raw_store_wal")),
                    adjacent_text,
                    vs,
                ]
            )
            + " |"
        )
    return "\n".join(out)


# the main figure of each workload in a before/after comparison, and whether higher is better
MAIN_FIGURE = {
    "seq": ("steps_per_s", "steps/s", True),
    "fanout": ("steps_per_s", "steps/s", True),
    "parallel": ("wall_s", "wall s", False),
    "latency": ("p50_ms", "p50 ms", False),
    "resume": ("wall_s", "wall s", False),
    "event": ("wall_s", "wall s, send → last run ended", False),
    "sleep": ("p99_ms", "p99 wake-up lateness ms", False),
}


def before_after(lines: list[dict[str, Any]]) -> str:
    """Rows of base / head per round; the last column: the mean over rounds of head/base for a
    rate, base/head for a time, so > 1 means faster at head."""
    cells: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    for item in lines:
        line = item["line"]
        processes = runner_processes(line)
        shown = params(line) + (f", {processes}" if processes else "")
        if line.get("durability", "full") != "full":
            shown += f", {line['durability']} durability"
        key = (line["workload"], shown)
        figure, _, _ = MAIN_FIGURE[line["workload"]]
        cells.setdefault(key, {}).setdefault(item["round"], {})[item["ver"]] = line[figure]
    rounds = sorted({item["round"] for item in lines})
    out = [
        "| workload | params | figure | "
        + " | ".join(f"before / after, round {r}" for r in rounds)
        + " | faster now (mean) |",
        "|---|---|---|" + "---|" * len(rounds) + "---|",
    ]
    for (workload, shown), by_round in cells.items():
        _, label, higher_better = MAIN_FIGURE[workload]
        pairs = [by_round[r] for r in rounds if {"base", "head"} <= set(by_round.get(r, {}))]
        gains = [
            (p["head"] / p["base"]) if higher_better else (p["base"] / p["head"]) for p in pairs
        ]
        shown_pairs = [f"{num(p['base'])} / {num(p['head'])}" for p in pairs]
        mean = f"{num(sum(gains) / len(gains))}×" if gains else "–"
        row = [workload, shown, label, *shown_pairs, mean]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", help="a JSON-lines file written by python -m bench --out")
    args = parser.parse_args()
    with open(args.file) as fh:
        lines = [json.loads(text) for text in fh if text.strip()]
    if lines and "ver" in lines[0]:
        print(before_after(lines))
        return
    print(raw_summary(lines))
    print()
    print(rows(lines))
    notes = event_floors(lines)
    if notes:
        print()
        print(notes)


if __name__ == "__main__":
    main()
