"""``/events``: the event log, one event's page, and the form that sends an event."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from durablex.errors import DurablexError
from durablex.server.console.format import payload
from durablex.server.console.templating import client_of, error_page, query, render
from durablex.server.errors import ApiError
from durablex.server.security import verify_csrf

PAGE_SIZE = 50
FORM_FIELDS = ("name", "data", "app", "id")


def parse_event_form(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The event to send, or the fields' errors (keyed by field) explaining what is wrong."""
    values = {k: str(form.get(k) or "") for k in FORM_FIELDS}
    errors: dict[str, str] = {}
    name = values["name"].strip()
    if not name:
        errors["name"] = "Give the event a name, such as order.created."
    data: Any = None
    if values["data"].strip():
        try:
            data = orjson.loads(values["data"])
        except orjson.JSONDecodeError as exc:
            errors["data"] = (
                f"This is not valid JSON ({exc}). Write an object such as "
                '{"order_id": 42}, a list, a string in double quotes, a number, true, false '
                "or null; leave it empty for no data."
            )
    event = {
        "name": name,
        "data": data,
        "app": values["app"].strip() or None,
        "id": values["id"].strip() or None,
    }
    return event, errors


async def _events_context(request: Request) -> dict[str, Any]:
    client = client_of(request)
    params = {k: request.query_params.get(k, "")[:300] for k in ("name", "q")}
    cursor = request.query_params.get("cursor") or None
    error = None
    events: list[Any] = []
    next_cursor = None
    try:
        page = await client.list_events(
            name=params["name"] or None,
            limit=PAGE_SIZE,
            cursor=cursor,
            search=params["q"].strip() or None,
        )
        events, next_cursor = page.events, page.next_cursor
    except ValueError as exc:
        error = str(exc)
    return {
        "params": params,
        "events": events,
        "error": error,
        "next_href": query(params, cursor=next_cursor) if next_cursor else None,
        "first_href": query(params) if cursor else None,
        "form": {k: "" for k in FORM_FIELDS},
        "form_errors": {},
        "form_error": None,
    }


async def events_page(request: Request) -> Response:
    context = await _events_context(request)
    status = 400 if context["error"] else 200
    return render(request, "events.html", context, status=status, section="events")


async def send_event(request: Request) -> Response:
    form = await request.form()
    try:
        verify_csrf(request, form)
    except ApiError as exc:
        return error_page(request, exc.status, "Request refused", exc.message)
    event, errors = parse_event_form(form)
    if not errors:
        try:
            result = await client_of(request).send(
                event["name"], event["data"], app=event["app"], id=event["id"]
            )
        except (DurablexError, ValueError, TypeError, LookupError) as exc:
            errors["form"] = str(exc)
        else:
            return RedirectResponse(
                f"/events/{quote(result.event_id, safe='')}?sent=1", status_code=303
            )
    context = await _events_context(request)
    context["form"] = {k: str(form.get(k) or "") for k in FORM_FIELDS}
    context["form_errors"] = errors
    context["form_error"] = errors.get("form") or "The event was not sent: see below."
    return render(request, "events.html", context, status=400, section="events")


async def event_page(request: Request) -> Response:
    client = client_of(request)
    event_id = request.path_params["event_id"]
    event = await client.get_event(event_id)
    if event is None:
        return error_page(request, 404, "Event not found", f"There is no event with id {event_id}.")
    resumed = await client.resumed_by_event(event.id)
    context = {
        "event": event,
        "resumed_ids": resumed,
        "data": payload(event.data, limit=None if request.query_params.get("full") else 10_000),
        "sent": request.query_params.get("sent") == "1",
    }
    return render(request, "event.html", context, section="events")
