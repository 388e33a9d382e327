from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import durablex
from durablex.core.clock import ManualClock
from pgtest import fresh_database

# Tests that look inside the SQLite file itself run on SQLite only.
SQLITE_ONLY_MODULES = {"test_long_steps", "test_store_files"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        backends = ["sqlite"] if module in SQLITE_ONLY_MODULES else ["sqlite", "postgres"]
        metafunc.parametrize("backend", backends)


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/x.db"
        return
    with fresh_database() as url:
        yield url


@pytest.fixture
async def client(db: str) -> AsyncIterator[durablex.AsyncClient]:
    async with durablex.AsyncClient(db) as c:
        yield c


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
