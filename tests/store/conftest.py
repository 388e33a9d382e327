from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from durablex.core.clock import ManualClock
from durablex.store.base import Store
from durablex.store.url import open_store
from pgtest import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/x.db"
        return
    with fresh_database("s") as pg_url:
        yield pg_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(url: str, clock: ManualClock) -> AsyncIterator[Store]:
    s = open_store(url, clock=clock)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
