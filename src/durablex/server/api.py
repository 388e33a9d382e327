"""The JSON API under ``/api/v1`` (api.md section 6), over ``AsyncClient``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from durablex.client import AsyncClient, check_run_id
from durablex.core.serialization import DEFAULT_MAX_BYTES, encode
from durablex.errors import (
    AmbiguousWorkflowError,
    RunNotFoundError,
    SerializationError,
    WorkflowNotFoundError,
)
from durablex.server.errors import ApiError, bad_request, conflict, not_found
from durablex.server.inputs import (
    check_fields,
    query_cursor,
    query_limit,
    query_status,
    query_text,
    query_time_us,
    read_json,
    text_field,
)
from durablex.server.jsonio import dumps, json_response
from durablex.server.views import app_view, event_view, run_detail, run_summary, send_view
from durablex.store.base import RunFilter

MAX_EVENTS_PER_REQUEST = 1000
EVENT_FIELDS = ("data", "id", "app")


def client_of(request: Request) -> AsyncClient:
    client: AsyncClient = request.app.state.client
    return client


@contextmanager
def engine_errors() -> Iterator[None]:
    """Engine exceptions as API errors: a bad request is never a 500."""
    try:
        yield
    except RunNotFoundError as exc:
        raise not_found(str(exc)) from None
    except WorkflowNotFoundError as exc:
        raise not_found(exc.message) from None
    except AmbiguousWorkflowError as exc:
        raise conflict(exc.message) from None
    except SerializationError as exc:
        raise bad_request(str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise bad_request(str(exc)) from None


def check_data(request: Request, data: Any, *, what: str) -> None:
    """Apply the engine's JSON rules and size limit before anything is written."""
    limit: int = getattr(request.app.state, "max_data_bytes", DEFAULT_MAX_BYTES)
    try:
        size = len(dumps(data))
    except TypeError:  # nested deeper than orjson writes: encode() below names the problem
        size = 0
    if size > limit:
        raise ApiError(413, f"{what} is larger than the limit of {limit} bytes")
    with engine_errors():
        encode(data, what=what, max_bytes=limit)


def path_id(request: Request, *, what: str) -> str:
    raw = request.path_params["id"]
    try:
        return check_run_id(raw)
    except (TypeError, ValueError):
        raise not_found(f"no {what} with id {raw[:80]!r}") from None


# -- events ------------------------------------------------------------------------------


async def send_events(request: Request) -> Response:
    body = await read_json(request)
    if isinstance(body, list):
        if not 1 <= len(body) <= MAX_EVENTS_PER_REQUEST:
            raise bad_request(
                f"send between 1 and {MAX_EVENTS_PER_REQUEST} events per request, got {len(body)}"
            )
        items = [parse_event(request, item, f"event {index}") for index, item in enumerate(body)]
    else:
        items = [parse_event(request, body, "the event")]
    client = client_of(request)
    results = []
    with engine_errors():
        for name, data, app, event_id in items:
            results.append(send_view(await client.send(name, data, app=app, id=event_id)))
    return json_response(results if isinstance(body, list) else results[0], status=202)


def parse_event(
    request: Request, item: object, what: str
) -> tuple[str, Any, str | None, str | None]:
    fields = check_fields(item, what=what, required=("name",), optional=EVENT_FIELDS)
    name = text_field(fields, "name", what=what)
    if name is None:
        raise bad_request(f"{what} field 'name' must be a non-empty string")
    data = fields.get("data")
    check_data(request, data, what=f"{what} data")
    return name, data, text_field(fields, "app", what=what), text_field(fields, "id", what=what)


async def list_events(request: Request) -> Response:
    with engine_errors():
        page = await client_of(request).list_events(
            name=query_text(request, "name"),
            limit=query_limit(request),
            cursor=query_cursor(request),
            search=query_text(request, "search"),
        )
    events = [event_view(event) for event in page.events]
    return json_response({"events": events, "next_cursor": page.next_cursor})


async def get_event(request: Request) -> Response:
    event_id = path_id(request, what="event")
    client = client_of(request)
    event = await client.get_event(event_id)
    if event is None:
        raise not_found(f"no event with id {event_id!r}")
    return json_response(event_view(event, await client.resumed_by_event(event_id)))


# -- runs --------------------------------------------------------------------------------


async def start_run(request: Request) -> Response:
    body = check_fields(
        await read_json(request),
        what="the request",
        required=("workflow",),
        optional=("data", "app"),
    )
    workflow = text_field(body, "workflow", what="the request")
    if workflow is None:
        raise bad_request("field 'workflow' must be a non-empty string")
    app = text_field(body, "app", what="the request")
    data = body.get("data")
    check_data(request, data, what="run input")
    client = client_of(request)
    with engine_errors():
        handle = await client.start(workflow, data, app=app)
        run = await client.get_run(handle.run_id, with_steps=False)
    return json_response(
        {"run_id": run.id, "workflow": run.workflow, "app": run.app, "status": run.status},
        status=201,
        headers={"Location": f"/api/v1/runs/{run.id}"},
    )


async def list_runs(request: Request) -> Response:
    after = query_time_us(request, "created_after")
    before = query_time_us(request, "created_before")
    filt = RunFilter(
        status=query_status(request),
        workflow=query_text(request, "workflow"),
        app=query_text(request, "app"),
        search=query_text(request, "search"),
        created_after_us=after,
        created_before_us=before,
        parent_run_id=query_text(request, "parent_run_id"),
    )
    limit = query_limit(request)
    cursor = query_cursor(request)
    with engine_errors():
        page = await client_of(request).list_runs_page(filt, limit=limit, cursor=cursor)
    runs = [run_summary(run) for run in page.runs]
    return json_response({"runs": runs, "next_cursor": page.next_cursor})


async def get_run(request: Request) -> Response:
    run_id = path_id(request, what="run")
    with engine_errors():
        run = await client_of(request).get_run(run_id)
    return json_response(run_detail(run))


async def cancel_run(request: Request) -> Response:
    run_id = path_id(request, what="run")
    client = client_of(request)
    with engine_errors():
        cancelled = await client.cancel(run_id)
        run = await client.get_run(run_id, with_steps=False)
    return json_response({"run_id": run_id, "cancelled": cancelled, "status": run.status})


async def rerun_run(request: Request) -> Response:
    run_id = path_id(request, what="run")
    client = client_of(request)
    with engine_errors():
        handle = await client.rerun(run_id)
        run = await client.get_run(handle.run_id, with_steps=False)
    return json_response(
        {
            "run_id": run.id,
            "workflow": run.workflow,
            "app": run.app,
            "status": run.status,
            "rerun_of": run_id,
        },
        status=201,
        headers={"Location": f"/api/v1/runs/{run.id}"},
    )


async def resume_run(request: Request) -> Response:
    run_id = path_id(request, what="run")
    client = client_of(request)
    try:
        with engine_errors():
            await client.resume(run_id)
    except ApiError as exc:
        if exc.status == 400:  # the store refuses to resume a run that is not failed
            raise conflict(exc.message) from None
        raise
    with engine_errors():
        run = await client.get_run(run_id, with_steps=False)
    return json_response({"run_id": run_id, "status": run.status})


# -- apps --------------------------------------------------------------------------------


async def list_apps(request: Request) -> Response:
    apps = await client_of(request).list_apps()
    return json_response({"apps": [app_view(app) for app in apps]})


def routes() -> list[BaseRoute]:
    return [
        Route("/events", send_events, methods=["POST"]),
        Route("/events", list_events, methods=["GET"]),
        Route("/events/{id}", get_event, methods=["GET"]),
        Route("/runs", start_run, methods=["POST"]),
        Route("/runs", list_runs, methods=["GET"]),
        Route("/runs/{id}", get_run, methods=["GET"]),
        Route("/runs/{id}/cancel", cancel_run, methods=["POST"]),
        Route("/runs/{id}/rerun", rerun_run, methods=["POST"]),
        Route("/runs/{id}/resume", resume_run, methods=["POST"]),
        Route("/apps", list_apps, methods=["GET"]),
    ]
