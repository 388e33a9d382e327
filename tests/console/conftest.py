from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import durablex
from durablex.server.app import create_app

from . import hostile_app


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/console.db"


@pytest.fixture
async def client(db: str) -> AsyncIterator[durablex.AsyncClient]:
    async with durablex.AsyncClient(db) as c:
        yield c


@pytest.fixture
async def http(client: durablex.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The whole server (API, console, static files) in-process, sharing ``client``."""
    app = create_app(client=client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as h:
        yield h


async def run_to_end(db: str, event: str, data: Any = None) -> str:
    """Send ``event`` with the hostile app's runner up, and wait for the run it starts."""
    async with durablex.Runner(hostile_app.app, db=db), durablex.AsyncClient(db) as c:
        sent = await c.send(event, data)
        run_id = sent.run_ids[0]
        with contextlib.suppress(durablex.RunFailedError):
            await c.handle(run_id).result(timeout=60)
    return run_id
