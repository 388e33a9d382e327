"""Hostile requests beyond schemathesis, and cancels racing runs that complete.

Every answer is a 4xx with the error shape (never a 500 or a hang), and no run is corrupted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import durablex
from durablex.server.app import create_app

from .support import assert_error

JSON = {"content-type": "application/json"}

racing = durablex.App("api-racing")


@racing.workflow("chain", retries=0)
async def chain(ctx: durablex.Context) -> Any:
    total = 0
    for i in range(ctx.data["steps"]):

        async def one(i: int = i) -> int:
            await asyncio.sleep(0.001 * (i % 3))
            return i

        total += await ctx.step.run(f"s{i}", one)
        if i == 2:
            await ctx.step.sleep("nap", 5)
    return total


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    db = f"sqlite:///{tmp_path}/robust.db"
    async with durablex.Runner(racing, db=db, name="robust-runner"):
        app = create_app(db)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            yield client


async def test_hostile_bodies_paths_and_queries_are_4xx(live: httpx.AsyncClient) -> None:
    bodies = [
        b'{"name": "x", "data": "\xed\xa0\x80"}',  # a UTF-8-encoded surrogate
        b'{"name": "x", "data": "\\ud800"}',  # a lone surrogate escape
        b'{"name": "x\x00y"}',
        b'{"name": "x", "data": 1e400}',
        b'{"name": "x", "data": 123456789012345678901234567890}',
        b'{"name": "' + b"n" * 10_000 + b'"}',
        b'{"name": "x", "app": "' + b"\xff" * 10 + b'"}',
        b'{"name": "x", "id": "' + b"i" * 1000 + b'"}',
        b'{"name": "x"' + b', "name": "y"' * 10 + b"}",
        b'{"name": "x", "data": ' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}",
        b"[" + b'{"name": "x"},' * 5000 + b"1]",
        b'{"workflow": "chain", "data": {"steps": "many"}}',
        b"\xef\xbb\xbf{}",  # a byte order mark
        b'{"name": ""}',
    ]
    for raw in bodies:
        for path in ("/api/v1/events", "/api/v1/runs"):
            response = await live.post(path, content=raw, headers=JSON)
            assert response.status_code < 500, (raw[:60], response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}
    for path in (
        "/api/v1/runs/%ff%fe",
        "/api/v1/runs/%00",
        "/api/v1/runs/..%2F..%2Fetc",
        "/api/v1/events/%ff",
        "/api/v1/runs?status=%ff",
        "/api/v1/runs?workflow=%ff%fe&limit=5",
        "/api/v1/runs?cursor=%00%00",
        "/api/v1/events?name=%ff",
        "/api/v1/runs?limit=99999999999999999999999",
    ):
        response = await live.get(path)
        assert response.status_code < 500, (path, response.text)
        assert response.status_code in (200, 400, 404), (path, response.text)


async def test_unknown_workflows_and_apps(live: httpx.AsyncClient) -> None:
    for body in (
        {"workflow": "ghost"},
        {"workflow": "chain", "app": "nobody"},
        {"workflow": "ghost", "app": "api-racing"},
    ):
        assert_error(await live.post("/api/v1/runs", json=body), 404, "not_found")
    # an event for an app nobody serves is stored, starts nothing and resumes nothing
    sent = await live.post("/api/v1/events", json={"name": "x", "app": "nobody"})
    assert sent.status_code == 202 and sent.json()["run_ids"] == []


@pytest.mark.timeout(60)
async def test_cancels_racing_completion_end_each_run_one_way(live: httpx.AsyncClient) -> None:
    rng = random.Random(7)
    count = 60
    started = await asyncio.gather(
        *(
            live.post("/api/v1/runs", json={"workflow": "chain", "data": {"steps": 6}})
            for _ in range(count)
        )
    )
    run_ids = [r.json()["run_id"] for r in started]

    async def cancel_later(run_id: str) -> httpx.Response:
        await asyncio.sleep(rng.uniform(0, 0.8))
        return await live.post(f"/api/v1/runs/{run_id}/cancel")

    answers = await asyncio.wait_for(
        asyncio.gather(*(cancel_later(r) for r in run_ids), *(cancel_later(r) for r in run_ids)),
        timeout=30,
    )
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] in ("completed", "cancelled"), answer.json()
    said_cancelled = {a.json()["run_id"] for a in answers if a.json()["cancelled"]}

    async def settled(run_id: str) -> dict[str, Any]:
        for _ in range(500):
            body: dict[str, Any] = (await live.get(f"/api/v1/runs/{run_id}")).json()
            if body["status"] in ("completed", "cancelled", "failed"):
                return body
            await asyncio.sleep(0.02)
        raise AssertionError(f"run {run_id} never ended")

    first = [await settled(r) for r in run_ids]
    await asyncio.sleep(0.3)  # any late write of a stale pass would land by now
    outcomes = []
    for run_id, before in zip(run_ids, first, strict=True):
        run = (await live.get(f"/api/v1/runs/{run_id}")).json()
        assert run["status"] == before["status"] and run["output"] == before["output"]
        statuses = [s["status"] for s in run["steps"]]
        if run["status"] == "completed":
            assert run_id not in said_cancelled
            assert run["output"] == sum(range(6))
            assert statuses == ["completed"] * len(statuses) and len(statuses) == 7
        else:
            assert run["status"] == "cancelled", run
            assert run_id in said_cancelled
            assert run["output"] is None
            assert not {"running", "sleeping", "waiting"} & set(statuses), statuses
        outcomes.append(run["status"])
    # exactly one cancel per cancelled run said True
    assert sum(1 for a in answers if a.json()["cancelled"]) == outcomes.count("cancelled")
    assert 0 < outcomes.count("cancelled") < count, outcomes
