"""The console: server-rendered pages (Jinja2, autoescaped) over the same read models as the
API, with a little vanilla JS from ``/static`` for live refresh, step panels and confirmations.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from durablex.server.console.actions import action_get, run_action
from durablex.server.console.apps import apps_page
from durablex.server.console.events import event_page, events_page, send_event
from durablex.server.console.run import run_page
from durablex.server.console.runs import runs_page

__all__ = ["routes"]


def routes() -> list[BaseRoute]:
    """The console's routes, to mount at the root of the server."""
    return [
        Route("/", runs_page, methods=["GET"], name="console-runs"),
        Route("/runs/{run_id}", run_page, methods=["GET"], name="console-run"),
        Route("/runs/{run_id}/{action}", run_action, methods=["POST"], name="console-action"),
        Route("/runs/{run_id}/{action}", action_get, methods=["GET"]),
        Route("/events", events_page, methods=["GET"], name="console-events"),
        Route("/events", send_event, methods=["POST"], name="console-send"),
        Route("/events/{event_id:path}", event_page, methods=["GET"], name="console-event"),
        Route("/apps", apps_page, methods=["GET"], name="console-apps"),
    ]
