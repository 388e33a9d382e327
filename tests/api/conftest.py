"""The HTTP API in process: httpx over ASGI, the app's lifespan, and a real Runner on a real
SQLite file in the same event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import durablex
from durablex.server.app import create_app

shop = durablex.App("api-shop")
other = durablex.App("api-other")


@shop.workflow("order", on="order.created", retries=0)
async def order(ctx: durablex.Context) -> dict[str, Any]:
    total = await ctx.step.run("total", {"prices": ctx.data["prices"]}, lambda i: sum(i["prices"]))
    left, right = await asyncio.gather(
        ctx.step.run("left", lambda: "L"), ctx.step.run("right", lambda: "R")
    )
    approval = await ctx.step.wait_for_event("approve", event="order.approved", timeout="1h")
    return {"total": total, "parts": left + right, "approval": approval}


@shop.workflow("echo")
async def echo(ctx: durablex.Context) -> Any:
    return await ctx.step.run("echo", lambda: ctx.data)


@shop.workflow("fails", retries=0)
async def fails(ctx: durablex.Context) -> None:
    await ctx.step.run("boom", lambda: 1 / 0)


@shop.workflow("nap")
async def nap(ctx: durablex.Context) -> None:
    await ctx.step.sleep("nap", "1h")


@shop.workflow("shared")
async def shared_in_shop(ctx: durablex.Context) -> str:
    return "shop"


@other.workflow("shared")
async def shared_in_other(ctx: durablex.Context) -> str:
    return "other"


TOKEN = "s3cret-token-for-tests"
BASE = "http://testserver"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/api.db"


Serve = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def serve(db: str) -> AsyncIterator[Serve]:
    """``await serve(token=..., **create_app_options)``: an httpx client on a live app."""
    async with durablex.Runner(shop, other, db=db, name="api-runner") as _runner:
        stack: list[tuple[Starlette, Any, httpx.AsyncClient]] = []

        async def start(**options: Any) -> httpx.AsyncClient:
            app = create_app(db, **options)
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
            stack.append((app, lifespan, client))
            return client

        try:
            yield start
        finally:
            for _app, lifespan, client in reversed(stack):
                await client.aclose()
                await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def api(serve: Serve) -> httpx.AsyncClient:
    return await serve()
