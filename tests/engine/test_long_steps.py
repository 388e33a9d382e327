"""Steps that run for a while: visible as running, their run held by the runner's lease."""

from __future__ import annotations

import asyncio
import sqlite3

import durablex

from .support import wait_status, wait_step


async def test_a_long_step_shows_as_running_and_its_run_stays_leased(
    db: str, client: durablex.AsyncClient
) -> None:
    app = durablex.App("long")
    release = asyncio.Event()

    @app.workflow("slow")
    async def slow(ctx: durablex.Context) -> str:
        await ctx.step.run("quick", lambda: 1)

        async def wait_for_release() -> str:
            await release.wait()
            return "done"

        return str(await ctx.step.run("long", wait_for_release))

    async with durablex.Runner(app, db=db, name="long-runner", lease="2s"):
        handle = await client.start("slow")
        step = await wait_step(client, handle.run_id, "long", "running")
        assert step.attempts == 1 and step.started_at is not None and step.ended_at is None
        assert step.after == ["quick"]

        # the lease names this runner and expires in the future: no other runner may take it
        path = db.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            owner, expires, due = conn.execute(
                "SELECT lease_owner, lease_expires_at, due_at FROM runs WHERE id = ?",
                (handle.run_id,),
            ).fetchone()
        assert owner == "long-runner"
        assert isinstance(expires, int) and expires == due

        # the pass outlives several cancellation checks and lease renewals
        await asyncio.sleep(1.0)
        assert (await client.get_run(handle.run_id)).status == "running"
        release.set()
        run = await wait_status(client, handle.run_id, "completed")
    assert run.output == "done"
    long = {s.id: s for s in run.steps}["long"]
    assert long.status == "completed" and long.attempts == 1
    assert [a.number for a in long.attempt_log] == [1]
