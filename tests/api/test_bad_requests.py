"""Malformed requests: every one answers a 4xx with {"error": {"code", "message"}}."""

from __future__ import annotations

import httpx

from .support import assert_error

JSON = {"content-type": "application/json"}


async def test_malformed_bodies_are_400(api: httpx.AsyncClient) -> None:
    for raw in [
        b"{",
        b"",
        b"   ",
        b"{'name': 'x'}",
        b"\xff\xfe{}",
        b'{"name": "\xc3\x28"}',
        b"NaN",
    ]:
        response = await api.post("/api/v1/events", content=raw, headers=JSON)
        assert_error(response, 400, "bad_request")


async def test_deep_nesting_is_400(api: httpx.AsyncClient) -> None:
    too_deep_for_parser = b'{"name": "x", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await api.post("/api/v1/events", content=too_deep_for_parser, headers=JSON)
    assert_error(response, 400, "bad_request")
    too_deep_for_engine = b'{"workflow": "echo", "data": ' + b"[" * 500 + b"]" * 500 + b"}"
    response = await api.post("/api/v1/runs", content=too_deep_for_engine, headers=JSON)
    assert "nesting deeper" in assert_error(response, 400, "bad_request")


async def test_wrong_types_and_unknown_fields_are_400(api: httpx.AsyncClient) -> None:
    for body in [
        {"workflow": 1},
        {"workflow": None},
        {"data": {}},
        {"workflow": "echo", "app": ["x"]},
        {"workflow": "echo", "input": {}},
        ["echo"],
    ]:
        message = assert_error(await api.post("/api/v1/runs", json=body), 400, "bad_request")
        assert "workflow" in message or "field" in message or "object" in message


async def test_only_json_bodies_are_accepted(api: httpx.AsyncClient) -> None:
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""]:
        response = await api.post(
            "/api/v1/events", content=b'{"name": "x"}', headers={"content-type": content_type}
        )
        assert_error(response, 415, "unsupported_media_type")
    charset = await api.post(
        "/api/v1/events",
        content=b'{"name": "x"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 202


async def test_payload_limits(serve: object) -> None:
    from .conftest import Serve

    assert callable(serve)
    start: Serve = serve
    api = await start(max_body_bytes=64 * 1024, max_data_bytes=16 * 1024)
    big = {"name": "x", "data": "a" * 100_000}
    assert_error(await api.post("/api/v1/events", json=big), 413, "payload_too_large")

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b" " * 1024

    streamed = await api.post("/api/v1/events", content=chunks(), headers=JSON)
    assert_error(streamed, 413, "payload_too_large")

    over_engine_limit = {"workflow": "echo", "data": "a" * 20_000}
    message = assert_error(
        await api.post("/api/v1/runs", json=over_engine_limit), 413, "payload_too_large"
    )
    assert "16384" in message
    batch = [{"name": "x", "data": "a" * 20_000}]
    assert_error(await api.post("/api/v1/events", json=batch), 413, "payload_too_large")


async def test_default_limits_take_the_engines_four_mib(api: httpx.AsyncClient) -> None:
    just_over = {"name": "x", "data": "a" * (4 * 1024 * 1024)}
    assert_error(await api.post("/api/v1/events", json=just_over), 413, "payload_too_large")
    fits = {"name": "x", "data": "a" * (4 * 1024 * 1024 - 100)}
    assert (await api.post("/api/v1/events", json=fits)).status_code == 202
    way_over = b'{"name": "x", "data": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    response = await api.post("/api/v1/events", content=way_over, headers=JSON)
    assert_error(response, 413, "payload_too_large")


async def test_unknown_routes_and_methods(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/api/v1/nothing"), 404, "not_found")
    assert_error(await api.get("/api/v1/runs/"), 404, "not_found")
    assert_error(await api.delete("/api/v1/runs"), 405, "method_not_allowed")
    assert_error(await api.get("/api/v1/runs/x/cancel"), 405, "method_not_allowed")
    assert_error(await api.put("/api/v1/events"), 405, "method_not_allowed")


async def test_healthz_and_openapi(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    doc = (await api.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
