from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import durablex
from durablex.core.clock import ManualClock


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/x.db"


@pytest.fixture
async def client(db: str) -> AsyncIterator[durablex.AsyncClient]:
    async with durablex.AsyncClient(db) as c:
        yield c


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
