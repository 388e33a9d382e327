"""A running runner raises Python's garbage-collector thresholds from their defaults, and puts
them back when the last runner stops; thresholds a program chose are left alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

import durablex
from durablex.runner.collector import PYTHON_DEFAULT, TUNED
from durablex.store.base import StoreError


@pytest.fixture(autouse=True)
def python_defaults() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*PYTHON_DEFAULT)
    yield
    gc.set_threshold(*saved)


def app() -> durablex.App:
    made = durablex.App("gc")

    @made.workflow("wf")
    async def wf(ctx: durablex.Context) -> int:
        return 1

    return made


async def test_thresholds_are_raised_while_runners_run_and_restored_after_the_last(
    db: str,
) -> None:
    async with durablex.Runner(app(), db=db, name="one"):
        assert gc.get_threshold() == TUNED
        async with durablex.Runner(app(), db=db, name="two"):
            assert gc.get_threshold() == TUNED
        assert gc.get_threshold() == TUNED  # "one" still runs
    assert gc.get_threshold() == PYTHON_DEFAULT


async def test_thresholds_a_program_chose_are_left_alone(db: str) -> None:
    gc.set_threshold(1234, 5, 6)
    async with durablex.Runner(app(), db=db):
        assert gc.get_threshold() == (1234, 5, 6)
    assert gc.get_threshold() == (1234, 5, 6)


async def test_a_runner_that_cannot_start_leaves_the_thresholds_as_they_were(
    tmp_path: Path,
) -> None:
    not_a_db = tmp_path / "plain.txt"
    not_a_db.write_text("not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        async with durablex.Runner(app(), db=f"sqlite:///{not_a_db}"):
            pass
    assert gc.get_threshold() == PYTHON_DEFAULT
