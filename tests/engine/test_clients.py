"""Clients: send, start, result/status, get_run, list_runs, cancel, rerun, resume; both kinds."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import durablex

from .support import eventually, runner_in_thread, steps_by_id, wait_status, wait_step


def shop_app(flags: dict[str, Any] | None = None) -> durablex.App:
    flags = flags if flags is not None else {}
    app = durablex.App("shop")

    @app.workflow("echo", on="echo.requested")
    async def echo(ctx: durablex.Context) -> Any:
        return ctx.data

    @app.workflow("approve")
    async def approve(ctx: durablex.Context) -> Any:
        return await ctx.step.wait_for_event("ok", event="approved", timeout="1h")

    @app.workflow("boom", retries=0)
    async def boom(ctx: durablex.Context) -> Any:
        raise ValueError(f"bad input {ctx.data!r}")

    def charge() -> str:
        flags.setdefault("charges", []).append(1)
        return "charged"

    def ship() -> str:
        flags.setdefault("ships", []).append(1)
        if flags.get("ship_fails", True):
            raise RuntimeError("warehouse closed")
        return "shipped"

    @app.workflow("order", retries=0)
    async def order(ctx: durablex.Context) -> Any:
        charged = await ctx.step.run("charge", charge)
        shipped = await ctx.step.run("ship", ship)
        return [charged, shipped, ctx.data]

    return app


async def test_send_starts_triggered_runs_and_repeated_id_is_accepted_once(db: str) -> None:
    async with durablex.Runner(shop_app(), db=db), durablex.AsyncClient(db) as client:
        first = await client.send("echo.requested", {"n": 1}, id="evt-1")
        assert isinstance(first, durablex.SendResult)
        assert first.event_id == "evt-1"
        assert len(first.run_ids) == 1
        assert first.resumed == 0
        again = await client.send("echo.requested", {"n": 2}, id="evt-1")
        assert again.event_id == "evt-1"
        assert again.run_ids == first.run_ids
        runs = await client.list_runs(workflow="echo")
        assert [r.id for r in runs] == first.run_ids
        assert await client.handle(first.run_ids[0]).result(timeout=10) == {"n": 1}
        event = await client.get_event("evt-1")
        assert event is not None and event.data == {"n": 1}
        other = await client.send("echo.requested", {"n": 3})
        assert other.event_id != "evt-1" and len(other.run_ids) == 1


async def test_start_and_handle_methods(db: str) -> None:
    async with durablex.Runner(shop_app(), db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("echo", {"x": [1]})
        assert isinstance(handle, durablex.AsyncRunHandle)
        assert isinstance(handle.run_id, str)
        assert await handle.result(timeout=10) == {"x": [1]}
        assert await handle.result() == {"x": [1]}  # again, and with no timeout
        assert await handle.status() == "completed"
        run = await client.get_run(handle.run_id)
        assert isinstance(run, durablex.Run)
        assert run.input == {"x": [1]}
        assert run.output == {"x": [1]}
        assert run.created_at <= run.ended_at  # type: ignore[operator]
        explicit = await client.start("echo", 5, app="shop")
        assert await explicit.result(timeout=timedelta(seconds=10)) == 5


async def test_start_unknown_workflow(db: str) -> None:
    async with durablex.AsyncClient(db) as client:
        with pytest.raises(durablex.WorkflowNotFoundError):
            await client.start("echo")  # no runner registered it yet
        async with durablex.Runner(shop_app(), db=db):
            with pytest.raises(durablex.WorkflowNotFoundError) as info:
                await client.start("nope")
            assert "nope" in str(info.value)
            with pytest.raises(durablex.WorkflowNotFoundError):
                await client.start("echo", app="other")
        assert await client.list_runs() == []


async def test_result_errors_and_timeout(db: str) -> None:
    async with durablex.Runner(shop_app(), db=db), durablex.AsyncClient(db) as client:
        failing = await client.start("boom", "in")
        with pytest.raises(durablex.RunFailedError) as failed:
            await failing.result(timeout=10)
        assert failed.value.run_id == failing.run_id
        assert failed.value.error["type"] == "ValueError"
        assert "bad input 'in'" in failed.value.error["message"]
        assert await failing.status() == "failed"

        waiting = await client.start("approve")
        with pytest.raises(TimeoutError):
            await waiting.result(timeout=0.2)
        assert await waiting.status() == "waiting"
        assert await client.cancel(waiting.run_id) is True
        with pytest.raises(durablex.RunCancelledError) as cancelled:
            await waiting.result(timeout=10)
        assert cancelled.value.run_id == waiting.run_id


async def test_result_of_a_run_ended_in_this_process_needs_no_read(db: str) -> None:
    """The end a runner of this process commits reaches the waiting handle with its notice:
    output and error as a read of the run would give them, without reading the ended run
    (a read while it still runs may happen: a poll tells of the runner's other commits)."""
    async with durablex.Runner(shop_app(), db=db), durablex.AsyncClient(db) as client:
        await client.list_runs()  # open the client's store
        store = client._store
        ended_reads: list[str] = []
        read_run = store.get_run

        async def counted(run_id: str, **kw: Any) -> Any:
            run = await read_run(run_id, **kw)
            if run is not None and run.status in ("completed", "failed", "cancelled"):
                ended_reads.append(run_id)
            return run

        store.get_run = counted  # type: ignore[method-assign]
        ok = await client.start("echo", {"n": [1, 2]})
        assert await ok.result(timeout=10) == {"n": [1, 2]}
        failing = await client.start("boom", "in")
        with pytest.raises(durablex.RunFailedError) as failed:
            await failing.result(timeout=10)
        waiting = await client.start("approve")
        assert await client.cancel(waiting.run_id) is True
        with pytest.raises(durablex.RunCancelledError):
            await waiting.result(timeout=10)
        # The cancellation was committed before result() began, but a final end is remembered
        # as it passes. A failed run's end is not (the run can be resumed): read back if it
        # came before result() did (on SQLite the start may commit with the end, see
        # test_begun_starts).
        assert set(ended_reads) <= {failing.run_id}

        store.get_run = read_run  # type: ignore[method-assign]
        assert failed.value.error == (await client.wait(failing.run_id, 10)).error
        assert failed.value.error["type"] == "ValueError"
        # a handle made from the id alone, after the end: read back
        assert await client.handle(ok.run_id).result(timeout=10) == {"n": [1, 2]}

        # several waiters of one run each get its end, and none is kept after they return
        gate = await client.start("approve")
        waiters = [asyncio.ensure_future(gate.result(timeout=10)) for _ in range(3)]
        await wait_status(client, gate.run_id, "waiting")  # the event must find its waiter
        assert store._listener._watches.keys() == {gate.run_id}
        await client.send("approved", {"by": "al"})
        assert await asyncio.gather(*waiters) == [{"by": "al"}] * 3
        assert store._listener._watches == {}


async def test_get_run_and_list_runs(db: str) -> None:
    async with durablex.Runner(shop_app(), db=db), durablex.AsyncClient(db) as client:
        with pytest.raises(durablex.RunNotFoundError):
            await client.get_run("no-such-run")
        with pytest.raises(LookupError):
            await client.get_run("no-such-run")
        handles = [await client.start("echo", i) for i in range(3)]
        for h in handles:
            await h.result(timeout=10)
        failing = await client.start("boom")
        with pytest.raises(durablex.RunFailedError):
            await failing.result(timeout=10)
        waiting = await client.start("approve")
        await wait_status(client, waiting.run_id, "waiting")

        every = await client.list_runs()
        assert [r.id for r in every] == [waiting.run_id, failing.run_id] + [
            h.run_id for h in reversed(handles)
        ]  # newest first
        assert [r.id for r in await client.list_runs(status="failed")] == [failing.run_id]
        assert [r.id for r in await client.list_runs(status="waiting")] == [waiting.run_id]
        assert len(await client.list_runs(workflow="echo")) == 3
        assert len(await client.list_runs(workflow="echo", status="completed")) == 3
        assert await client.list_runs(workflow="echo", status="failed") == []
        assert len(await client.list_runs(app="shop")) == 5
        assert await client.list_runs(app="other") == []
        assert [r.id for r in await client.list_runs(limit=2)] == [
            waiting.run_id,
            failing.run_id,
        ]


async def test_cancel_commits_before_returning(db: str) -> None:
    async with durablex.Runner(shop_app(), db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("approve")
        await wait_status(client, handle.run_id, "waiting")
        assert await client.cancel(handle.run_id) is True
        run = await client.get_run(handle.run_id)
        assert run.status == "cancelled"
        assert run.ended_at is not None
        assert steps_by_id(run)["ok"].status == "cancelled"
        assert await client.cancel(handle.run_id) is False  # already ended
        assert (await client.send("approved")).resumed == 0
        with pytest.raises(durablex.RunNotFoundError):
            await client.cancel("no-such-run")
        done = await client.start("echo", 1)
        await done.result(timeout=10)
        assert await client.cancel(done.run_id) is False
        assert await done.status() == "completed"


async def test_cancel_while_a_step_runs_refuses_its_later_writes(db: str) -> None:
    app = durablex.App("a")
    started = asyncio.Event()
    release = asyncio.Event()
    after: list[int] = []

    async def slow() -> str:
        started.set()
        try:
            await asyncio.wait_for(release.wait(), timeout=10)
        except asyncio.CancelledError:
            raise
        return "finished"

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("slow", slow)
        await ctx.step.run("after", lambda: after.append(1))
        return "done"

    async with durablex.Runner(app, db=db, grace=1), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        await asyncio.wait_for(started.wait(), timeout=10)
        await wait_step(client, handle.run_id, "slow", "running")
        assert await client.cancel(handle.run_id) is True
        release.set()
        with pytest.raises(durablex.RunCancelledError):
            await handle.result(timeout=10)
        await asyncio.sleep(0.5)  # give a stale pass every chance to write
        run = await client.get_run(handle.run_id)
    assert run.status == "cancelled"
    assert steps_by_id(run)["slow"].status == "cancelled"
    assert "after" not in steps_by_id(run)
    assert after == []


async def test_rerun_starts_a_new_run_with_the_same_input(db: str) -> None:
    async with durablex.Runner(shop_app(), db=db), durablex.AsyncClient(db) as client:
        first = await client.start("boom", {"a": 1})
        with pytest.raises(durablex.RunFailedError):
            await first.result(timeout=10)
        second = await client.rerun(first.run_id)
        assert isinstance(second, durablex.AsyncRunHandle)
        assert second.run_id != first.run_id
        # rerun commits before it returns
        assert (await client.get_run(second.run_id)).input == {"a": 1}
        with pytest.raises(durablex.RunFailedError):
            await second.result(timeout=10)
        assert (await client.get_run(first.run_id)).status == "failed"
        echo = await client.start("echo", [1, 2])
        await echo.result(timeout=10)
        again = await client.rerun(echo.run_id)
        assert await again.result(timeout=10) == [1, 2]
        with pytest.raises(durablex.RunNotFoundError):
            await client.rerun("no-such-run")


async def test_resume_continues_from_the_failed_step(db: str) -> None:
    flags: dict[str, Any] = {}
    async with durablex.Runner(shop_app(flags), db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("order", "o-1")
        with pytest.raises(durablex.RunFailedError):
            await handle.result(timeout=10)
        assert len(flags["charges"]) == 1 and len(flags["ships"]) == 1
        flags["ship_fails"] = False
        resumed = await client.resume(handle.run_id)
        assert resumed.run_id == handle.run_id
        assert await client.get_run(handle.run_id) is not None
        assert (await client.get_run(handle.run_id)).status != "failed"  # committed already
        assert await resumed.result(timeout=10) == ["charged", "shipped", "o-1"]
        run = await client.get_run(handle.run_id)
        assert run.error is None
        assert steps_by_id(run)["charge"].status == "completed"
        assert steps_by_id(run)["ship"].status == "completed"
        with pytest.raises(ValueError, match="completed"):
            await client.resume(handle.run_id)
        with pytest.raises(durablex.RunNotFoundError):
            await client.resume("no-such-run")
    assert len(flags["charges"]) == 1  # the completed step was kept
    assert len(flags["ships"]) == 2


def test_blocking_client_against_a_runner_thread(db: str) -> None:
    flags: dict[str, Any] = {}
    with runner_in_thread(shop_app(flags), db=db), durablex.Client(db) as client:
        sent = client.send("echo.requested", {"n": 1}, id="k")
        assert client.send("echo.requested", {"n": 1}, id="k").run_ids == sent.run_ids
        handle = client.handle(sent.run_ids[0])
        assert isinstance(handle, durablex.RunHandle)
        assert handle.result(timeout=10) == {"n": 1}
        assert handle.status() == "completed"

        started = client.start("echo", "hi")
        assert isinstance(started, durablex.RunHandle)
        assert started.result(timeout=10) == "hi"
        assert client.get_run(started.run_id).output == "hi"
        with pytest.raises(durablex.WorkflowNotFoundError):
            client.start("nope")

        failing = client.start("boom")
        with pytest.raises(durablex.RunFailedError):
            failing.result(timeout=10)
        rerun = client.rerun(failing.run_id)
        assert isinstance(rerun, durablex.RunHandle) and rerun.run_id != failing.run_id
        with pytest.raises(durablex.RunFailedError):
            rerun.result(timeout=10)

        waiting = client.start("approve")
        with pytest.raises(TimeoutError):
            waiting.result(timeout=0.2)
        assert waiting.status() == "waiting"
        assert client.send("approved", "yes").resumed == 1
        assert waiting.result(timeout=10) == "yes"

        parked = client.start("approve")
        with pytest.raises(TimeoutError):
            parked.result(timeout=0.2)
        assert client.cancel(parked.run_id) is True
        assert client.get_run(parked.run_id).status == "cancelled"
        with pytest.raises(durablex.RunCancelledError):
            parked.result(timeout=10)

        order = client.start("order", 1)
        with pytest.raises(durablex.RunFailedError):
            order.result(timeout=10)
        flags["ship_fails"] = False
        resumed = client.resume(order.run_id)
        assert isinstance(resumed, durablex.RunHandle)
        assert resumed.result(timeout=10) == ["charged", "shipped", 1]

        assert len(client.list_runs(workflow="echo")) == 2
        assert len(client.list_runs(status="cancelled")) == 1
        with pytest.raises(durablex.RunNotFoundError):
            client.get_run("missing")
    assert len(flags["charges"]) == 1
    client.close()  # closing twice is fine
    with pytest.raises(RuntimeError):
        client.list_runs()


async def test_async_client_close_and_context_manager(db: str) -> None:
    client = durablex.AsyncClient(db)
    async with durablex.Runner(shop_app(), db=db):
        handle = await client.start("echo", 1)
        assert await handle.result(timeout=10) == 1
    await client.aclose()
    await client.aclose()


async def test_status_sequence_of_a_run(db: str) -> None:
    app = durablex.App("a")
    gate = asyncio.Event()

    async def hold() -> None:
        await asyncio.wait_for(gate.wait(), timeout=10)

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("hold", hold)
        return "ok"

    async with durablex.AsyncClient(db) as client:
        async with durablex.Runner(app, db=db):
            pass  # registers the workflow
        handle = await client.start("wf")
        assert await handle.status() == "queued"
        async with durablex.Runner(app, db=db):
            await eventually(lambda: _is(handle, "running"), what="running")
            gate.set()
            assert await handle.result(timeout=10) == "ok"


async def _is(handle: durablex.AsyncRunHandle, status: str) -> bool:
    return await handle.status() == status


async def test_two_runners_share_the_queue_and_each_step_runs_once(db: str) -> None:
    app = durablex.App("a")
    calls: list[str] = []

    @app.workflow("wf", on="go")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("count", lambda: calls.append(ctx.run_id))
        await ctx.step.sleep("hop", 1)
        return ctx.data

    async with (
        durablex.Runner(app, db=db, name="r1"),
        durablex.Runner(app, db=db, name="r2", concurrency=1),
        durablex.AsyncClient(db) as client,
    ):
        sends = [await client.send("go", i) for i in range(30)]
        run_ids = [s.run_ids[0] for s in sends]
        results = [await client.handle(r).result(timeout=20) for r in run_ids]
        runs = [await client.get_run(r) for r in run_ids]
    assert results == list(range(30))
    assert sorted(calls) == sorted(run_ids)
    assert {r.runner for r in runs} <= {"r1", "r2"}


async def test_two_runners_split_a_burst_of_runs_instead_of_one_taking_it_all(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from durablex.runner import runner as runner_module

    # a claim may take 20 runs; shared by two live runners, each claim takes at most 10
    monkeypatch.setattr(runner_module, "CLAIM_BATCH", 20)
    monkeypatch.setattr(runner_module, "CLAIM_SHARE_MIN", 1)
    app = durablex.App("a")
    gate = asyncio.Event()

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        async def blocked() -> int:
            await gate.wait()
            return 1

        return await ctx.step.run("blocked", blocked)

    async with (
        durablex.Runner(app, db=db, name="r1") as r1,
        durablex.Runner(app, db=db, name="r2") as r2,
        durablex.AsyncClient(db) as client,
    ):
        handles = await asyncio.gather(*(client.start("wf") for _ in range(40)))
        await eventually(
            lambda: _value(r1.active_runs + r2.active_runs == 40), what="all 40 runs claimed"
        )
        held = (r1.active_runs, r2.active_runs)
        gate.set()
        assert [await h.result(timeout=20) for h in handles] == [1] * 40
    assert min(held) > 0, f"one runner took the whole burst: {held}"


async def _value(value: bool) -> bool:
    return value
