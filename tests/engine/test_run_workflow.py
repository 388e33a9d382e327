"""run_workflow: child runs, name resolution, pinning, failures, cancellation, exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import durablex
from durablex.records import INVOKED_EVENT

from .support import REPLAY_SLEEP_MS, eventually, steps_by_id, wait_status


def child_app(name: str = "a", *, marker: str | None = None) -> durablex.App:
    app = durablex.App(name)

    @app.workflow("double")
    async def double(ctx: durablex.Context) -> Any:
        return {"value": ctx.data["n"] * 2, "app": marker or ctx.app, "event": ctx.event.name}

    return app


async def test_child_output_is_returned_and_recorded(db: str) -> None:
    app = child_app()

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        return await ctx.step.run_workflow("child", name="double", data={"n": 21})

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")
        out = await handle.result(timeout=10)
        assert out == {"value": 42, "app": "a", "event": INVOKED_EVENT}
        run = await client.get_run(handle.run_id)
        step = steps_by_id(run)["child"]
        assert step.kind == "run_workflow"
        assert step.status == "completed"
        assert step.output == out
        assert step.input == {"name": "double", "app": "a", "runner": None, "data": {"n": 21}}
        assert step.child_run_id is not None
        child = await client.get_run(step.child_run_id)
        assert child.parent_run_id == handle.run_id
        assert child.input == {"n": 21}
        assert child.workflow == "double" and child.status == "completed"


async def test_parent_waits_while_child_runs_and_child_started_once(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("child")
    async def child(ctx: durablex.Context) -> Any:
        await ctx.step.run("count", lambda: calls.append(1))
        return await ctx.step.wait_for_event("go", event="go", timeout="1h")

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        got = await ctx.step.run_workflow("call", name="child", data=None)
        await ctx.step.sleep("replay-me", REPLAY_SLEEP_MS)
        await ctx.step.sleep("replay-me-again", REPLAY_SLEEP_MS)
        return got

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")
        run = await wait_status(client, handle.run_id, "waiting")
        child_id = steps_by_id(run)["call"].child_run_id
        assert child_id is not None
        assert steps_by_id(run)["call"].status == "waiting"
        await wait_status(client, child_id, "waiting")
        await client.send("go", "went")
        assert await handle.result(timeout=10) == "went"
        children = await client.list_runs(workflow="child")
    assert [c.id for c in children] == [child_id]
    assert calls == [1]


async def test_child_data_is_json_form(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("echo")
    async def echo(ctx: durablex.Context) -> Any:
        return ctx.data

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        return await ctx.step.run_workflow("c", name="echo", data={"t": (1, 2)})

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")
        assert await handle.result(timeout=10) == {"t": [1, 2]}


async def test_resolution_own_app_first_then_others(db: str) -> None:
    own = child_app("own", marker="own")
    other = child_app("other", marker="other")
    only_other = durablex.App("third")

    @only_other.workflow("triple")
    async def triple(ctx: durablex.Context) -> Any:
        return ctx.data * 3

    @own.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        mine = await ctx.step.run_workflow("mine", name="double", data={"n": 1})
        theirs = await ctx.step.run_workflow("theirs", name="double", data={"n": 1}, app="other")
        elsewhere = await ctx.step.run_workflow("elsewhere", name="triple", data=2)
        return [mine["app"], theirs["app"], elsewhere]

    async with durablex.Runner(own, other, only_other, db=db), durablex.AsyncClient(db) as c:
        handle = await c.start("parent", app="own")
        assert await handle.result(timeout=10) == ["own", "other", 6]
        run = await c.get_run(handle.run_id)
    steps = steps_by_id(run)
    assert steps["elsewhere"].input["app"] == "third"
    assert steps["theirs"].input["app"] == "other"


async def test_ambiguous_and_not_found(db: str) -> None:
    b = child_app("b")
    c = child_app("c")
    caller = durablex.App("caller")

    @caller.workflow("parent", retries=3)
    async def parent(ctx: durablex.Context) -> Any:
        out: dict[str, Any] = {}
        try:
            await ctx.step.run_workflow("amb", name="double", data={"n": 1})
        except durablex.AmbiguousWorkflowError as exc:
            out["amb"] = [exc.step_id, exc.error_type, exc.apps, exc.attempts, str(exc)]
            assert isinstance(exc, durablex.StepFailedError)
        try:
            await ctx.step.run_workflow("missing", name="nope")
        except durablex.WorkflowNotFoundError as exc:
            out["missing"] = [exc.step_id, exc.error_type, exc.attempts, exc.message]
            assert isinstance(exc, durablex.StepFailedError)
        try:
            await ctx.step.run_workflow("wrong-app", name="double", app="caller")
        except durablex.WorkflowNotFoundError as exc:
            out["wrong-app"] = exc.message
        picked = await ctx.step.run_workflow("pick", name="double", data={"n": 2}, app="c")
        out["pick"] = picked["app"]
        await ctx.step.sleep("replay", REPLAY_SLEEP_MS)
        return out

    async with durablex.Runner(b, c, caller, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")
        out = await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    step_id, error_type, apps, attempts, text = out["amb"]
    assert step_id == "amb" and error_type == "AmbiguousWorkflowError"
    assert apps == ["b", "c"]
    assert attempts == 1
    assert "b" in text and "c" in text
    assert out["missing"][:3] == ["missing", "WorkflowNotFoundError", 1]
    assert "nope" in out["missing"][3]
    assert "double" in out["wrong-app"]
    assert out["pick"] == "c"
    steps = steps_by_id(run)
    assert steps["amb"].status == "failed" and steps["amb"].attempts == 1
    assert steps["missing"].status == "failed" and steps["missing"].attempts == 1
    # nothing was started for the failed resolutions
    assert len(await_list(run)) == 1


def await_list(run: durablex.Run) -> list[str]:
    return [s.child_run_id for s in run.steps if s.child_run_id is not None]


async def test_runner_pin_across_two_runners(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("who")
    async def who(ctx: durablex.Context) -> Any:
        return ctx.data

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        one = await ctx.step.run_workflow("on-r1", name="who", data=1, runner="r1")
        two = await ctx.step.run_workflow("on-r2", name="who", data=2, runner="r2", app="a")
        return [one, two]

    async with (
        durablex.Runner(app, db=db, name="r1"),
        durablex.Runner(app, db=db, name="r2"),
        durablex.AsyncClient(db) as client,
    ):
        for _ in range(3):
            handle = await client.start("parent")
            assert await handle.result(timeout=10) == [1, 2]
            run = await client.get_run(handle.run_id)
            steps = steps_by_id(run)
            assert steps["on-r2"].input["runner"] == "r2"
            for step_id, runner in (("on-r1", "r1"), ("on-r2", "r2")):
                child_id = steps[step_id].child_run_id
                assert child_id is not None
                child = await client.get_run(child_id)
                assert child.runner == runner
                assert child.runner_pin == runner


async def test_pinned_child_waits_for_its_runner(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("who")
    async def who(ctx: durablex.Context) -> Any:
        return "ran"

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        return await ctx.step.run_workflow("pinned", name="who", runner="later")

    async with durablex.AsyncClient(db) as client:
        async with durablex.Runner(app, db=db, name="now"):
            handle = await client.start("parent")
            run = await wait_status(client, handle.run_id, "waiting")
            child_id = steps_by_id(run)["pinned"].child_run_id
            assert child_id is not None
            await asyncio.sleep(0.3)
            assert (await client.get_run(child_id)).status == "queued"
        async with durablex.Runner(app, db=db, name="later"):
            assert await handle.result(timeout=10) == "ran"


async def test_failed_child_raises_child_workflow_failed_error(db: str) -> None:
    app = durablex.App("a")
    child_calls: list[int] = []

    def boom() -> None:
        child_calls.append(1)
        raise RuntimeError("child broke")

    @app.workflow("child", retries=1, backoff="1ms", backoff_max="1ms")
    async def child(ctx: durablex.Context) -> Any:
        await ctx.step.run("boom", boom)

    @app.workflow("parent", retries=5)
    async def parent(ctx: durablex.Context) -> Any:
        try:
            await ctx.step.run_workflow("call", name="child")
        except durablex.ChildWorkflowFailedError as exc:
            assert isinstance(exc, durablex.StepFailedError)
            return [exc.step_id, exc.error_type, exc.child_run_id, exc.message, exc.attempts]
        return None

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")
        step_id, kind, child_id, message, attempts = await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
        child_run = await client.get_run(child_id)
    assert step_id == "call"
    assert kind == "ChildWorkflowFailedError"
    assert child_id == steps_by_id(run)["call"].child_run_id
    assert child_run.status == "failed"
    assert "child broke" in message or "StepFailedError" in message
    assert attempts == 1
    assert len(child_calls) == 2  # the child's own retries; the parent step is never retried
    assert steps_by_id(run)["call"].status == "failed"
    assert steps_by_id(run)["call"].attempts == 1


async def test_escaping_child_failure_fails_parent(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("child")
    async def child(ctx: durablex.Context) -> Any:
        raise ValueError("bad child")

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        await ctx.step.run_workflow("call", name="child")

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=10)
    assert info.value.error["type"] == "ChildWorkflowFailedError"


async def test_cancelling_parent_cancels_children(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("grandchild")
    async def grandchild(ctx: durablex.Context) -> Any:
        return await ctx.step.wait_for_event("w", event="never", timeout="1d")

    @app.workflow("child")
    async def child(ctx: durablex.Context) -> Any:
        return await ctx.step.run_workflow("gc", name="grandchild")

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        return await ctx.step.run_workflow("c", name="child")

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")

        async def grandchild_waiting() -> Any:
            runs = await client.list_runs(workflow="grandchild", status="waiting")
            return runs

        grandchildren = await eventually(grandchild_waiting, what="grandchild waiting")
        assert await client.cancel(handle.run_id) is True
        for wf in ("parent", "child", "grandchild"):
            runs = await client.list_runs(workflow=wf)
            assert [r.status for r in runs] == ["cancelled"], wf
        gc = await client.get_run(grandchildren[0].id)
        assert steps_by_id(gc)["w"].status == "cancelled"
        with pytest.raises(durablex.RunCancelledError):
            await handle.result(timeout=10)
        # the cancelled waiter is gone
        assert (await client.send("never")).resumed == 0


async def test_cancelled_child_fails_parent_step(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("child")
    async def child(ctx: durablex.Context) -> Any:
        return await ctx.step.wait_for_event("w", event="never", timeout="1d")

    @app.workflow("parent")
    async def parent(ctx: durablex.Context) -> Any:
        try:
            return await ctx.step.run_workflow("c", name="child")
        except durablex.ChildWorkflowFailedError as exc:
            return ["child-failed", exc.child_run_id]

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("parent")
        run = await wait_status(client, handle.run_id, "waiting")
        child_id = steps_by_id(run)["c"].child_run_id
        assert child_id is not None
        await wait_status(client, child_id, "waiting")
        await client.cancel(child_id)
        assert await handle.result(timeout=10) == ["child-failed", child_id]
