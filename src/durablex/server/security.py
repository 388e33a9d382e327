"""Bearer-token auth, the console's session cookie, CSRF protection and security headers.

With a token configured, every route but ``/healthz`` and ``/login`` needs either
``Authorization: Bearer <token>`` or the session cookie that ``/login`` sets (an HMAC of the
token, so the cookie never holds the token itself). The cookie authorizes console pages, static
files and read-only API calls; an API write needs the bearer token. Console forms are protected
by a double-submit CSRF token plus an Origin/Referer check (see ``verify_csrf``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from durablex.server.errors import ApiError, error_response

SESSION_COOKIE = "durablex_session"
CSRF_COOKIE = "durablex_csrf"
CSRF_FIELD = "csrf_token"
_CSRF_STATE = "durablex_csrf_new"
PUBLIC_PATHS = frozenset({"/healthz", "/login"})
SAFE_METHODS = frozenset({"GET", "HEAD"})

SECURITY_HEADERS = {
    # Scripts and styles only from our own /static: no inline script or style attribute runs.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"durablex console session", hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path in ("/api", "/openapi.json")


def is_authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(given.strip(), token):
        return True
    if _is_api(request.url.path) and request.method not in SAFE_METHODS:
        return False
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


# -- CSRF --------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The CSRF token for a form on this page: the cookie's, or a new one set with the response."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 16 <= len(existing) <= 128:
        return existing
    state = request.scope.setdefault("state", {})
    issued: str | None = state.get(_CSRF_STATE)
    if issued is None:
        issued = secrets.token_urlsafe(32)
        state[_CSRF_STATE] = issued
    return issued


def same_origin(request: Request) -> bool:
    """False when Origin (or, without it, Referer) names another host than Host."""
    host = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    source = origin if origin is not None else request.headers.get("referer")
    if source is None:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc.lower() == host


def verify_csrf(request: Request, form: Mapping[str, Any]) -> None:
    """Raise a 403 unless this form POST came from our own pages.

    Part of every console action: the form must echo the CSRF cookie in ``csrf_token``
    (double submit) and the request must not come from another origin.
    """
    if not same_origin(request):
        raise ApiError(403, "cross-origin request refused (Origin/Referer differs from Host)")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = form.get(CSRF_FIELD)
    if (
        not cookie
        or not isinstance(field, str)
        or not hmac.compare_digest(cookie.encode(), field.encode())
    ):
        raise ApiError(403, "missing or invalid CSRF token: reload the page and try again")


def _cookie_header(name: str, value: str, *, secure: bool, http_only: bool) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    cookie[name]["path"] = "/"
    cookie[name]["samesite"] = "Strict"
    cookie[name]["httponly"] = http_only
    cookie[name]["secure"] = secure
    return cookie.output(header="").strip()


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.headers.append(
        "set-cookie",
        _cookie_header(
            SESSION_COOKIE,
            session_value(token),
            secure=request.url.scheme == "https",
            http_only=True,
        ),
    )


# -- middleware --------------------------------------------------------------------------


class SecurityMiddleware:
    """Auth on every route but the public ones, security headers on every response, and the
    CSRF cookie for pages that rendered a form."""

    def __init__(
        self, app: ASGIApp, *, token: str | None, allowed_hosts: frozenset[str] | None = None
    ) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        request = Request(scope)
        send_secured = self._secured_send(scope, send, secure=request.url.scheme == "https")
        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)

    def _refusal(self, request: Request) -> Response | None:
        if self.allowed_hosts is not None:
            host = request.headers.get("host", "").lower().rsplit(":", 1)[0].strip("[]")
            if host not in self.allowed_hosts:
                return error_response(request, 400, "bad_request", "unexpected Host header")
        path = request.url.path
        if path in PUBLIC_PATHS or is_authorized(request, self.token):
            return None
        if _is_api(path):
            return error_response(
                request,
                401,
                "unauthorized",
                "missing or invalid bearer token: send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if request.method in SAFE_METHODS:
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return error_response(request, 401, "unauthorized", "log in first at /login")

    def _secured_send(self, scope: Scope, send: Send, *, secure: bool) -> Send:
        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                issued = scope["state"].get(_CSRF_STATE)
                if issued:
                    headers.append(
                        "set-cookie",
                        _cookie_header(CSRF_COOKIE, issued, secure=secure, http_only=True),
                    )
            await send(message)

        return secured
