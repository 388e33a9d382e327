"""Plain-text rendering of runs for the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from durablex.records import Run, Step

MAX_VALUE_CHARS = 200


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = (end - start).total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def short(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def format_runs(runs: list[Run]) -> str:
    if not runs:
        return "no runs"
    rows = [
        [
            run.id,
            run.status,
            f"{run.app}/{run.workflow}",
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            duration(run.created_at, run.ended_at),
        ]
        for run in runs
    ]
    return table(["RUN", "STATUS", "WORKFLOW", "CREATED (UTC)", "DURATION"], rows)


def _depths(steps: list[Step]) -> dict[str, int]:
    depth: dict[str, int] = {}
    for step in steps:
        depth[step.id] = 1 + max((depth.get(p, 0) for p in step.after), default=-1)
    return depth


def graph(steps: list[Step]) -> str:
    """The run's graph as an indented tree: children under the step they followed."""
    depth = _depths(steps)
    lines = []
    for step in steps:
        join = f"  (after {', '.join(step.after)})" if len(step.after) > 1 else ""
        lines.append(f"{'  ' * depth[step.id]}{step.id} [{step.kind}, {step.status}]{join}")
    return "\n".join(lines)


def format_run(run: Run) -> str:
    head = [
        f"run       {run.id}",
        f"workflow  {run.app}/{run.workflow}",
        f"status    {run.status}",
        f"created   {run.created_at.isoformat()}",
        f"ended     {run.ended_at.isoformat() if run.ended_at else '-'}",
        f"duration  {duration(run.created_at, run.ended_at)}",
        f"input     {short(run.input)}",
    ]
    if run.parent_run_id:
        head.append(f"parent    {run.parent_run_id}")
    if run.status == "completed":
        head.append(f"output    {short(run.output)}")
    if run.error:
        head.append(f"error     {run.error.get('type')}: {run.error.get('message')}")
    for warning in run.warnings:
        head.append(f"warning   {warning}")
    rows = [
        [
            step.id,
            step.kind,
            step.status,
            str(step.attempts),
            step.started_at.strftime("%H:%M:%S.%f")[:-3] if step.started_at else "-",
            duration(step.started_at, step.ended_at),
        ]
        for step in run.steps
    ]
    parts = ["\n".join(head)]
    if rows:
        parts.append(table(["STEP", "KIND", "STATUS", "ATTEMPTS", "STARTED", "DURATION"], rows))
        parts.append("graph\n" + graph(run.steps))
    else:
        parts.append("no steps yet")
    return "\n\n".join(parts)
