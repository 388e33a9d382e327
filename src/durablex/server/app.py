"""The HTTP server: the JSON API, its OpenAPI document, the console and its static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from durablex.client import AsyncClient
from durablex.core.clock import Clock
from durablex.core.serialization import DEFAULT_MAX_BYTES
from durablex.server import api, console, login, openapi
from durablex.server.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_unexpected,
)
from durablex.server.jsonio import json_response
from durablex.server.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from durablex.server.security import SecurityMiddleware

STATIC_DIR = Path(__file__).parent / "static"


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def openapi_json(request: Request) -> Response:
    return json_response(request.app.state.openapi)


def create_app(
    db: object = None,
    *,
    token: str | None = None,
    clock: Clock | None = None,
    client: AsyncClient | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_data_bytes: int = DEFAULT_MAX_BYTES,
    allowed_hosts: frozenset[str] | None = None,
) -> Starlette:
    """The ASGI app. It opens an ``AsyncClient`` on ``db`` (or uses ``client``, which the
    caller keeps owning) in its lifespan; ``token`` guards every route but ``/healthz``."""
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ValueError("the token must be a non-empty string")
    owned = client is None
    the_client = client if client is not None else AsyncClient(db, clock=clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await the_client.__aenter__()
        try:
            yield
        finally:
            if owned:
                await the_client.aclose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Mount("/api/v1", app=Router(routes=api.routes(), redirect_slashes=False)),
        *login.routes(),
        *console.routes(),
    ]
    if STATIC_DIR.is_dir():
        routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityMiddleware, token=token, allowed_hosts=allowed_hosts),
            Middleware(BodyLimitMiddleware, max_bytes=max_body_bytes),
        ],
        exception_handlers={
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.client = the_client
    app.state.token = token
    app.state.max_data_bytes = max_data_bytes
    app.state.openapi = openapi.document()
    return app
