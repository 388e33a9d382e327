"""The disk holding the SQLite database fills up mid-run, then space is freed.

The database lives on a 2 MiB tmpfs the test mounts (the tests run as root). While the disk
is full, clients get a clear error and runners keep retrying; no committed record is lost or
corrupted (``PRAGMA integrity_check``); a workflow never sees the storage failure as a step
failure; and once space is freed every run finishes with its right output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import durablex
from durablex.store.base import StoreError

app = durablex.App("disk-full")
gate = threading.Event()
executions: dict[str, int] = {}


def _count(run_id: str, step: str) -> None:
    key = f"{run_id}/{step}"
    executions[key] = executions.get(key, 0) + 1


@app.workflow("w", retries=0)
async def work(ctx: durablex.Context) -> Any:
    def a() -> str:
        _count(ctx.run_id, "a")
        return "a" * 3000

    def b() -> str:
        _count(ctx.run_id, "b")
        gate.wait(30)
        return "b" * 3000

    first = await ctx.step.run("a", a)
    try:
        second = await ctx.step.run("b", b)
    except Exception as exc:  # a storage error must never surface here
        await asyncio.sleep(2.5)  # (by then the disk has room again)
        return {"swallowed": repr(exc)}
    await ctx.step.sleep("nap", 50)
    return len(first) + len(second)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 256)
    finally:
        os.close(fd)
    return filler


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.timeout(90)
async def test_a_full_disk_is_a_clear_error_loses_nothing_and_work_resumes(
    small_disk: Path,
) -> None:
    gate.clear()
    executions.clear()
    path = small_disk / "x.db"
    db = f"sqlite:///{path}"
    gate.set()
    async with (
        durablex.Runner(app, db=db, name="df-runner", lease="4s") as _runner,
        durablex.AsyncClient(db) as client,
    ):
        before = [await client.start("w") for _ in range(3)]
        outputs_before = [await h.result(timeout=20) for h in before]
        assert outputs_before == [6000] * 3

        gate.clear()
        caught = await client.start("w")

        async def b_is_executing() -> bool:
            return executions.get(f"{caught.run_id}/b", 0) >= 1

        await wait_for(b_is_executing, 10, "step b to start")
        filler = fill(small_disk)
        gate.set()  # b ends now: its result cannot be committed

        with pytest.raises(StoreError, match="disk is full"):
            await client.start("w")
        with pytest.raises(StoreError, match="disk is full"):
            await client.send("anything", {"x": 1})
        await asyncio.sleep(1.5)  # the runner keeps trying, past the run's lease

        filler.unlink()
        after = [await client.start("w") for _ in range(3)]
        assert await caught.result(timeout=30) == 6000
        assert [await h.result(timeout=30) for h in after] == [6000] * 3
        for handle in before:
            run = await client.get_run(handle.run_id)
            assert run.status == "completed" and run.output == 6000
            assert [s.status for s in run.steps] == ["completed"] * 3
        # b ran at least once more after its first result could not be stored
        assert executions[f"{caught.run_id}/b"] >= 2
        assert executions[f"{caught.run_id}/a"] == 1
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        statuses = conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
    assert statuses == [("completed", 7)]
