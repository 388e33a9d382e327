"""The OpenAPI 3.1 document of the HTTP API, served at ``/openapi.json``.

Hand-maintained next to ``api.py``; ``tests/api`` checks that every route is described and
schemathesis checks every response against it.
"""

from __future__ import annotations

from typing import Any

from durablex.records import RUN_STATUSES, STEP_KINDS
from durablex.server.inputs import DEFAULT_LIMIT, MAX_LIMIT, MAX_TEXT

STEP_STATUSES = ["running", "sleeping", "waiting", "completed", "failed", "cancelled"]
ANY: dict[str, Any] = {"description": "Any JSON value."}

ERROR_CODES = {
    400: ("bad_request", "The request is malformed: bad JSON, a wrong type, an unknown field."),
    401: ("unauthorized", "A token is configured and the request did not carry it."),
    404: ("not_found", "No such run, event or workflow."),
    409: ("conflict", "The request conflicts with the current state."),
    413: ("payload_too_large", "The body or a JSON value is larger than its limit."),
    415: ("unsupported_media_type", "The body is not sent as application/json."),
}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def text(description: str = "", **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


NAME = text(minLength=1, maxLength=MAX_TEXT, pattern=r"\S")
INSTANT = text(format="date-time")
MAYBE_INSTANT = nullable(INSTANT)
MAYBE_TEXT = nullable(text())
MAYBE_MS = nullable({"type": "number", "description": "Milliseconds between start and end."})


def obj(
    properties: dict[str, Any], *, closed: bool = True, optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": not closed,
    }


ERROR_INFO = {
    "type": "object",
    "description": "A recorded error: its exception type, message and traceback.",
    "properties": {"type": text(), "message": text(), "traceback": MAYBE_TEXT},
    "additionalProperties": True,
}

RUN_FIELDS: dict[str, Any] = {
    "id": text("The run id."),
    "workflow": text(),
    "app": text(),
    "status": {"type": "string", "enum": list(RUN_STATUSES)},
    "input": ANY,
    "output": ANY,
    "error": nullable(ref("ErrorInfo")),
    "parent_run_id": MAYBE_TEXT,
    "warnings": {"type": "array", "items": text()},
    "created_at": INSTANT,
    "started_at": MAYBE_INSTANT,
    "ended_at": MAYBE_INSTANT,
    "duration_ms": MAYBE_MS,
    "event_id": MAYBE_TEXT,
    "event_name": MAYBE_TEXT,
    "runner": MAYBE_TEXT,
    "runner_pin": MAYBE_TEXT,
    "wake_at": MAYBE_INSTANT,
}

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {
                        "type": "string",
                        "enum": [c for c, _ in ERROR_CODES.values()]
                        + ["forbidden", "method_not_allowed", "internal_error"],
                    },
                    "message": text(),
                }
            )
        }
    ),
    "ErrorInfo": ERROR_INFO,
    "Attempt": obj(
        {
            "number": {"type": "integer", "minimum": 1},
            "started_at": MAYBE_INSTANT,
            "ended_at": MAYBE_INSTANT,
            "duration_ms": MAYBE_MS,
            "error": nullable(ref("ErrorInfo")),
        }
    ),
    "Step": obj(
        {
            "id": text("The step id (repeated ids get ':2', ':3', ...)."),
            "kind": {"type": "string", "enum": list(STEP_KINDS)},
            "status": {"type": "string", "enum": STEP_STATUSES},
            "attempts": {"type": "integer", "minimum": 0},
            "input": ANY,
            "output": ANY,
            "error": nullable(ref("ErrorInfo")),
            "started_at": MAYBE_INSTANT,
            "ended_at": MAYBE_INSTANT,
            "duration_ms": MAYBE_MS,
            "after": {
                "type": "array",
                "items": text(),
                "description": "Ids of the steps this one directly followed: the graph's edges.",
            },
            "wake_at": MAYBE_INSTANT,
            "child_run_id": MAYBE_TEXT,
            "attempt_log": {"type": "array", "items": ref("Attempt")},
        }
    ),
    "Run": obj(RUN_FIELDS),
    "RunDetail": obj(
        {**RUN_FIELDS, "steps": {"type": "array", "items": ref("Step")}},
    ),
    "RunPage": obj({"runs": {"type": "array", "items": ref("Run")}, "next_cursor": MAYBE_TEXT}),
    "RunStarted": obj(
        {
            "run_id": text(),
            "workflow": text(),
            "app": text(),
            "status": {"type": "string", "enum": list(RUN_STATUSES)},
            "rerun_of": text("The run this one reruns."),
        },
        optional=("rerun_of",),
    ),
    "RunCancelled": obj(
        {
            "run_id": text(),
            "cancelled": {"type": "boolean", "description": "False when it had already ended."},
            "status": {"type": "string", "enum": list(RUN_STATUSES)},
        }
    ),
    "RunResumed": obj({"run_id": text(), "status": {"type": "string", "enum": list(RUN_STATUSES)}}),
    "NewEvent": obj(
        {
            "name": NAME,
            "data": {**ANY, "description": "The event's data: any JSON up to 4 MiB."},
            "id": {**NAME, "description": "Idempotency key: an id is accepted once."},
            "app": {**NAME, "description": "Deliver only to this app."},
        },
        optional=("data", "id", "app"),
    ),
    "StartRun": obj(
        {"workflow": NAME, "data": {**ANY, "description": "The run's input."}, "app": NAME},
        optional=("data", "app"),
    ),
    "SendResult": obj(
        {
            "event_id": text(),
            "run_ids": {"type": "array", "items": text(), "description": "Runs it started."},
            "resumed": {"type": "integer", "minimum": 0, "description": "Runs it resumed."},
        }
    ),
    "Event": obj(
        {
            "id": text(),
            "name": text(),
            "data": ANY,
            "ts": INSTANT,
            "app": MAYBE_TEXT,
            "source_run_id": MAYBE_TEXT,
            "started_run_ids": {"type": "array", "items": text()},
            "resumed": {"type": "integer", "minimum": 0},
        }
    ),
    "EventDetail": obj(
        {
            "id": text(),
            "name": text(),
            "data": ANY,
            "ts": INSTANT,
            "app": MAYBE_TEXT,
            "source_run_id": MAYBE_TEXT,
            "started_run_ids": {"type": "array", "items": text()},
            "resumed": {"type": "integer", "minimum": 0},
            "resumed_run_ids": {"type": "array", "items": text()},
        }
    ),
    "EventPage": obj(
        {"events": {"type": "array", "items": ref("Event")}, "next_cursor": MAYBE_TEXT}
    ),
    "Workflow": obj(
        {
            "app": text(),
            "name": text(),
            "triggers": {"type": "array", "items": text()},
            "counts": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 0},
                "description": "Runs by status.",
            },
        }
    ),
    "Runner": obj(
        {
            "name": text(),
            "apps": {"type": "array", "items": text()},
            "host": text(),
            "pid": {"type": "integer"},
            "started_at": INSTANT,
            "heartbeat_at": INSTANT,
            "stopped_at": MAYBE_INSTANT,
            "alive": {"type": "boolean"},
        }
    ),
    "App": obj(
        {
            "name": text(),
            "workflows": {"type": "array", "items": ref("Workflow")},
            "runners": {"type": "array", "items": ref("Runner")},
        }
    ),
    "AppList": obj({"apps": {"type": "array", "items": ref("App")}}),
    "Health": obj({"status": {"type": "string", "const": "ok"}}),
}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def responses(ok: int, schema: dict[str, Any], description: str, *errors: int) -> dict[str, Any]:
    found: dict[str, Any] = {str(ok): {"description": description, "content": json_content(schema)}}
    for status in sorted({400, 401, *errors}):
        found[str(status)] = {
            "description": ERROR_CODES[status][1],
            "content": json_content(ref("Error")),
        }
    return found


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": text(minLength=1, maxLength=MAX_TEXT, pattern=r"^[^/]+$"),
}
LIMIT = query(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "Page size.",
)
CURSOR = query("cursor", text(maxLength=1024), "next_cursor from the previous page.")
FILTER = text(maxLength=MAX_TEXT)


def body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": json_content(schema)}


def paths() -> dict[str, Any]:
    run_op = {"parameters": [ID_PARAM]}
    return {
        "/api/v1/events": {
            "post": {
                "operationId": "sendEvents",
                "summary": "Send one event, or a list of them.",
                "description": "Starts the runs each event triggers and resumes the runs "
                "waiting for it. A list answers a list of results in the same order.",
                "requestBody": body(
                    {
                        "oneOf": [
                            ref("NewEvent"),
                            {
                                "type": "array",
                                "items": ref("NewEvent"),
                                "minItems": 1,
                                "maxItems": 1000,
                            },
                        ]
                    }
                ),
                "responses": responses(
                    202,
                    {"oneOf": [ref("SendResult"), {"type": "array", "items": ref("SendResult")}]},
                    "Accepted: what each event did.",
                    413,
                    415,
                ),
            },
            "get": {
                "operationId": "listEvents",
                "summary": "The event log, newest first.",
                "parameters": [
                    query("name", FILTER, "Only events with this name."),
                    query("search", FILTER, "An event id or name."),
                    LIMIT,
                    CURSOR,
                ],
                "responses": responses(200, ref("EventPage"), "A page of events."),
            },
        },
        "/api/v1/events/{id}": {
            "get": {
                "operationId": "getEvent",
                "summary": "One event, with the runs it started and resumed.",
                **run_op,
                "responses": responses(200, ref("EventDetail"), "The event.", 404),
            }
        },
        "/api/v1/runs": {
            "post": {
                "operationId": "startRun",
                "summary": "Start a run of a workflow.",
                "requestBody": body(ref("StartRun")),
                "responses": responses(201, ref("RunStarted"), "The new run.", 404, 409, 413, 415),
            },
            "get": {
                "operationId": "listRuns",
                "summary": "Runs, newest first, filtered.",
                "parameters": [
                    query("status", {"type": "string", "enum": list(RUN_STATUSES)}, "Run status."),
                    query("workflow", FILTER, "Workflow name."),
                    query("app", FILTER, "App name."),
                    query("search", FILTER, "A run id, an event id, or a parent run id."),
                    query("parent_run_id", FILTER, "Only children of this run."),
                    query(
                        "created_after", INSTANT, "Created at or after (ISO-8601; no offset: UTC)."
                    ),
                    query("created_before", INSTANT, "Created before (ISO-8601; no offset: UTC)."),
                    LIMIT,
                    CURSOR,
                ],
                "responses": responses(200, ref("RunPage"), "A page of runs (without steps)."),
            },
        },
        "/api/v1/runs/{id}": {
            "get": {
                "operationId": "getRun",
                "summary": "One run with its steps, attempts and graph edges.",
                **run_op,
                "responses": responses(200, ref("RunDetail"), "The run.", 404),
            }
        },
        "/api/v1/runs/{id}/cancel": {
            "post": {
                "operationId": "cancelRun",
                "summary": "Cancel a run, its parked waits, running steps and children.",
                **run_op,
                "responses": responses(
                    200, ref("RunCancelled"), "Cancelled (or already ended).", 404
                ),
            }
        },
        "/api/v1/runs/{id}/rerun": {
            "post": {
                "operationId": "rerunRun",
                "summary": "Start a new run of the same workflow with the same input.",
                **run_op,
                "responses": responses(201, ref("RunStarted"), "The new run.", 404, 413),
            }
        },
        "/api/v1/runs/{id}/resume": {
            "post": {
                "operationId": "resumeRun",
                "summary": "Continue a failed run from its failed step.",
                **run_op,
                "responses": responses(200, ref("RunResumed"), "Resumed.", 404, 409),
            }
        },
        "/api/v1/apps": {
            "get": {
                "operationId": "listApps",
                "summary": "Apps with their workflows (triggers, counts by status) and runners.",
                "responses": responses(200, ref("AppList"), "Every registered app."),
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness; never needs a token.",
                "security": [],
                "responses": {
                    "200": {"description": "Serving.", "content": json_content(ref("Health"))}
                },
            }
        },
    }


def document() -> dict[str, Any]:
    from durablex import __version__

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Durablex",
            "version": __version__,
            "description": "Send events, start, inspect and control durable workflow runs. "
            'Every error is a 4xx with {"error": {"code", "message"}}. When the server '
            "has a token, send Authorization: Bearer <token>.",
        },
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }
