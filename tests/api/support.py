"""Helpers for the API tests: polling for a run's status and checking the error shape."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, what: str = "condition"
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def run_with_status(api: httpx.AsyncClient, run_id: str, *statuses: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await api.get(f"/api/v1/runs/{run_id}")
        body: dict[str, Any] = response.json()
        return body if body["status"] in statuses else None

    found: dict[str, Any] = await eventually(check, what=f"run {run_id} to be {statuses}")
    return found


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    assert message
    return message
