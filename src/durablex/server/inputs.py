"""Reading requests: JSON bodies, body fields and query parameters, each checked with a 400."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request

from durablex.core.times import datetime_to_us
from durablex.records import RUN_STATUSES
from durablex.server.errors import ApiError, bad_request
from durablex.server.jsonio import is_json_media_type

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_TEXT = 255
MAX_CURSOR = 1024


async def read_json(request: Request) -> Any:
    """The request's JSON body.

    Only JSON media types are accepted: a cross-site HTML form cannot send one without a CORS
    preflight (which this server never grants), so no API write can be forged from a browser.
    """
    content_type = request.headers.get("content-type", "")
    if not is_json_media_type(content_type):
        raise ApiError(
            415,
            "the request body must be JSON sent with Content-Type: application/json "
            f"(got {content_type[:80]!r})",
        )
    body = await request.body()
    if not body.strip():
        raise bad_request("the request body is empty; expected a JSON document")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid UTF-8 JSON: {exc}") from None


def check_fields(
    value: object, *, what: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, Any]:
    """A JSON object with these fields: unknown fields are rejected, so typos are not silent."""
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object, got {json_type(value)}")
    missing = [name for name in required if name not in value]
    if missing:
        raise bad_request(f"{what} is missing the field(s) {', '.join(map(repr, missing))}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        allowed = ", ".join(repr(name) for name in (*required, *optional))
        raise bad_request(f"{what} has unknown field(s) {shown}; allowed: {allowed}")
    return value


def text_field(body: Mapping[str, Any], name: str, *, what: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{what} field {name!r} must be a string, got {json_type(value)}")
    if not value.strip() or len(value) > MAX_TEXT:
        raise bad_request(
            f"{what} field {name!r} must be a non-empty string of at most {MAX_TEXT} characters"
        )
    return value


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_TEXT:
        raise bad_request(f"query parameter {name!r} must be at most {MAX_TEXT} characters")
    return value


def query_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,7}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_request(f"limit must be an integer between 1 and {MAX_LIMIT}, got {raw[:40]!r}")
    limit = int(raw)
    return limit


def query_cursor(request: Request) -> str | None:
    value = request.query_params.get("cursor")
    if value is None or value == "":
        return None
    if len(value) > MAX_CURSOR:
        raise bad_request("invalid cursor: use next_cursor from a previous page")
    return value


def query_status(request: Request) -> str | None:
    value = request.query_params.get("status")
    if value is None or value == "":
        return None
    if value not in RUN_STATUSES:
        raise bad_request(
            f"unknown run status {value[:40]!r}; expected one of {', '.join(RUN_STATUSES)}"
        )
    return value


def query_time_us(request: Request, name: str) -> int | None:
    """An ISO-8601 instant (no offset means UTC) as epoch microseconds."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return datetime_to_us(parsed)
    except (ValueError, OverflowError):
        raise bad_request(
            f"{name} must be an ISO-8601 date-time such as 2026-01-01T12:00:00Z, got {raw[:60]!r}"
        ) from None
