"""Runs started on a runner's event loop go to that runner in their start transaction
(``durablex.store.handoff``): running when ``start()`` returns, with no claim, unless the runner
cannot take them, in which case they are queued as any run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import durablex

from .support import eventually, wait_status


def gated_app(name: str, gate: asyncio.Event, passes: list[str]) -> durablex.App:
    app = durablex.App(name)

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        passes.append(ctx.run_id)

        async def blocked() -> str:
            await gate.wait()
            return ctx.app

        return await ctx.step.run("blocked", blocked)

    @app.workflow("quick")
    async def quick(ctx: durablex.Context) -> Any:
        return await ctx.step.run("one", lambda: 1)

    return app


async def counted(client: durablex.AsyncClient, app: str | None = None) -> None:
    """A first run: the runner counts the live runners when it claims it, and only takes runs
    as they start while that count is fresh."""
    assert await (await client.start("quick", app=app)).result(timeout=15) == 1


async def idle(runner: durablex.Runner) -> None:
    """Until the runner has let go of the passes that ended (a result can be seen before)."""

    async def check() -> bool:
        return runner.active_runs == 0

    await eventually(check, what="the runner to end its passes")


async def test_a_run_started_beside_a_runner_is_running_on_it_when_start_returns(db: str) -> None:
    gate, passes = asyncio.Event(), []
    async with (
        durablex.Runner(gated_app("a", gate, passes), db=db, name="r1") as runner,
        durablex.AsyncClient(db) as client,
    ):
        await counted(client)
        await idle(runner)
        handle = await client.start("wf")
        run = await client.get_run(handle.run_id, with_steps=False)
        assert (run.status, run.runner) == ("running", "r1")
        assert runner.active_runs == 1
        gate.set()
        assert await handle.result(timeout=15) == "a"
    assert passes == [handle.run_id]  # one pass: taken once, never claimed again


async def test_a_run_started_after_a_quiet_spell_is_handed_over_too(db: str) -> None:
    """The runner keeps its count of live runners fresh while idle, so that runs started now
    and then (a request every few seconds) go to it as well."""
    gate, passes = asyncio.Event(), []
    async with (
        durablex.Runner(gated_app("a", gate, passes), db=db, name="r1"),
        durablex.AsyncClient(db) as client,
    ):
        await counted(client)
        await asyncio.sleep(2.5)  # longer than the count may age (HANDOFF_COUNT_AGE)
        handle = await client.start("wf")
        run = await client.get_run(handle.run_id, with_steps=False)
        assert (run.status, run.runner) == ("running", "r1")
        gate.set()
        assert await handle.result(timeout=15) == "a"


async def test_a_runner_without_a_free_slot_leaves_the_run_queued(db: str) -> None:
    gate, passes = asyncio.Event(), []
    async with (
        durablex.Runner(gated_app("a", gate, passes), db=db, concurrency=1) as runner,
        durablex.AsyncClient(db) as client,
    ):
        await counted(client)
        await idle(runner)
        first = await client.start("wf")
        second = await client.start("wf")
        assert (await client.get_run(first.run_id, with_steps=False)).status == "running"
        assert (await client.get_run(second.run_id, with_steps=False)).status == "queued"
        assert runner.active_runs == 1
        gate.set()
        assert [await first.result(timeout=15), await second.result(timeout=15)] == ["a", "a"]
    assert sorted(passes) == sorted([first.run_id, second.run_id])


async def test_each_run_goes_to_the_runner_of_its_workflow(db: str) -> None:
    gate, passes = asyncio.Event(), []
    async with (
        durablex.Runner(gated_app("a", gate, passes), db=db, name="ra"),
        durablex.Runner(gated_app("b", gate, passes), db=db, name="rb"),
        durablex.AsyncClient(db) as client,
    ):
        await counted(client, "a")
        await counted(client, "b")
        handles = [await client.start("wf", app=app) for app in ("b", "a")]
        runs = [await client.get_run(h.run_id, with_steps=False) for h in handles]
        assert [(r.status, r.runner) for r in runs] == [("running", "rb"), ("running", "ra")]
        gate.set()
        assert [await h.result(timeout=15) for h in handles] == ["b", "a"]


async def test_a_run_handed_to_a_stopping_runner_is_released_to_the_others(db: str) -> None:
    gate, passes = asyncio.Event(), []
    gate.set()
    app = gated_app("a", gate, passes)
    async with durablex.AsyncClient(db) as client:
        first = durablex.Runner(app, db=db, name="first")
        await first.start()
        await counted(client)
        # the start reserves a slot on `first` and queues its transaction; the stop begins
        # before that transaction commits
        starting = asyncio.ensure_future(client.start("wf"))
        stopping = asyncio.ensure_future(first.stop())
        handle = await starting
        await stopping
        if db.startswith("sqlite"):
            # on SQLite, `first` began the run before its start committed, in the same turn of
            # the loop as the reservation (test_begun_starts): a pass it had when its stop
            # began, which it finished in its grace period
            run = await client.get_run(handle.run_id, with_steps=False)
            assert (run.status, run.runner, passes) == ("completed", "first", [handle.run_id])
            return
        # on PostgreSQL the start reads the workflow's app first: the stop begins meanwhile,
        # and `first` refuses the run when it is handed over; released once its start commits
        await wait_status(client, handle.run_id, "queued")
        assert passes == []  # `first` never ran it
        async with durablex.Runner(app, db=db, name="second"):
            assert await handle.result(timeout=15) == "a"
        run = await client.get_run(handle.run_id, with_steps=False)
        assert run.runner == "second"
    assert passes == [handle.run_id]


async def test_a_runner_takes_runs_as_they_start_only_up_to_its_share_of_a_claim(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As many as one claim would take (CLAIM_BATCH, split among the live runners), and only
    runs of its own workflows; a burst beyond that is queued, for whichever runner claims."""
    from durablex.runner import runner as runner_module

    monkeypatch.setattr(runner_module, "CLAIM_BATCH", 20)
    monkeypatch.setattr(runner_module, "CLAIM_SHARE_MIN", 1)
    gate, passes = asyncio.Event(), []
    async with (
        durablex.Runner(gated_app("a", gate, passes), db=db) as runner,
        durablex.AsyncClient(db) as client,
    ):
        await counted(client)
        await idle(runner)
        assert not runner.reserve("b", "wf")
        assert not runner.reserve(None, "missing")
        assert [runner.reserve(None, "wf") for _ in range(22)] == [True] * 20 + [False] * 2
        for _ in range(20):
            runner.unreserve()
        handles = await asyncio.gather(*(client.start("wf") for _ in range(30)))
        gate.set()
        assert [await h.result(timeout=30) for h in handles] == ["a"] * 30
        assert runner.active_runs == 0
    assert sorted(passes) == sorted(h.run_id for h in handles)


async def test_a_child_run_goes_to_its_parents_runner_without_a_claim(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child started by a pass is claimed in the transaction that records its start, for the
    runner of that pass when it defines the child's workflow (and the child is not pinned
    elsewhere): no claim ever takes it."""
    app = durablex.App("a")

    @app.workflow("quick")
    async def quick(ctx: durablex.Context) -> Any:
        return await ctx.step.run("one", lambda: 1)

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        kids = [await ctx.step.run_workflow(f"kid{i}", name="kid", data=i) for i in range(3)]
        return sum(kids)

    @app.workflow("kid")
    async def kid(ctx: durablex.Context) -> Any:
        return await ctx.step.run("double", lambda: ctx.data * 2)

    async with (
        durablex.Runner(app, db=db, name="r1") as runner,
        durablex.AsyncClient(db) as client,
    ):
        await counted(client)
        claimed: list[str] = []
        claim = runner.store.claim

        async def noting_claims(*args: Any, **kwargs: Any) -> Any:
            runs = await claim(*args, **kwargs)
            claimed.extend(run.id for run in runs)
            return runs

        monkeypatch.setattr(runner.store, "claim", noting_claims)
        handle = await client.start("parent")
        assert await handle.result(timeout=15) == 6
        kids = [r for r in await client.list_runs(workflow="kid") if r.parent_run_id]
        assert len(kids) == 3 and {r.runner for r in kids} == {"r1"}
        assert not {r.id for r in kids} & set(claimed)


async def test_runs_held_through_a_sleep_do_not_count_against_the_share(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from durablex.runner import runner as runner_module

    monkeypatch.setattr(runner_module, "CLAIM_BATCH", 2)
    monkeypatch.setattr(runner_module, "CLAIM_SHARE_MIN", 1)
    gate, passes = asyncio.Event(), []
    app = gated_app("a", gate, passes)

    @app.workflow("nap")
    async def nap(ctx: durablex.Context) -> Any:
        await ctx.step.sleep("nap", "3s")
        return "rested"

    async with (
        durablex.Runner(app, db=db, name="r1", hold="5s") as runner,
        durablex.AsyncClient(db) as client,
    ):
        await counted(client)
        naps = [await client.start("nap") for _ in range(3)]

        async def all_held() -> bool:
            return runner.held_runs == 3

        await eventually(all_held, what="the three naps to be held")
        handle = await client.start("wf")
        run = await client.get_run(handle.run_id, with_steps=False)
        assert (run.status, run.runner) == ("running", "r1")
        gate.set()
        assert await handle.result(timeout=15) == "a"
        assert [await n.result(timeout=15) for n in naps] == ["rested"] * 3
