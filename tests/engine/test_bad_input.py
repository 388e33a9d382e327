"""Bad input: every public function and parser raises a clear ValueError/TypeError naming the
value, and nothing is half-written."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import durablex

BAD_DURATIONS: list[tuple[Any, type[Exception]]] = [
    ("", ValueError),
    ("  ", ValueError),
    ("-1s", ValueError),
    ("1x", ValueError),
    ("10", ValueError),
    ("s", ValueError),
    ("1 h", ValueError),
    (-5, ValueError),
    (float("nan"), ValueError),
    (math.inf, ValueError),
    (True, ValueError),
    (timedelta(seconds=-1), ValueError),
    (None, TypeError),
    ([1], TypeError),
]


async def noop(ctx: durablex.Context) -> None:
    return None


# -- apps and workflow registration -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error"),
    [("", ValueError), ("x" * 256, ValueError), (None, TypeError), (3, TypeError)],
)
def test_app_name(name: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="app name"):
        durablex.App(name)


def test_workflow_registration_errors_leave_the_app_unchanged() -> None:
    app = durablex.App("a")
    app.workflow("ok")(noop)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"name": ""}, ValueError, "workflow name"),
        ({"name": 5}, TypeError, "workflow name"),
        ({"name": "w", "on": 5}, TypeError, "on="),
        ({"name": "w", "on": ["ok", ""]}, ValueError, "trigger"),
        ({"name": "w", "on": [None]}, TypeError, "trigger"),
        ({"name": "w", "retries": -1}, ValueError, "-1"),
        ({"name": "w", "retries": True}, TypeError, "True"),
        ({"name": "w", "retries": "3"}, TypeError, "'3'"),
        ({"name": "w", "backoff": "1x"}, ValueError, "'1x'"),
        ({"name": "w", "backoff_max": -1}, ValueError, "-1"),
        ({"name": "w", "backoff": "1m", "backoff_max": "1s"}, ValueError, "backoff_max"),
        ({"name": "ok"}, ValueError, "already registered"),
    ]
    for kwargs, error, fragment in cases:
        name = kwargs.pop("name")
        with pytest.raises(error, match=fragment):
            app.workflow(name, **kwargs)(noop)
    with pytest.raises(TypeError, match="async def"):
        app.workflow("sync")(lambda ctx: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="async def"):
        app.workflow("not-callable")(42)  # type: ignore[arg-type]
    assert list(app.workflows) == ["ok"]
    # the same name in another App object is fine
    other = durablex.App("a")
    other.workflow("ok")(noop)


# -- runner ----------------------------------------------------------------------------


def test_runner_arguments(tmp_path: Path) -> None:
    app = durablex.App("a")
    db = f"sqlite:///{tmp_path}/x.db"
    cases: list[tuple[Any, dict[str, Any], type[Exception], str]] = [
        (("not-an-app",), {}, TypeError, "'not-an-app'"),
        ((app, durablex.App("a")), {}, ValueError, "same name"),
        ((app,), {"concurrency": 0}, ValueError, "concurrency"),
        ((app,), {"concurrency": True}, ValueError, "concurrency"),
        ((app,), {"lease": "1ms"}, ValueError, "lease"),
        ((app,), {"lease": "soon"}, ValueError, "'soon'"),
        ((app,), {"max_payload_bytes": 10}, ValueError, "max_payload_bytes"),
        ((app,), {"max_payload_bytes": "big"}, TypeError, "max_payload_bytes"),
        ((app,), {"name": ""}, ValueError, "runner name"),
        ((app,), {"db": 42}, TypeError, "42"),
        ((app,), {"db": ""}, ValueError, "db"),
        ((app,), {"db": "mysql://x/y"}, ValueError, "mysql"),
        ((app,), {"db": "sqlite://host/x.db"}, ValueError, "three slashes"),
        ((app,), {"db": "sqlite:///"}, ValueError, "path"),
        ((app,), {"db": db + "?color=red"}, ValueError, "color"),
        ((app,), {"db": db + "?durability=sometimes"}, ValueError, "sometimes"),
        ((app,), {"db": db, "durability": "never"}, ValueError, "never"),
    ]
    for args, kwargs, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            durablex.Runner(*args, **{"db": db, **kwargs})
    assert not (tmp_path / "x.db").exists(), "a refused Runner creates no file"


# -- clients ---------------------------------------------------------------------------


@pytest.mark.parametrize("db", [42, "", "ftp://x", "sqlite:///x.db?nope=1"])
def test_client_db_url(db: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        durablex.AsyncClient(db)
    with pytest.raises((TypeError, ValueError)):
        durablex.Client(db)


async def test_async_client_arguments(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    app = durablex.App("a")
    app.workflow("wf", on="e")(noop)
    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        cases: list[tuple[Any, type[Exception], str]] = [
            (lambda: client.send(""), ValueError, "event name"),
            (lambda: client.send(5), TypeError, "event name"),
            (lambda: client.send("e", id=""), ValueError, "event id"),
            (lambda: client.send("e", id=5), TypeError, "event id"),
            (lambda: client.send("e", app=""), ValueError, "app"),
            (lambda: client.send("e", {"x": object()}), durablex.SerializationError, "object"),
            (lambda: client.send("e", {1: "x"}), TypeError, "key"),
            (lambda: client.start(""), ValueError, "workflow name"),
            (lambda: client.start(None), TypeError, "workflow name"),
            (lambda: client.start("wf", {1, 2}), durablex.SerializationError, "set"),
            (lambda: client.get_run(5), TypeError, "run_id"),
            (lambda: client.get_run(""), ValueError, "run_id"),
            (lambda: client.cancel(None), TypeError, "run_id"),
            (lambda: client.rerun(""), ValueError, "run_id"),
            (lambda: client.resume(7), TypeError, "run_id"),
            (lambda: client.list_runs(status="done"), ValueError, "'done'"),
            (lambda: client.list_runs(limit=0), ValueError, "limit"),
            (lambda: client.list_runs(limit=True), TypeError, "limit"),
            (lambda: client.list_runs(limit=10_001), ValueError, "limit"),
        ]
        for call, error, fragment in cases:
            with pytest.raises(error, match=fragment):
                await call()
        assert isinstance(durablex.SerializationError("x"), TypeError)
        # nothing was written by the refused calls
        assert await client.list_runs() == []
        assert (await client.list_events()).events == []
        handle = await client.start("wf")
        for timeout, error in (
            ("10", TypeError),
            (-1, ValueError),
            (math.nan, ValueError),
            (True, ValueError),
            (timedelta(seconds=-1), ValueError),
        ):
            with pytest.raises(error, match="timeout"):
                await handle.result(timeout=timeout)
        assert await handle.result(timeout=10) is None
        with pytest.raises(ValueError, match="completed"):
            await client.resume(handle.run_id)
        with pytest.raises(TypeError):
            client.handle(3)  # type: ignore[arg-type]


def test_blocking_client_validates_the_same(tmp_path: Path) -> None:
    with durablex.Client(f"sqlite:///{tmp_path}/x.db") as client:
        with pytest.raises(ValueError, match="event name"):
            client.send("")
        with pytest.raises(durablex.SerializationError):
            client.send("e", object())
        with pytest.raises(ValueError, match="'nope'"):
            client.list_runs(status="nope")
        with pytest.raises(TypeError, match="run_id"):
            client.get_run(1)  # type: ignore[arg-type]
        assert client.list_runs() == []


# -- step arguments, inside a workflow --------------------------------------------------


async def run_checks(db: str, checks: Any) -> tuple[list[str], durablex.Run]:
    """Run ``checks(ctx)`` (a list of (call, error type)) in a workflow; each call must raise at
    once, before anything is recorded. Returns the messages and the finished run."""
    app = durablex.App("a")
    messages: list[str] = []

    @app.workflow("target")
    async def target(ctx: durablex.Context) -> Any:
        return None

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        for call, error in checks(ctx):
            try:
                call()  # raises at the call, before any await
            except error as exc:
                messages.append(str(exc))
            else:
                raise AssertionError(f"no {error.__name__} for check #{len(messages)}")
        await ctx.step.run("good", lambda: "still works")
        return len(messages)

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        handle = await client.start("wf")
        await handle.result(timeout=10)
        run = await client.get_run(handle.run_id)
    return messages, run


@pytest.mark.parametrize(("duration", "error"), BAD_DURATIONS)
async def test_bad_durations_at_every_step(db: str, duration: Any, error: type[Exception]) -> None:
    def checks(ctx: durablex.Context) -> Any:
        return [
            (lambda: ctx.step.sleep("s", duration), error),
            (lambda: ctx.step.wait_for_event("w", event="e", timeout=duration), error),
            (lambda: durablex.RetryAfterError("later", duration), error),
        ]

    messages, run = await run_checks(db, checks)
    assert [s.id for s in run.steps] == ["good"]
    assert len(messages) == 3
    for message in messages:
        assert "duration" in message
        assert "'1h30m'" in message or "1h30m" in message  # the accepted forms
        assert repr(duration)[:20] in message or str(duration) in message


@pytest.mark.parametrize(
    ("at", "error"),
    [
        ("tomorrow", ValueError),
        ("", ValueError),
        ("2024-13-01", ValueError),
        (float("nan"), ValueError),
        (math.inf, ValueError),
        (10**30, ValueError),
        (True, TypeError),
        (None, TypeError),
        (object(), TypeError),
        (timedelta(hours=1), TypeError),
    ],
)
async def test_bad_sleep_until(db: str, at: Any, error: type[Exception]) -> None:
    def checks(ctx: durablex.Context) -> Any:
        return [(lambda: ctx.step.sleep_until("s", at), error)]

    messages, run = await run_checks(db, checks)
    assert [s.id for s in run.steps] == ["good"]
    assert "instant" in messages[0]
    assert "ISO-8601" in messages[0]


async def test_bad_step_arguments(db: str) -> None:
    def checks(ctx: durablex.Context) -> Any:
        return [
            (lambda: ctx.step.run("r"), TypeError),
            (lambda: ctx.step.run("r", 1, 2, 3), TypeError),
            (lambda: ctx.step.run("r", "not callable"), TypeError),
            (lambda: ctx.step.run("r", lambda: 1, retries=-1), ValueError),
            (lambda: ctx.step.run("r", lambda: 1, retries="2"), TypeError),
            (lambda: ctx.step.run("r", lambda: 1, retries=True), TypeError),
            (lambda: ctx.step.wait_for_event("w", event="", timeout=1), ValueError),
            (lambda: ctx.step.wait_for_event("w", event=None, timeout=1), TypeError),
            (lambda: ctx.step.wait_for_event("w", event="e"), TypeError),  # timeout required
            (lambda: ctx.step.wait_for_event("w", event="e", timeout=1, match=[1]), TypeError),
            (lambda: ctx.step.wait_for_event("w", event="e", timeout=1, match={1: 2}), TypeError),
            (lambda: ctx.step.wait_for_event("w", event="e", timeout=1, match={"": 2}), ValueError),
            (
                lambda: ctx.step.wait_for_event("w", event="e", timeout=1, match={"a..b": 2}),
                ValueError,
            ),
            (
                lambda: ctx.step.wait_for_event("w", event="e", timeout=1, match={"a": object()}),
                TypeError,
            ),
            (lambda: ctx.step.run_workflow("c", name=""), ValueError),
            (lambda: ctx.step.run_workflow("c", name="target", app=""), ValueError),
            (lambda: ctx.step.run_workflow("c", name="target", runner=3), TypeError),
            (
                lambda: ctx.step.run_workflow("c", name="target", data=object()),
                durablex.SerializationError,
            ),
            (lambda: ctx.step.emit("e", name=""), ValueError),
            (lambda: ctx.step.emit("e", name=7), TypeError),
            (lambda: ctx.step.emit("e", name="x", app=""), ValueError),
            (lambda: ctx.step.emit("e", name="x", data={"s": {1}}), durablex.SerializationError),
        ]

    messages, run = await run_checks(db, checks)
    assert [s.id for s in run.steps] == ["good"]
    assert any("'not callable'" in m for m in messages)
    assert any("'2'" in m for m in messages)
    serialization = [m for m in messages if "not JSON" in m]
    assert any("'c'" in m and "object" in m for m in serialization)
    assert any("'e'" in m and "set" in m for m in serialization)


def test_bad_durations_in_retry_after_error_outside_a_workflow() -> None:
    err = durablex.RetryAfterError("later", timedelta(seconds=2))
    assert err.delay_ms == 2000
    assert durablex.RetryAfterError("later", "1h30m").delay_ms == 5_400_000
    with pytest.raises(ValueError, match="'soon'"):
        durablex.RetryAfterError("later", "soon")
