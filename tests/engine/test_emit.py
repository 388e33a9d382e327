"""emit: exactly once per (run, step id), starts triggered workflows, resumes waiters, app=."""

from __future__ import annotations

from typing import Any

import durablex

from .support import REPLAY_SLEEP_MS, eventually, steps_by_id, wait_status


async def test_emit_returns_event_id_records_input_and_starts_triggers(db: str) -> None:
    app = durablex.App("a")
    handled: list[Any] = []

    @app.workflow("notify", on="notification.requested")
    async def notify(ctx: durablex.Context) -> Any:
        await ctx.step.run("send", lambda: handled.append(ctx.data))
        return ctx.event.id

    @app.workflow("order")
    async def order(ctx: durablex.Context) -> Any:
        event_id = await ctx.step.emit(
            "notify", name="notification.requested", data={"order": 1, "kind": ("shipped",)}
        )
        await ctx.step.sleep("replay", REPLAY_SLEEP_MS)  # a later pass must not emit again
        await ctx.step.sleep("replay-2", REPLAY_SLEEP_MS)
        return event_id

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("order")
        event_id = await handle.result(timeout=10)
        assert isinstance(event_id, str) and event_id
        run = await client.get_run(handle.run_id)
        step = steps_by_id(run)["notify"]
        assert step.kind == "emit"
        assert step.status == "completed"
        assert step.output == event_id
        assert step.input == {
            "name": "notification.requested",
            "app": None,
            "data": {"order": 1, "kind": ["shipped"]},
        }
        event = await client.get_event(event_id)
        assert event is not None
        assert event.name == "notification.requested"
        assert event.data == {"order": 1, "kind": ["shipped"]}
        assert event.source_run_id == handle.run_id
        assert len(event.started_run_ids) == 1

        async def notified() -> Any:
            runs = await client.list_runs(workflow="notify", status="completed")
            return runs

        runs = await eventually(notified, what="triggered run")
        assert len(runs) == 1
        assert runs[0].output == event_id
        assert runs[0].input == {"order": 1, "kind": ["shipped"]}
        assert len(await client.list_runs(workflow="notify")) == 1
        page = await client.list_events(name="notification.requested")
        assert [e.id for e in page.events] == [event_id]
    assert handled == [{"order": 1, "kind": ["shipped"]}]


async def test_emit_resumes_waiters(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("waiter")
    async def waiter(ctx: durablex.Context) -> Any:
        return await ctx.step.wait_for_event("w", event="ping", timeout="1h")

    @app.workflow("pinger")
    async def pinger(ctx: durablex.Context) -> Any:
        return await ctx.step.emit("e", name="ping", data="pong")

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        waiters = [await client.start("waiter") for _ in range(2)]
        for w in waiters:
            await wait_status(client, w.run_id, "waiting")
        pinger_run = await client.start("pinger")
        event_id = await pinger_run.result(timeout=10)
        for w in waiters:
            assert await w.result(timeout=10) == "pong"
        event = await client.get_event(event_id)
        assert event is not None and event.resumed == 2


async def test_emit_app_is_respected(db: str) -> None:
    a = durablex.App("a")
    b = durablex.App("b")
    for app in (a, b):

        @app.workflow("on-ping", on="ping")
        async def on_ping(ctx: durablex.Context) -> Any:
            return ctx.app

        @app.workflow("waiter")
        async def waiter(ctx: durablex.Context) -> Any:
            return await ctx.step.wait_for_event("w", event="ping", timeout="1h")

    @a.workflow("emitter")
    async def emitter(ctx: durablex.Context) -> Any:
        return await ctx.step.emit("e", name="ping", data=1, app="b")

    async with durablex.Runner(a, b, db=db), durablex.AsyncClient(db) as client:
        wa = await client.start("waiter", app="a")
        wb = await client.start("waiter", app="b")
        await wait_status(client, wa.run_id, "waiting")
        await wait_status(client, wb.run_id, "waiting")
        emitted = await client.start("emitter", app="a")
        event_id = await emitted.result(timeout=10)
        assert await wb.result(timeout=10) == 1
        assert await wa.status() == "waiting"
        event = await client.get_event(event_id)
        assert event is not None
        assert event.app == "b"
        assert len(event.started_run_ids) == 1
        started = await client.get_run(event.started_run_ids[0])
        assert started.app == "b"
        assert await client.list_runs(workflow="on-ping", app="a") == []
        run = await client.get_run(emitted.run_id)
        assert steps_by_id(run)["e"].input == {"name": "ping", "app": "b", "data": 1}


async def test_emit_with_no_listeners_still_records(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        first = await ctx.step.emit("e1", name="nobody.listens")
        second = await ctx.step.emit("e2", name="nobody.listens")
        return [first, second]

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        first, second = await handle.result(timeout=10)
        assert first != second
        page = await client.list_events(name="nobody.listens")
        assert sorted(e.id for e in page.events) == sorted([first, second])
        assert all(e.data is None for e in page.events)
