"""A run started on the event loop of a runner that serves it is begun by that runner before
its start commits; the start commits with the run's first durable writes, or within
``durablex.store.handoff.BEGUN_START_WINDOW``: one commit, not two, for a short run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

import durablex
from durablex.store import handoff
from durablex.store.postgres import committer as pg_committer
from durablex.store.sqlite import committer as sqlite_committer

from .test_handoff import counted, idle


@contextlib.asynccontextmanager
async def taking_runs_as_they_start(
    app: durablex.App, db: str
) -> AsyncIterator[tuple[durablex.Runner, durablex.AsyncClient]]:
    """A runner of ``app`` and a client on its loop, once the runner takes runs as they start
    (``counted``) and is idle."""
    async with durablex.Runner(app, db=db) as runner, durablex.AsyncClient(db) as client:
        await counted(client)
        await idle(runner)
        yield runner, client


def long_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """No commit by a timer: a begun run's start waits for its first durable write, and a lazy
    write (a step's record) for the next durable one, however slow the machine."""
    monkeypatch.setattr(handoff, "BEGUN_START_WINDOW", 30.0)
    for committer in (sqlite_committer, pg_committer):
        monkeypatch.setattr(committer, "LAZY_FLUSH_DELAY", 30.0)


def app_for_counted() -> durablex.App:
    """An app with the "quick" workflow of ``counted``, which tests add theirs to."""
    app = durablex.App("a")

    @app.workflow("quick")
    async def quick(ctx: durablex.Context) -> Any:
        return await ctx.step.run("one", lambda: 1)

    return app


def one_step_app(passes: list[str]) -> durablex.App:
    app = durablex.App("a")

    @app.workflow("quick")
    async def quick(ctx: durablex.Context) -> Any:
        passes.append(ctx.run_id)
        return await ctx.step.run("one", lambda: 1)

    return app


async def test_a_run_started_beside_its_runner_commits_its_start_with_its_first_writes(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a window longer than the run, its start, its step and its end commit together:
    the run has ended when ``start`` returns."""
    long_windows(monkeypatch)
    passes: list[str] = []
    async with taking_runs_as_they_start(one_step_app(passes), db) as (_runner, client):
        handle = await client.start("quick")
        run = await client.get_run(handle.run_id)
        assert run.status == "completed"
        assert [(s.id, s.status, s.output) for s in run.steps] == [("one", "completed", 1)]
        assert run.created_at <= run.steps[0].started_at <= run.ended_at
        assert await handle.result(timeout=15) == 1
    assert passes[-1] == handle.run_id and passes.count(handle.run_id) == 1


async def test_a_begun_run_replays_with_the_event_time_it_first_saw(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's time is fixed when its runner begins it: a replay reads the same from the
    database, as workflow code must see the same event on every pass."""
    long_windows(monkeypatch)
    app = app_for_counted()
    seen: list[str] = []

    @app.workflow("timed")
    async def timed(ctx: durablex.Context) -> Any:
        seen.append(ctx.event.ts.isoformat())

        async def first_seen() -> str:
            return ctx.event.ts.isoformat()

        first = await ctx.step.run("first", first_seen)
        await ctx.step.wait_for_event("go", event="go", timeout="1m")
        return [first, ctx.event.ts.isoformat()]

    async with taking_runs_as_they_start(app, db) as (_runner, client):
        handle = await client.start("timed")
        run = await client.get_run(handle.run_id, with_steps=False)
        assert run.status == "waiting"  # its start committed with its wait
        await client.send("go")
        first, replayed = await handle.result(timeout=15)
    assert len(seen) == 2  # the first pass and the replay after the event
    assert first == replayed == seen[0] == seen[1]


async def test_a_run_whose_first_step_is_long_is_stored_before_the_step_ends(db: str) -> None:
    gate = asyncio.Event()
    app = app_for_counted()

    @app.workflow("gated")
    async def gated(ctx: durablex.Context) -> Any:
        async def blocked() -> str:
            await gate.wait()
            return "done"

        return await ctx.step.run("blocked", blocked)

    async with taking_runs_as_they_start(app, db) as (_runner, client):
        handle = await asyncio.wait_for(client.start("gated"), 5)
        run = await client.get_run(handle.run_id)
        # stored while its step runs (a marker may show the step running after 0.2 s)
        assert run.status == "running"
        assert [s.status for s in run.steps] in ([], ["running"])
        gate.set()
        assert await handle.result(timeout=15) == "done"


async def test_a_begun_run_is_not_stopped_as_taken_away_before_its_start_commits(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every CANCEL_POLL the runner stops the passes of runs it no longer holds in the
    database. A run whose start has not committed is not there at all, and must not be taken
    for one: here that check runs inside the pass, before the start's commit."""
    long_windows(monkeypatch)
    app = app_for_counted()
    checked: list[str] = []

    @app.workflow("checked")
    async def checked_wf(ctx: durablex.Context) -> Any:
        if not checked:
            checked.append(ctx.run_id)
            await runner._stop_passes_of_runs_not_held()

        async def one() -> str:
            return "done"

        return await ctx.step.run("one", one)

    async with taking_runs_as_they_start(app, db) as (runner, client):
        handle = await asyncio.wait_for(client.start("checked"), 10)
        assert await handle.result(timeout=10) == "done"
        run = await client.get_run(handle.run_id)
    assert checked == [handle.run_id]
    assert [(s.id, s.status, s.attempts) for s in run.steps] == [("one", "completed", 1)]


async def test_each_begun_run_commits_its_start_on_the_writer_of_its_own_runner(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runners on one loop and file, each with a writer of its own: a run's start must
    commit on the writer of the runner that began it, in the transaction of its first
    writes, or those writes would find no run (and the pass would end until the lease did)."""
    long_windows(monkeypatch)
    bodies: list[str] = []

    def app_with_quick(name: str) -> durablex.App:
        app = durablex.App(name)

        @app.workflow("quick")
        async def quick(ctx: durablex.Context) -> Any:
            async def one() -> str:
                bodies.append(ctx.run_id)
                return ctx.app

            return await ctx.step.run("one", one)

        return app

    async with (
        durablex.Runner(app_with_quick("a"), db=db, name="ra"),
        durablex.Runner(app_with_quick("b"), db=db, name="rb"),
        durablex.AsyncClient(db) as client,
    ):
        for app in ("a", "b"):  # each runner counts the live runners, then takes runs
            assert await (await client.start("quick", app=app)).result(timeout=15) == app
        handles = [await client.start("quick", app=app) for app in ("a", "b", "a", "b")]
        runs = [await client.get_run(h.run_id, with_steps=False) for h in handles]
        assert [(r.status, r.runner) for r in runs] == [
            ("completed", "ra"),
            ("completed", "rb"),
            ("completed", "ra"),
            ("completed", "rb"),
        ]
    assert sorted(bodies[2:]) == sorted(h.run_id for h in handles)  # each body ran once
