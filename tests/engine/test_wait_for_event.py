"""wait_for_event: resumes every parked run once, never on earlier events, match, timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import durablex
from durablex.core.clock import ManualClock

from .support import steps_by_id, wait_status


def approval_app(calls: list[str] | None = None, **wait: Any) -> durablex.App:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        got = await ctx.step.wait_for_event("approval", event="order.approved", **wait)
        if calls is not None:
            await ctx.step.run("after", lambda: calls.append(ctx.run_id))
        return got

    return app


async def test_event_after_park_resumes_with_its_data(db: str) -> None:
    app = approval_app(timeout="1h")
    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        run = await wait_status(client, handle.run_id, "waiting")
        step = steps_by_id(run)["approval"]
        assert step.kind == "wait_for_event"
        assert step.status == "waiting"
        assert step.input == {"event": "order.approved", "timeout_ms": 3_600_000, "match": None}
        sent = await client.send("order.approved", {"by": "alice", "n": (1, 2)})
        assert sent.resumed == 1
        assert sent.run_ids == []
        assert await handle.result(timeout=10) == {"by": "alice", "n": [1, 2]}
        run = await client.get_run(handle.run_id)
    step = steps_by_id(run)["approval"]
    assert step.status == "completed"
    assert step.output == {"by": "alice", "n": [1, 2]}


async def test_every_parked_run_resumes_exactly_once(db: str) -> None:
    calls: list[str] = []
    app = approval_app(calls, timeout="1h")
    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handles = [await client.start("wf") for _ in range(3)]
        for handle in handles:
            await wait_status(client, handle.run_id, "waiting")
        sent = await client.send("order.approved", {"ok": True})
        assert sent.resumed == 3
        for handle in handles:
            assert await handle.result(timeout=10) == {"ok": True}
        again = await client.send("order.approved", {"ok": False})
        assert again.resumed == 0
    assert sorted(calls) == sorted(h.run_id for h in handles)


async def test_event_before_park_is_not_retained(db: str, clock: ManualClock) -> None:
    app = durablex.App("a")
    gate = asyncio.Event()

    async def blocked() -> str:
        await gate.wait()
        return "ready"

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("prepare", blocked)
        return await ctx.step.wait_for_event("approval", event="go", timeout="1h")

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        await wait_status(client, handle.run_id, "running")
        early = await client.send("go", {"early": True})
        assert early.resumed == 0
        gate.set()
        run = await wait_status(client, handle.run_id, "waiting")
        assert steps_by_id(run)["approval"].status == "waiting"
        late = await client.send("go", {"late": True})
        assert late.resumed == 1
        assert await handle.result(timeout=10) == {"late": True}


async def test_timeout_returns_none(db: str, clock: ManualClock) -> None:
    app = approval_app(timeout="2h")
    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        run = await wait_status(client, handle.run_id, "waiting")
        step = steps_by_id(run)["approval"]
        assert step.wake_at is not None and step.started_at is not None
        assert (step.wake_at - step.started_at).total_seconds() == 7200
        clock.advance(7201)
        assert await handle.result(timeout=10) is None
        run = await client.get_run(handle.run_id)
        step = steps_by_id(run)["approval"]
        assert step.status == "completed"
        assert step.output is None
        # the waiter is gone: a late event resumes nothing
        assert (await client.send("order.approved", {})).resumed == 0


async def test_match_with_dotted_paths(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return await ctx.step.wait_for_event(
            "paid", event="invoice.paid", timeout="1h", match=ctx.data
        )

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        c1 = await client.start("wf", {"customer.id": "c1", "order_id": 42})
        c2 = await client.start("wf", {"customer.id": "c2"})
        flag = await client.start("wf", {"ok": True})
        for h in (c1, c2, flag):
            await wait_status(client, h.run_id, "waiting")
        run = await client.get_run(c1.run_id)
        assert steps_by_id(run)["paid"].input == {
            "event": "invoice.paid",
            "timeout_ms": 3_600_000,
            "match": {"customer.id": "c1", "order_id": 42},
        }
        # order_id missing: c1 is not resumed; nothing matches
        miss = await client.send("invoice.paid", {"customer": {"id": "c1"}})
        assert miss.resumed == 0
        # 1 is not True
        assert (await client.send("invoice.paid", {"ok": 1})).resumed == 0
        hit = await client.send("invoice.paid", {"customer": {"id": "c1"}, "order_id": 42.0})
        assert hit.resumed == 1
        assert await c1.result(timeout=10) == {"customer": {"id": "c1"}, "order_id": 42.0}
        assert await c2.status() == "waiting"
        assert (await client.send("invoice.paid", {"ok": True})).resumed == 1
        assert await flag.result(timeout=10) == {"ok": True}
        assert await c2.status() == "waiting"


async def test_send_to_another_app_does_not_resume(db: str) -> None:
    app = approval_app(timeout="1h")
    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        await wait_status(client, handle.run_id, "waiting")
        assert (await client.send("order.approved", 1, app="other")).resumed == 0
        assert (await client.send("order.approved", 2, app="a")).resumed == 1
        assert await handle.result(timeout=10) == 2


async def test_waiting_status_vs_sleeping(db: str, clock: ManualClock) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return await asyncio.gather(
            ctx.step.sleep("nap", "1h"),
            ctx.step.wait_for_event("signal", event="sig", timeout="1d"),
        )

    async with (
        durablex.Runner(app, db=db, clock=clock),
        durablex.AsyncClient(db, clock=clock) as client,
    ):
        handle = await client.start("wf")
        run = await wait_status(client, handle.run_id, "waiting")  # any wait means waiting
        assert run.wake_at == steps_by_id(run)["nap"].wake_at  # earliest timer
        assert (await client.send("sig", "s")).resumed == 1
        run = await wait_status(client, handle.run_id, "sleeping")  # only the sleep is left
        assert steps_by_id(run)["signal"].status == "completed"
        clock.advance(3601)
        assert await handle.result(timeout=10) == [None, "s"]


async def test_data_of_none_event_returns_none_but_step_completes(db: str) -> None:
    app = approval_app(timeout="1h")
    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        await wait_status(client, handle.run_id, "waiting")
        assert (await client.send("order.approved")).resumed == 1
        assert await handle.result(timeout=10) is None
        run = await client.get_run(handle.run_id)
    step = steps_by_id(run)["approval"]
    assert step.status == "completed"
