"""Rendering runs for the terminal: tables, the run's header and its graph as a tree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from durablex.cli.output import bold, dim, status
from durablex.records import Run, Step

MAX_VALUE_CHARS = 200

Paint = Callable[[str, str], str]  # (raw value, padded cell) -> styled cell


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


def _status_cell(raw: str, cell: str) -> str:
    return status(cell, raw)


def table(headers: list[str], rows: list[list[str]], paint: dict[int, Paint] | None = None) -> str:
    """Columns padded to the widest plain value; styles go on after padding, so they never
    disturb the alignment."""
    paint = paint or {}
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: list[str], styled: bool) -> str:
        out = []
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            padded = cell.ljust(width) if index < len(cells) - 1 else cell
            if styled and index in paint:
                padded = paint[index](cell, padded)
            out.append(padded)
        return "  ".join(out).rstrip()

    return "\n".join([bold(line(headers, False)), *(line(row, True) for row in rows)])


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
    headers = ["RUN", "STATUS", "WORKFLOW", "CREATED (UTC)", "DURATION"]
    return table(headers, rows, {1: _status_cell})


def _indents(steps: list[Step]) -> dict[str, int]:
    """Indentation that shows branching, not length: a sequential chain stays at one level,
    the branches of a fork go one level in, and a join comes back out to its fork's level."""
    successors: dict[str, int] = {}
    for step in steps:
        for parent in step.after:
            successors[parent] = successors.get(parent, 0) + 1
    indent: dict[str, int] = {}
    for step in steps:
        known = [p for p in step.after if p in indent]
        if not known:
            indent[step.id] = 0
        elif len(known) == 1:
            parent = known[0]
            indent[step.id] = indent[parent] + (1 if successors.get(parent, 0) > 1 else 0)
        else:
            indent[step.id] = max(0, min(indent[p] for p in known) - 1)
    return indent


def graph(steps: list[Step]) -> str:
    """The run's graph as an indented tree, with the joins named."""
    indent = _indents(steps)
    lines = []
    for step in steps:
        join = dim(f"  (after {', '.join(step.after)})") if len(step.after) > 1 else ""
        label = f"{step.id} [{step.kind}, {status(step.status)}]"
        lines.append(f"{'  ' * indent[step.id]}{label}{join}")
    return "\n".join(lines)


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def format_run(run: Run) -> str:
    head = [
        f"run       {bold(run.id)}",
        f"workflow  {run.app}/{run.workflow}",
        f"status    {status(run.status)}",
        f"created   {_when(run.created_at)}",
        f"ended     {_when(run.ended_at)}",
        f"duration  {duration(run.created_at, run.ended_at)}",
    ]
    if run.event_name:
        head.append(f"event     {run.event_name} ({run.event_id})")
    head.append(f"input     {short(run.input)}")
    if run.runner:
        head.append(f"runner    {run.runner}")
    if run.parent_run_id:
        head.append(f"parent    {run.parent_run_id}")
    if run.status == "completed":
        head.append(f"output    {short(run.output)}")
    if run.error:
        head.append(
            status(f"error     {run.error.get('type')}: {run.error.get('message')}", "failed")
        )
    for warning in run.warnings:
        head.append(status(f"warning   {warning}", "waiting"))
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
        headers = ["STEP", "KIND", "STATUS", "ATTEMPTS", "STARTED", "DURATION"]
        parts.append(table(headers, rows, {2: _status_cell}))
        parts.append(bold("graph") + "\n" + graph(run.steps))
    else:
        parts.append("no steps yet")
    return "\n\n".join(parts)
