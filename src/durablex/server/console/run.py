"""``/runs/{id}``: the run inspector (header, list, graph and timeline views, step panel)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from durablex.errors import RunNotFoundError
from durablex.records import Run, Step
from durablex.server.console import graph, graph_svg, timeline
from durablex.server.console.format import TERMINAL, duration, payload
from durablex.server.console.templating import client_of, error_page, query, render
from durablex.store.base import RunFilter

VIEWS = ("list", "graph", "timeline")
TABS = ("input", "output", "error", "attempts")
STEP_PAGE = 200
NOTICES = {
    "cancelled": "The run was cancelled.",
    "already-ended": "The run had already ended; nothing was cancelled.",
    "resumed": "The run was resumed from its failed step.",
    "rerun": "This run was started as a rerun.",
}


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    pages: int
    first: int
    last: int
    total: int


def pager(total: int, raw: str | None, size: int = STEP_PAGE) -> Pager:
    pages = max(1, -(-total // size))
    try:
        page = min(max(1, int(raw or "1")), pages)
    except ValueError:
        page = 1
    first = (page - 1) * size
    return Pager(page, pages, first, min(total, first + size), total)


def step_detail(step: Step, now: datetime) -> str:
    if step.started_at is None:
        return step.status
    return duration(step.started_at, step.ended_at, now)


def time_bounds(run: Run, now: datetime) -> tuple[datetime, datetime]:
    """The run's time axis: from its start (or first step) to its end, now, or its next wake."""
    starts = [s.started_at for s in run.steps if s.started_at is not None]
    origin = min([run.started_at or run.created_at, *starts])
    ends = [s.ended_at for s in run.steps if s.ended_at is not None]
    ends += [s.wake_at for s in run.steps if s.wake_at is not None and s.ended_at is None]
    if run.ended_at is not None:
        ends.append(run.ended_at)
    if not run.done:
        ends.append(now)
    end = max([origin, *(e for e in ends if e is not None)])
    return origin, end


def timeline_steps(steps: list[Step], origin: datetime) -> list[timeline.TimelineStep]:
    def rel(dt: datetime | None) -> float | None:
        return None if dt is None else (dt - origin).total_seconds()

    items = []
    for step in steps:
        spans = tuple(
            timeline.Span(rel(a.started_at) or 0.0, rel(a.ended_at), a.error is not None)
            for a in step.attempt_log
            if a.started_at is not None
        )
        items.append(
            timeline.TimelineStep(
                id=step.id,
                kind=step.kind,
                status=step.status,
                start=rel(step.started_at),
                end=rel(step.ended_at),
                wake=rel(step.wake_at),
                attempts=spans,
            )
        )
    return items


def render_view(
    run: Run, view: str, params: dict[str, str], now: datetime, selected: str | None
) -> tuple[Markup | None, Pager | None, dict[str, Any]]:
    """The SVG of the graph or timeline view (None for the list) and its paging."""
    index = {s.id: i for i, s in enumerate(run.steps)}

    def step_href(step_id: str) -> str:
        return query(params, step=step_id, tab=params.get("tab") or "output", full=None)

    def group_href(members: tuple[str, ...]) -> str:
        i = index.get(members[0], 0)
        return query(params, view="list", page=i // STEP_PAGE + 1, step=None, tab=None) + (
            f"#s-{i}"
        )

    if view == "graph":
        nodes = [
            graph.StepNode(s.id, s.kind, s.status, tuple(s.after), step_detail(s, now))
            for s in run.steps
        ]
        try:
            first = max(0, int(params.get("glayer") or 0))
        except ValueError:
            first = 0
        layout = graph.layout_graph(nodes, first_layer=first)
        info = {
            "layers": layout.layer_count,
            "first_layer": layout.first_layer,
            "last_layer": layout.last_layer,
            "grouped": layout.grouped_steps,
            "prev_href": query(params, glayer=max(0, layout.first_layer - graph.LAYER_PAGE))
            if layout.first_layer > 0
            else None,
            "next_href": query(params, glayer=layout.last_layer)
            if layout.last_layer < layout.layer_count
            else None,
        }
        return graph_svg.render_svg(layout, step_href, group_href, selected), None, info
    if view == "timeline":
        page = pager(len(run.steps), params.get("page"))
        origin, end = time_bounds(run, now)
        items = timeline_steps(run.steps[page.first : page.last], origin)
        live_now = None if run.done else (now - origin).total_seconds()
        layout_t = timeline.layout_timeline(items, (end - origin).total_seconds(), now=live_now)
        return timeline.render_svg(layout_t, step_href, selected), page, {"origin": origin}
    return None, pager(len(run.steps), params.get("page")), {}


def step_query(params: dict[str, str], step_id: str, tab: str) -> str:
    return query(params, step=step_id, tab=tab, full=None)


async def run_page(request: Request) -> Response:
    client = client_of(request)
    run_id = request.path_params["run_id"]
    try:
        run = await client.get_run(run_id)
    except (RunNotFoundError, ValueError, TypeError):
        return error_page(request, 404, "Run not found", f"There is no run with id {run_id}.")
    now = datetime.now(UTC)
    q = request.query_params
    view = q.get("view", "list")
    view = view if view in VIEWS else "list"
    tab = q.get("tab", "output")
    tab = tab if tab in TABS else "output"
    selected_id = q.get("step")
    params = {k: v for k in ("view", "page", "glayer", "step", "tab") if (v := q.get(k, "")[:1000])}
    params["view"] = view
    selected = next((s for s in run.steps if s.id == selected_id), None)
    svg, page, info = render_view(run, view, params, now, selected_id)
    children = (await client.list_runs_page(RunFilter(parent_run_id=run.id), limit=100)).runs
    event = await client.get_event(run.event_id) if run.event_id else None
    full = q.get("full") == "1"
    panel: dict[str, Any] | None = None
    if selected_id is not None:
        panel = {
            "id": selected_id,
            "step": selected,
            "tab": tab,
            "full": full,
            "tabs": [(t, step_query(params, selected_id, t)) for t in TABS],
            "full_href": query(params, full="1"),
            "close_href": query(params, step=None, tab=None, full=None),
        }
        if selected is not None:
            value = selected.output if tab == "output" else selected.input
            panel["payload"] = payload(value, limit=None if full else 10_000)
    context = {
        "run": run,
        "alive": run.status not in TERMINAL,
        "view": view,
        "views": [(v, query(params, view=v, page=None, glayer=None)) for v in VIEWS],
        "svg": svg,
        "page": page,
        "info": info,
        "steps": run.steps[page.first : page.last] if page else [],
        "page_href": lambda n: query(params, page=n),
        "step_href": lambda step_id: step_query(params, step_id, tab),
        "panel": panel,
        "children": children,
        "event": event,
        "notice": NOTICES.get(q.get("done", "")),
        "api_href": f"/api/v1/runs/{quote(run.id, safe='')}",
        "output": payload(run.output),
        "event_payload": payload(event.data, limit=2_000) if event else None,
    }
    return render(request, "run.html", context, section="runs")
