"""The tables of docs/performance.md from the JSON lines of one ``python -m bench --out FILE``.

``python -m bench.markdown FILE`` prints the raw rates of the run, then one row per measured
workload (Durablex, then DBOS where the run had ``--vs dbos``), with the ratios to the raw rates
and to DBOS, rounded as in the document.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

HEAD = (
    "| workload | params | system | wall_s | steps/s | runs/s | p50 ms | p99 ms | peak RSS MB "
    "| x raw (start of run) | x adjacent raw (adjacent raw/s) | vs DBOS |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
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
    for name in ("raw_batch", "raw_commit_normal", "raw_commit_ckpt256"):
        if name in raws:
            parts.append(f"{name} {num(raws[name]['rows_per_s'])} rows/s")
    floor = raws.get("raw_engine_1step")
    if floor:
        parts.append(
            f"raw_engine_1step {floor['commit_ms']:.3f} ms (start {floor['start_ms']:.3f}, "
            f"claim {floor['claim_ms']:.3f}, step with end {floor['step_end_ms']:.3f})"
        )
    return "Raw in this run: " + "; ".join(parts) + "."


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
                    line["system"],
                    num(line.get("wall_s")),
                    num(line.get("steps_per_s")),
                    num(line.get("runs_per_s")),
                    num(line.get("p50_ms")),
                    num(line.get("p99_ms")),
                    num(line.get("peak_rss_mb")),
                    num(line.get("ratio_to_raw")),
                    adjacent_text,
                    vs,
                ]
            )
            + " |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", help="a JSON-lines file written by python -m bench --out")
    args = parser.parse_args()
    with open(args.file) as fh:
        lines = [json.loads(text) for text in fh if text.strip()]
    print(raw_summary(lines))
    print()
    print(rows(lines))


if __name__ == "__main__":
    main()
