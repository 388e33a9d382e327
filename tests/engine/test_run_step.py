"""step.run: execution, JSON form, recorded inputs, serialization failures, replay."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import sqlite3
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from uuid import UUID

import psycopg
import pytest

import durablex
from durablex.records import INVOKED_EVENT
from durablex.runtime import execution

from .support import REPLAY_SLEEP_MS, steps_by_id


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    when: datetime


UID = UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

RICH_VALUE = {
    "tuple": (1, 2, (3, 4)),
    "when": WHEN,
    "day": date(2024, 1, 2),
    "point": Point(1, WHEN),
    "money": Decimal("12.50"),
    "color": Color.RED,
    "uid": UID,
    "float": 1.5,
    "none": None,
    "flag": True,
}
RICH_JSON = {
    "tuple": [1, 2, [3, 4]],
    "when": "2024-05-06T07:08:09+00:00",
    "day": "2024-01-02",
    "point": {"x": 1, "when": "2024-05-06T07:08:09+00:00"},
    "money": "12.50",
    "color": "red",
    "uid": "12345678-1234-5678-1234-567812345678",
    "float": 1.5,
    "none": None,
    "flag": True,
}


async def test_sync_and_async_functions_return_their_value(db: str) -> None:
    app = durablex.App("a")
    loop_threads: list[threading.Thread] = []
    step_threads: list[threading.Thread] = []

    def sync_fn() -> int:
        step_threads.append(threading.current_thread())
        return 41

    async def async_fn() -> int:
        await asyncio.sleep(0)
        return 1

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> int:
        loop_threads.append(threading.current_thread())
        a = await ctx.step.run("sync", sync_fn)
        b = await ctx.step.run("async", async_fn)
        return int(a) + int(b)

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == 42
        assert await handle.status() == "completed"
        run = await client.get_run(handle.run_id)
    # a plain function runs in a worker thread, never on the runner's event loop thread
    assert step_threads and loop_threads
    assert all(t is not loop_threads[0] for t in step_threads)
    assert step_threads[0] is not threading.main_thread()
    steps = steps_by_id(run)
    assert [s.id for s in run.steps] == ["sync", "async"]
    for step in steps.values():
        assert step.kind == "run"
        assert step.status == "completed"
        assert step.attempts == 1
        assert step.input is None
        assert step.error is None
        assert step.started_at is not None and step.ended_at is not None
        assert step.started_at <= step.ended_at
        # every attempt is recorded, the single successful one too
        assert [(a.number, a.error) for a in step.attempt_log] == [(1, None)]
        assert step.attempt_log[0].started_at == step.started_at
        assert step.attempt_log[0].ended_at == step.ended_at
    assert steps["sync"].output == 41
    assert run.output == 42
    assert run.status == "completed"
    assert run.error is None
    assert run.ended_at is not None


async def test_each_step_is_stored_before_the_next_step_body_starts(db: str) -> None:
    """A step's record may join a later commit, but never later than the next step's body:
    a crash during that body must not run the finished step again."""
    app = durablex.App("a")
    stored_before: dict[str, list[str]] = {}

    async with durablex.AsyncClient(db) as reader:

        def body(name: str) -> Any:
            async def run() -> str:
                # another store on the same database sees only committed rows
                run = await reader.get_run(current_run[0])
                stored_before[name] = [s.id for s in run.steps if s.status == "completed"]
                return name

            return run

        current_run: list[str] = []

        @app.workflow("wf")
        async def wf(ctx: durablex.Context) -> Any:
            current_run.append(ctx.run_id)
            results = [await ctx.step.run(n, body(n)) for n in ("one", "two", "three")]
            both = await asyncio.gather(ctx.step.run("p", body("p")), ctx.step.run("q", body("q")))
            return [*results, *both]

        async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
            handle = await client.start("wf")
            assert await handle.result(timeout=10) == ["one", "two", "three", "p", "q"]
            run = await client.get_run(handle.run_id)
    assert stored_before["one"] == []
    assert stored_before["two"] == ["one"]
    assert stored_before["three"] == ["one", "two"]
    assert set(stored_before["p"]) >= {"one", "two", "three"}
    assert set(stored_before["q"]) >= {"one", "two", "three"}
    assert [s.id for s in run.steps] == ["one", "two", "three", "p", "q"]
    assert all(s.status == "completed" for s in run.steps)


async def test_a_run_of_quick_steps_lets_the_runners_loop_turn_while_it_runs(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps whose bodies return without awaiting anything, committed inline, never wait for
    the event loop; the run must still let it turn, or the runner's lease renewals, timers and
    other runs wait for the whole run. A task on the runner's loop sees the run midway, both
    on its first pass and when a second pass replays its completed steps (a replay of a few
    thousand steps takes a few ms: the loop is looked at every 0.5 ms here instead of 5)."""
    monkeypatch.setattr(execution, "LOOP_TURN_EVERY", 0.0005)
    app = durablex.App("a")
    steps = 3000
    calls = [0]
    passes: list[set[int]] = []  # for each pass, how far along the task saw it
    through = [0]

    async def quick() -> int:
        calls[0] += 1
        return calls[0]

    @app.workflow("quick")
    async def many_quick_steps(ctx: durablex.Context) -> int:
        passes.append(set())
        through[0] = 0
        for i in range(steps):
            await ctx.step.run(f"s{i}", quick)
            through[0] += 1
        await ctx.step.sleep("pause", f"{REPLAY_SLEEP_MS}ms")
        return calls[0]

    async def watch() -> None:
        while True:
            if passes and 0 < through[0] < steps:
                passes[-1].add(through[0])
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
            handle = await client.start("quick")
            assert await handle.result(timeout=60) == steps
    finally:
        watcher.cancel()
    first, replay = passes
    assert first, "the loop never turned while the first pass ran its steps"
    assert replay, "the loop never turned while the second pass replayed them"
    assert calls[0] == steps  # the replay ran no body again


def completed_steps_now(db: str, run_id: str) -> set[str]:
    """The run's completed steps as committed at this very moment (a blocking read on a
    connection of its own, so that no commit can slip in before it)."""
    sql = "SELECT step_id FROM steps WHERE run_id = {} AND status = 'completed'"
    if db.startswith("sqlite"):
        path = db.removeprefix("sqlite:///").split("?")[0]
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return {r[0] for r in conn.execute(sql.format("?"), (run_id,))}
    parts = urlsplit(db)
    schema = dict(parse_qsl(parts.query))["schema"]
    with psycopg.connect(urlunsplit(parts._replace(query=""))) as conn:
        table = sql.replace("FROM steps", f'FROM "{schema}".steps')
        return {r[0] for r in conn.execute(table.format("%s"), (run_id,))}


async def test_a_parallel_step_that_finished_is_stored_before_any_sibling_body_starts(
    db: str,
) -> None:
    """Siblings started together: one that finishes before the others begin is stored before
    every one of them runs, not only before the first."""
    app = durablex.App("a")
    seen: dict[str, set[str]] = {}
    current: list[str] = []

    def check(name: str) -> Any:
        async def body() -> str:
            seen[name] = completed_steps_now(db, current[0])
            return name

        return body

    async def quick() -> str:
        return "quick"

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        current.append(ctx.run_id)
        return await asyncio.gather(
            ctx.step.run("quick", quick), *(ctx.step.run(n, check(n)) for n in ("b", "c", "d"))
        )

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == ["quick", "b", "c", "d"]
    assert all("quick" in seen[n] for n in ("b", "c", "d")), seen


async def test_json_form_on_first_pass_and_on_replay(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []
    seen: list[Any] = []

    def make() -> Any:
        calls.append(1)
        return RICH_VALUE

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        value = await ctx.step.run("rich", make)
        seen.append(value)
        await ctx.step.sleep("pause", REPLAY_SLEEP_MS)  # parks: the next pass replays "rich"
        return value

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == RICH_JSON
        run = await client.get_run(handle.run_id)
    assert len(calls) == 1, "a completed step is never executed again"
    assert len(seen) >= 2, "the workflow was replayed after the sleep"
    for value in seen:
        assert value == RICH_JSON
        assert isinstance(value["tuple"], list)
        assert isinstance(value["when"], str)
        assert isinstance(value["point"], dict)
    assert steps_by_id(run)["rich"].output == RICH_JSON


async def test_a_step_value_is_the_workflows_own_copy_of_what_fn_returned(db: str) -> None:
    """The workflow gets the stored JSON form, not the object ``fn`` returned: changing that
    object afterwards changes neither the value the workflow holds nor what was stored."""
    app = durablex.App("a")
    shared: dict[str, Any] = {"items": [1], "pair": (2, 3)}

    def make() -> Any:
        return shared

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        value = await ctx.step.run("make", make)
        assert value is not shared and value["items"] is not shared["items"]
        shared["items"].append("changed later")
        value["items"].append("workflow's own")
        return value

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        result = await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert result == {"items": [1, "workflow's own"], "pair": [2, 3]}
    assert steps_by_id(run)["make"].output == {"items": [1], "pair": [2, 3]}
    assert shared["items"] == [1, "changed later"]


async def test_recorded_input_is_passed_to_fn_and_stored(db: str) -> None:
    app = durablex.App("a")
    received: list[Any] = []

    def charge(inp: Any) -> Any:
        received.append(inp)
        return {"charged": inp["amount"]}

    async def ship(inp: Any) -> str:
        return f"ship-{inp}"

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        charged = await ctx.step.run("charge", {"order": 7, "amount": 4200, "at": WHEN}, charge)
        shipped = await ctx.step.run("ship", "x", ship)
        none_input = await ctx.step.run("none-input", None, lambda inp: inp is None)
        return [charged, shipped, none_input]

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == [{"charged": 4200}, "ship-x", True]
        run = await client.get_run(handle.run_id)
    assert received[0]["order"] == 7
    steps = steps_by_id(run)
    assert steps["charge"].input == {"order": 7, "amount": 4200, "at": "2024-05-06T07:08:09+00:00"}
    assert steps["ship"].input == "x"
    assert steps["none-input"].input is None


async def test_context_attributes(db: str) -> None:
    app = durablex.App("shop")
    seen: dict[str, Any] = {}

    @app.workflow("order.process")
    async def wf(ctx: durablex.Context) -> None:
        seen.update(
            run_id=ctx.run_id,
            workflow=ctx.workflow,
            app=ctx.app,
            event=ctx.event,
            data=ctx.data,
        )

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("order.process", {"order_id": 5})
        assert await handle.result(timeout=10) is None
        run = await client.get_run(handle.run_id)
    assert seen["run_id"] == handle.run_id
    assert seen["workflow"] == "order.process"
    assert seen["app"] == "shop"
    event = seen["event"]
    assert isinstance(event, durablex.Event)
    assert event.name == INVOKED_EVENT == "durablex/workflow.invoked"
    assert event.data == {"order_id": 5} == seen["data"]
    assert isinstance(event.id, str) and event.id
    assert event.ts.tzinfo is not None and event.ts.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert run.input == {"order_id": 5}
    assert run.workflow == "order.process" and run.app == "shop"
    assert run.parent_run_id is None
    assert run.warnings == []


@pytest.mark.parametrize(
    ("bad", "type_name"),
    [(object(), "object"), ({1, 2}, "set"), (b"bytes", "bytes"), (float("nan"), "nan")],
)
async def test_unserializable_output_fails_without_retry(db: str, bad: Any, type_name: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    def make() -> Any:
        calls.append(1)
        return bad

    @app.workflow("wf", retries=3, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        try:
            await ctx.step.run("make-it", make)
        except durablex.StepFailedError as exc:
            return {
                "step_id": exc.step_id,
                "error_type": exc.error_type,
                "message": exc.message,
                "attempts": exc.attempts,
                "cls": type(exc).__name__,
            }
        return "unreachable"

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        out = await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert len(calls) == 1, "a SerializationError is never retried"
    assert out["cls"] == "StepFailedError"
    assert out["error_type"] == "SerializationError"
    assert out["step_id"] == "make-it"
    assert out["attempts"] == 1
    assert "make-it" in out["message"]
    assert type_name in out["message"]
    step = steps_by_id(run)["make-it"]
    assert step.status == "failed"
    assert step.attempts == 1
    assert step.error is not None and step.error["type"] == "SerializationError"
    assert step.output is None


async def test_unserializable_input_fails_step_without_calling_fn(db: str) -> None:
    app = durablex.App("a")
    calls: list[int] = []

    @app.workflow("wf", retries=2, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("with-input", {"conn": object()}, lambda inp: calls.append(1))
        return "unreachable"

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert calls == []
    assert info.value.error["type"] == "StepFailedError"
    assert "SerializationError" in info.value.error["message"]
    step = steps_by_id(run)["with-input"]
    assert step.status == "failed"
    assert step.attempts == 1
    assert step.error is not None and step.error["type"] == "SerializationError"
    assert "with-input" in step.error["message"]
    assert "object" in step.error["message"]


async def test_output_over_the_size_limit_fails_with_its_size(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf", retries=3, backoff="1ms", backoff_max="1ms")
    async def wf(ctx: durablex.Context) -> Any:
        small = await ctx.step.run("small", lambda: "x" * 100)
        try:
            await ctx.step.run("big", lambda: "x" * 5000)
        except durablex.StepFailedError as exc:
            return [len(small), exc.error_type, exc.message, exc.attempts]
        return "unreachable"

    async with (
        durablex.Runner(app, db=db, max_payload_bytes=2048),
        durablex.AsyncClient(db) as client,
    ):
        handle = await client.start("wf")
        size, kind, message, attempts = await handle.result(timeout=10)
    assert size == 100
    assert kind == "SerializationError"
    assert attempts == 1
    assert "big" in message
    assert "5002" in message and "2048" in message  # the size and the limit


async def test_workflow_exception_fails_run_with_type_message_traceback(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def failing_workflow(ctx: durablex.Context) -> None:
        await ctx.step.run("ok", lambda: 1)
        raise KeyError("missing-thing")

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert info.value.run_id == handle.run_id
    assert run.status == "failed"
    assert run.error is not None
    assert run.error["type"] == "KeyError"
    assert "missing-thing" in run.error["message"]
    assert "failing_workflow" in run.error["traceback"]
    assert "KeyError" in run.error["traceback"]
    assert run.ended_at is not None
    assert run.output is None
    assert "KeyError" in str(info.value)


async def test_unserializable_workflow_output_fails_the_run(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return {"x": object()}

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=10)
    assert info.value.error["type"] == "SerializationError"
    assert "object" in info.value.error["message"]


async def test_workflow_output_is_json_form(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return RICH_VALUE

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == RICH_JSON


async def test_step_function_exception_type_is_kept(db: str) -> None:
    app = durablex.App("a")

    class PaymentDeclined(Exception):
        pass

    def decline() -> None:
        raise PaymentDeclined("card 4242 declined")

    @app.workflow("wf", retries=0)
    async def wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("charge", decline)

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        with pytest.raises(durablex.RunFailedError) as info:
            await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    assert info.value.error["type"] == "StepFailedError"
    step = steps_by_id(run)["charge"]
    assert step.error is not None
    assert step.error["type"] == "PaymentDeclined"
    assert step.error["message"] == "card 4242 declined"
    assert "decline" in step.error["traceback"]


class ModelLike:
    """Shaped like a pydantic v2 model: the engine stores ``model_dump(mode="json")``."""

    def __init__(self, name: str, when: datetime) -> None:
        self.name = name
        self.when = when

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        assert mode == "json"
        return {"name": self.name, "when": self.when.isoformat()}


async def test_model_values_are_stored_as_their_dict(db: str) -> None:
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        first = await ctx.step.run("model", lambda: ModelLike("n", WHEN))
        await ctx.step.sleep("replay", REPLAY_SLEEP_MS)
        return first

    async with durablex.Runner(app, db=db, hold=0), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == {
            "name": "n",
            "when": "2024-05-06T07:08:09+00:00",
        }


async def test_pydantic_model_is_stored_as_its_dict(db: str) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Order(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        id: int
        at: datetime

    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return await ctx.step.run("order", lambda: Order(id=1, at=WHEN))

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        out = await handle.result(timeout=10)
    assert out["id"] == 1 and isinstance(out["at"], str)
