"""``/``: the runs, newest first, with filters, search, cursor paging and live refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from durablex.core.times import datetime_to_us
from durablex.records import RUN_STATUSES, AppInfo
from durablex.server.console.templating import client_of, query, render
from durablex.store.base import RunFilter

PAGE_SIZE = 50
SINCE = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
FILTER_KEYS = ("status", "workflow", "app", "q", "since", "from", "to")


def parse_local(value: str, what: str) -> int:
    """``YYYY-MM-DDTHH:MM[:SS]`` (a datetime-local input, read as UTC) as epoch microseconds."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: expected a date and time like 2026-01-31T14:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return datetime_to_us(dt)


def run_filter(params: dict[str, str], now: datetime) -> RunFilter:
    """The store filter of the page's query; ValueError with a readable message when bad."""
    status = params.get("status") or None
    if status is not None and status not in RUN_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    after: int | None = None
    before: int | None = None
    since = params.get("since") or ""
    if since:
        if since not in SINCE:
            raise ValueError(f"unknown time range {since!r}")
        after = datetime_to_us(now - SINCE[since])
    if params.get("from"):
        after = parse_local(params["from"], "from")
    if params.get("to"):
        before = parse_local(params["to"], "to")
    return RunFilter(
        status=status,
        workflow=params.get("workflow") or None,
        app=params.get("app") or None,
        search=(params.get("q") or "").strip() or None,
        created_after_us=after,
        created_before_us=before,
    )


def workflow_names(apps: list[AppInfo]) -> tuple[list[str], list[str]]:
    names = sorted({w.name for a in apps for w in a.workflows})
    return [a.name for a in apps], names


async def runs_page(request: Request) -> Response:
    client = client_of(request)
    params = {k: request.query_params.get(k, "")[:300] for k in FILTER_KEYS}
    cursor = request.query_params.get("cursor") or None
    context: dict[str, Any] = {"params": params, "cursor": cursor, "error": None}
    runs: list[Any] = []
    next_cursor = None
    try:
        page = await client.list_runs_page(
            run_filter(params, datetime.now(UTC)), limit=PAGE_SIZE, cursor=cursor
        )
        runs, next_cursor = page.runs, page.next_cursor
    except ValueError as exc:
        context["error"] = str(exc)
    apps, workflows = workflow_names(await client.list_apps())
    filtered = any(params.values())
    context.update(
        runs=runs,
        apps=apps,
        workflows=workflows,
        filtered=filtered,
        next_href=query(params, cursor=next_cursor) if next_cursor else None,
        first_href=query(params) if cursor else None,
    )
    return render(
        request, "runs.html", context, status=400 if context["error"] else 200, section="runs"
    )
