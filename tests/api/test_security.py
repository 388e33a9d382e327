"""Tokens, the console's login and session cookie, CSRF and origin checks, security headers."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from durablex.server.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SecurityMiddleware,
    csrf_token,
    session_value,
    verify_csrf,
)
from durablex.server.serve import is_loopback

from .conftest import BASE, TOKEN, Serve
from .support import assert_error

AUTH = {"authorization": f"Bearer {TOKEN}"}


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, html
    return match.group(1)


async def test_without_a_token_everything_is_open(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/runs")).status_code == 200
    assert (await api.get("/openapi.json")).status_code == 200
    assert (await api.get("/login")).status_code == 303


async def test_a_token_guards_every_api_route(serve: Serve) -> None:
    api = await serve(token=TOKEN)
    assert (await api.get("/healthz")).status_code == 200
    for method, path in [
        ("GET", "/api/v1/runs"),
        ("GET", "/api/v1/runs/x"),
        ("POST", "/api/v1/runs"),
        ("POST", "/api/v1/events"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/apps"),
        ("POST", "/api/v1/runs/x/cancel"),
        ("GET", "/openapi.json"),
        ("GET", "/api/v1/nothing"),
    ]:
        response = await api.request(method, path)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    for bad in ["Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", "Bearer "]:
        response = await api.get("/api/v1/runs", headers={"authorization": bad})
        assert_error(response, 401, "unauthorized")
    assert (await api.get("/api/v1/runs", headers=AUTH)).status_code == 200
    lower = {"authorization": f"bearer {TOKEN}"}
    assert (await api.get("/api/v1/runs", headers=lower)).status_code == 200
    sent = await api.post("/api/v1/events", json={"name": "hello"}, headers=AUTH)
    assert sent.status_code == 202


async def test_console_pages_redirect_to_login_and_the_cookie_opens_them(serve: Serve) -> None:
    api = await serve(token=TOKEN)
    page = await api.get("/", params={"view": "x"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2F%3Fview%3Dx"
    static = await api.get("/static/anything.css")
    assert static.status_code == 303

    form = await api.get("/login", params={"next": "/runs/abc"})
    assert form.status_code == 200
    assert "DURABLEX_TOKEN" in form.text and TOKEN not in form.text
    csrf = hidden(form.text, "csrf_token")
    assert api.cookies.get(CSRF_COOKIE) == csrf
    assert hidden(form.text, "next") == "/runs/abc"

    wrong = await api.post("/login", data={"token": "nope", "csrf_token": csrf, "next": "/x"})
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
    assert "not the server" in wrong.text

    ok = await api.post("/login", data={"token": TOKEN, "csrf_token": csrf, "next": "/runs/abc"})
    assert ok.status_code == 303 and ok.headers["location"] == "/runs/abc"
    set_cookie = ok.headers["set-cookie"]
    assert f"{SESSION_COOKIE}={session_value(TOKEN)}" in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert TOKEN not in set_cookie

    # the cookie now opens pages and read-only API calls, but not API writes
    assert (await api.get("/api/v1/runs")).status_code == 200
    assert (await api.get("/openapi.json")).status_code == 200
    write = await api.post("/api/v1/events", json={"name": "x"})
    assert_error(write, 401, "unauthorized")
    api.cookies.set(SESSION_COOKIE, "0" * 64)
    assert_error(await api.get("/api/v1/runs"), 401, "unauthorized")


async def test_login_redirects_only_within_the_server(serve: Serve) -> None:
    api = await serve(token=TOKEN)
    csrf = hidden((await api.get("/login")).text, "csrf_token")
    for target in ["https://evil.example/", "//evil.example/x", "/\\evil", "javascript:x"]:
        response = await api.post(
            "/login", data={"token": TOKEN, "csrf_token": csrf, "next": target}
        )
        assert response.headers["location"] == "/"


async def test_login_needs_the_csrf_token_and_the_same_origin(serve: Serve) -> None:
    api = await serve(token=TOKEN)
    csrf = hidden((await api.get("/login")).text, "csrf_token")
    missing = await api.post("/login", data={"token": TOKEN})
    assert missing.status_code == 403 and "CSRF" in missing.text
    forged = await api.post("/login", data={"token": TOKEN, "csrf_token": "f" * 43})
    assert forged.status_code == 403
    cross = await api.post(
        "/login",
        data={"token": TOKEN, "csrf_token": csrf},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and "cross-origin" in cross.text
    referer = await api.post(
        "/login",
        data={"token": TOKEN, "csrf_token": csrf},
        headers={"referer": "https://evil.example/page"},
    )
    assert referer.status_code == 403
    same = await api.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf}, headers={"origin": BASE}
    )
    assert same.status_code == 303


def csrf_app() -> Starlette:
    async def show(request: Request) -> Response:
        return PlainTextResponse(csrf_token(request))

    async def act(request: Request) -> Response:
        verify_csrf(request, await request.form())
        return PlainTextResponse("done")

    from durablex.server.errors import ApiError, handle_api_error

    return Starlette(
        routes=[Route("/form", show), Route("/act", act, methods=["POST"])],
        exception_handlers={ApiError: handle_api_error},
        middleware=[],
    )


async def test_verify_csrf_for_console_actions() -> None:
    app = SecurityMiddleware(csrf_app(), token=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as web:
        first = await web.get("/form")
        token = first.text
        cookie = first.headers["set-cookie"]
        assert f"{CSRF_COOKIE}={token}" in cookie and "SameSite=Strict" in cookie
        again = await web.get("/form")
        assert again.text == token and "set-cookie" not in again.headers
        assert (await web.post("/act", data={"csrf_token": token})).text == "done"
        assert (await web.post("/act", data={"csrf_token": "x" * 43})).status_code == 403
        assert (await web.post("/act", data={})).status_code == 403
        evil = await web.post(
            "/act", data={"csrf_token": token}, headers={"origin": "http://evil.example"}
        )
        assert evil.status_code == 403
        null = await web.post("/act", data={"csrf_token": token}, headers={"origin": "null"})
        assert null.status_code == 403
        web.cookies.clear()
        assert (await web.post("/act", data={"csrf_token": token})).status_code == 403


async def test_security_headers_on_every_response(serve: Serve) -> None:
    api = await serve()
    for path in ["/healthz", "/api/v1/runs", "/api/v1/runs/missing", "/openapi.json", "/nope"]:
        headers = (await api.get(path)).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"


async def test_allowed_hosts_refuse_dns_rebinding(serve: Serve) -> None:
    api = await serve(allowed_hosts=frozenset({"localhost", "127.0.0.1"}))
    assert_error(await api.get("/api/v1/runs"), 400, "bad_request")
    local = await api.get("/api/v1/runs", headers={"host": "127.0.0.1:8233"})
    assert local.status_code == 200


def test_create_app_rejects_an_empty_token() -> None:
    from durablex.server.app import create_app

    with pytest.raises(ValueError, match="non-empty"):
        create_app(token="  ")


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "::", "10.0.0.1", "example.com", ""])


async def test_console_actions_need_csrf_and_same_origin(serve: Serve) -> None:
    web = await serve(token=TOKEN)
    login = await web.get("/login")
    csrf = hidden(login.text, "csrf_token")
    assert (await web.post("/login", data={"token": TOKEN, "csrf_token": csrf})).status_code == 303
    started = await web.post("/api/v1/runs", json={"workflow": "nap"}, headers=AUTH)
    run_id = started.json()["run_id"]
    assert (await web.get(f"/runs/{run_id}")).status_code == 200
    form = {"csrf_token": csrf, "confirmed": "1"}

    no_token = await web.post(f"/runs/{run_id}/cancel", data={"confirmed": "1"})
    assert no_token.status_code == 403
    cross = await web.post(
        f"/runs/{run_id}/cancel", data=form, headers={"origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    status = (await web.get(f"/api/v1/runs/{run_id}")).json()["status"]
    assert status != "cancelled"

    done = await web.post(f"/runs/{run_id}/cancel", data=form, headers={"origin": BASE})
    assert done.status_code == 303
    assert (await web.get(f"/api/v1/runs/{run_id}")).json()["status"] == "cancelled"

    web.cookies.delete("durablex_session")
    logged_out = await web.post(f"/runs/{run_id}/rerun", data=form)
    assert logged_out.status_code == 401
