"""The one error shape of the HTTP API: ``{"error": {"code", "message"}}`` with a 4xx status."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from durablex.server.jsonio import json_response

log = logging.getLogger("durablex.server")

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


class ApiError(Exception):
    """An expected failure of a request: its status, a short slug and a readable message."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/api" or path == "/openapi.json"


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if wants_json(request):
        body = {"error": {"code": code, "message": message}}
        return json_response(body, status=status, headers=headers)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Durablex: "
        f"{status}</title></head><body><h1>{status} {html.escape(code)}</h1>"
        f"<p>{html.escape(message)}</p><p><a href='/'>Back to the console</a></p></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=headers)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.code, exc.message)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    code = STATUS_CODES.get(status, "error")
    message = {
        404: f"no such resource: {request.method} {request.url.path}",
        405: f"method {request.method} is not allowed on {request.url.path}",
    }.get(status, str(exc.detail))
    return error_response(request, status, code, message, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return error_response(request, 500, "internal_error", "internal server error")
