"""Triggers: each matching event starts one new run with the event as ctx.event."""

from __future__ import annotations

from typing import Any

import durablex

from .support import eventually


def apps() -> tuple[durablex.App, durablex.App]:
    a = durablex.App("a")
    b = durablex.App("b")

    @a.workflow("on-created", on="order.created")
    async def on_created(ctx: durablex.Context) -> Any:
        return {"id": ctx.event.id, "name": ctx.event.name, "data": ctx.data, "app": ctx.app}

    @a.workflow("on-either", on=["order.created", "order.updated"])
    async def on_either(ctx: durablex.Context) -> Any:
        return ctx.event.name

    @b.workflow("b-created", on=("order.created",))
    async def b_created(ctx: durablex.Context) -> Any:
        return "b"

    @a.workflow("manual")
    async def manual(ctx: durablex.Context) -> Any:
        return "manual"

    return a, b


async def test_event_starts_every_triggered_workflow(db: str) -> None:
    a, b = apps()
    async with durablex.Runner(a, b, db=db), durablex.AsyncClient(db) as client:
        sent = await client.send("order.created", {"order_id": 7})
        assert len(sent.run_ids) == 3
        runs = {}
        for run_id in sent.run_ids:
            run = await client.get_run(run_id)
            runs[(run.app, run.workflow)] = run
            assert run.input == {"order_id": 7}
            assert run.event_id == sent.event_id
        assert set(runs) == {("a", "on-created"), ("a", "on-either"), ("b", "b-created")}
        handle = client.handle(runs[("a", "on-created")].id)
        assert await handle.result(timeout=10) == {
            "id": sent.event_id,
            "name": "order.created",
            "data": {"order_id": 7},
            "app": "a",
        }
        for run_id in sent.run_ids:
            await client.handle(run_id).result(timeout=10)

        updated = await client.send("order.updated")
        assert len(updated.run_ids) == 1
        assert await client.handle(updated.run_ids[0]).result(timeout=10) == "order.updated"

        only_b = await client.send("order.created", app="b")
        assert len(only_b.run_ids) == 1
        assert (await client.get_run(only_b.run_ids[0])).app == "b"

        nobody = await client.send("order.deleted", {"x": 1})
        assert nobody.run_ids == [] and nobody.resumed == 0

        # each event starts one new run per trigger
        second = await client.send("order.created", {"order_id": 8})
        assert len(second.run_ids) == 3
        assert not set(second.run_ids) & set(sent.run_ids)
        assert len(await client.list_runs(workflow="on-created")) == 2
        assert len(await client.list_runs(workflow="manual")) == 0


async def test_events_before_registration_start_nothing_and_triggers_follow_the_code(
    db: str,
) -> None:
    a, _ = apps()
    async with durablex.AsyncClient(db) as client:
        early = await client.send("order.created")
        assert early.run_ids == []
        async with durablex.Runner(a, db=db):
            pass
        assert len((await client.send("order.created")).run_ids) == 2
        # a new deployment of app "a" without the trigger replaces the old registration
        a2 = durablex.App("a")

        @a2.workflow("on-created")
        async def on_created(ctx: durablex.Context) -> Any:
            return None

        async with durablex.Runner(a2, db=db):
            pass
        assert (await client.send("order.created")).run_ids == []


async def test_triggered_runs_are_executed(db: str) -> None:
    a, b = apps()
    async with durablex.AsyncClient(db) as client:
        async with durablex.Runner(a, b, db=db):
            pass
        sent = await client.send("order.created", {"k": 1})
        async with durablex.Runner(a, b, db=db):

            async def all_done() -> bool:
                runs = [await client.get_run(r) for r in sent.run_ids]
                return all(r.status == "completed" for r in runs)

            await eventually(all_done, what="triggered runs completed")
