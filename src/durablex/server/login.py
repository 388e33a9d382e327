"""``/login``: trade the token for the console's session cookie (only when a token is set)."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from durablex.server.errors import ApiError
from durablex.server.security import (
    CSRF_FIELD,
    csrf_token,
    set_session_cookie,
    token_matches,
    verify_csrf,
)

MAX_TOKEN_CHARS = 4096


def safe_next(value: object) -> str:
    """Only a path on this server: never ``//host`` or ``https://host``, which would redirect
    the user away after login."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 32 for c in value):
        return "/"
    return value


def page(request: Request, next_path: str, message: str = "", status: int = 200) -> Response:
    notice = f"<p role='alert'>{html.escape(message)}</p>" if message else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Durablex: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Durablex</h1>
<p>This server needs its token (DURABLEX_TOKEN or --token).</p>{notice}
<form method="post" action="/login">
<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf_token(request))}">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label>Token <input type="password" name="token" autocomplete="current-password" required
 autofocus></label>
<button type="submit">Log in</button></form></main></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def login_form(request: Request) -> Response:
    if request.app.state.token is None:
        return RedirectResponse("/", status_code=303)
    return page(request, safe_next(request.query_params.get("next")))


async def login_submit(request: Request) -> Response:
    token: str | None = request.app.state.token
    form = await request.form(max_files=0, max_fields=10)
    verify_csrf(request, form)
    next_path = safe_next(form.get("next"))
    if token is None:
        return RedirectResponse(next_path, status_code=303)
    given = form.get("token")
    if not isinstance(given, str) or len(given) > MAX_TOKEN_CHARS:
        raise ApiError(400, "the form needs a token field")
    if not token_matches(given.strip(), token):
        return page(request, next_path, "That token is not the server's token.", status=401)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, token)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
    ]
