from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pgtest import fresh_database

from .harness import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with fresh_database("d") as url:
        c = Cluster(url=url, root=tmp_path)
        try:
            yield c
        finally:
            c.close()
