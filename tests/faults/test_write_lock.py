"""Another process holds the SQLite write lock for seconds: clients and runners wait and
retry, and once the lock is released every run finishes; nothing is lost or done twice."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import durablex

app = durablex.App("locked")
executions: Counter[str] = Counter()

HOLD_SECONDS = 3.0
LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
    print("released", flush=True)
    """
)


@app.workflow("w", retries=0)
async def work(ctx: durablex.Context) -> Any:
    def body(name: str) -> Any:
        def run() -> str:
            executions[f"{ctx.run_id}/{name}"] += 1
            time.sleep(0.05)
            return name

        return run

    a = await ctx.step.run("a", body("a"))
    await ctx.step.sleep("nap", 200)
    b, c = await asyncio.gather(ctx.step.run("b", body("b")), ctx.step.run("c", body("c")))
    got = await ctx.step.wait_for_event("go", event="go", timeout="20s", match={"n": ctx.data["n"]})
    return [a, b, c, got["n"]]


@pytest.mark.timeout(90)
async def test_runs_finish_after_another_process_held_the_write_lock(tmp_path: Path) -> None:
    executions.clear()
    path = tmp_path / "x.db"
    db = f"sqlite:///{path}"
    async with (
        durablex.Runner(app, db=db, name="lock-runner", lease="1s") as _runner,
        durablex.AsyncClient(db) as client,
    ):
        early = [await client.start("w", {"n": n}) for n in range(5)]
        await asyncio.sleep(0.1)  # the runs are mid-flight when the lock is taken
        locker = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant)
            [sys.executable, "-c", LOCKER, str(path), str(HOLD_SECONDS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert locker.stdout is not None
            assert locker.stdout.readline().strip() == "locked"
            locked_at = time.monotonic()
            # Clients block (retrying) rather than fail; they return once the lock is free.
            late_starts = [asyncio.create_task(client.start("w", {"n": n})) for n in range(5, 10)]
            sends = [
                asyncio.create_task(client.send("go", {"n": n}, id=f"go-{n}")) for n in range(5)
            ]
            late = await asyncio.gather(*late_starts)
            waited = time.monotonic() - locked_at
            assert waited >= HOLD_SECONDS - 0.3, waited
            sent = await asyncio.gather(*sends)
            assert locker.wait(10) == 0
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.wait(10)
            assert locker.stdout is not None
            locker.stdout.close()
        # The events sent during the lock were accepted; those that found no waiter yet are
        # sent again with new ids (a wait takes only events accepted after it parked).
        assert sorted(s.event_id for s in sent) == [f"go-{n}" for n in range(5)]
        runs = early + late
        for n, handle in enumerate(runs):
            status = (await client.get_run(handle.run_id)).status
            while status not in ("waiting", "completed"):
                await asyncio.sleep(0.02)
                status = (await client.get_run(handle.run_id)).status
            if status == "waiting":
                await client.send("go", {"n": n})
        outputs = [await h.result(timeout=30) for h in runs]
    assert outputs == [["a", "b", "c", n] for n in range(10)]
    assert sorted(executions.values()) == [1] * 30, executions
