"""What workflow code programs against: ``ctx`` and ``ctx.step``.

Each step method checks its arguments when it is called, before anything is recorded, and
returns the coroutine that performs the step; so ``await ctx.step.sleep("s", "1x")`` and a bare
``ctx.step.sleep("s", "1x")`` both raise at once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import orjson

from durablex.app import check_name
from durablex.core.durations import parse_duration
from durablex.core.matching import normalize_match
from durablex.core.serialization import encode
from durablex.core.times import parse_instant, us_to_iso
from durablex.records import Event
from durablex.runtime.execution import RunPass

MAX_STEP_ID_LENGTH = 255


def check_step_id(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(
            f"a step id must be a str (non-empty, at most {MAX_STEP_ID_LENGTH} characters), "
            f"got {type(value).__name__} {value!r}"
        )
    if not value:
        raise ValueError("a step id must be a non-empty string, got ''")
    if len(value) > MAX_STEP_ID_LENGTH:
        raise ValueError(
            f"a step id must be at most {MAX_STEP_ID_LENGTH} characters, got {len(value)}: "
            f"{value[:40]!r}..."
        )
    return value


def _check_retries(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"retries must be an int >= 0 or None, got {value!r}")
    if value < 0 or value > 1000:
        raise ValueError(f"retries must be between 0 and 1000, got {value!r}")
    return value


def _ms_number(ms: float) -> int | float:
    return int(ms) if float(ms).is_integer() else ms


class Steps:
    """``ctx.step``: the six kinds of durable step."""

    __slots__ = ("_pass",)

    def __init__(self, run_pass: RunPass) -> None:
        self._pass = run_pass

    def run(self, id: str, *args: Any, retries: int | None = None) -> Coroutine[Any, Any, Any]:
        """``run(id, fn)`` or ``run(id, input, fn)``: run ``fn`` once and keep its JSON value."""
        step_id = check_step_id(id)
        if len(args) == 1:
            has_input, value, fn = False, None, args[0]
        elif len(args) == 2:
            has_input, value, fn = True, args[0], args[1]
        else:
            raise TypeError(
                f"step.run({step_id!r}, ...) takes (id, fn) or (id, input, fn); "
                f"got {len(args)} arguments after the id"
            )
        if not callable(fn):
            raise TypeError(
                f"step.run({step_id!r}, ...): the last argument must be a function, "
                f"got {type(fn).__name__} {fn!r}"
            )
        limit = _check_retries(retries)
        fn_checked: Callable[..., Any] = fn
        return self._pass.run_step(step_id, has_input, value, fn_checked, limit)

    def sleep(self, id: str, duration: object) -> Coroutine[Any, Any, None]:
        step_id = check_step_id(id)
        ms = parse_duration(duration, what=f"step.sleep({step_id!r})")
        recorded = {"duration_ms": _ms_number(ms)}
        return self._pass.sleep_step(step_id, "sleep", None, int(ms * 1000), recorded)

    def sleep_until(self, id: str, at: object) -> Coroutine[Any, Any, None]:
        step_id = check_step_id(id)
        wake = parse_instant(at, what=f"step.sleep_until({step_id!r})")
        return self._pass.sleep_step(step_id, "sleep_until", wake, None, {"until": us_to_iso(wake)})

    def wait_for_event(
        self,
        id: str,
        *,
        event: str,
        timeout: object,
        match: Mapping[str, Any] | None = None,
    ) -> Coroutine[Any, Any, Any]:
        step_id = check_step_id(id)
        name = check_name(event, what=f"step.wait_for_event({step_id!r}) event")
        ms = parse_duration(timeout, what=f"step.wait_for_event({step_id!r}) timeout")
        wanted = normalize_match(match)
        recorded = {"event": name, "timeout_ms": _ms_number(ms), "match": wanted}
        return self._pass.wait_step(step_id, name, int(ms * 1000), wanted, recorded)

    def run_workflow(
        self,
        id: str,
        *,
        name: str,
        data: Any = None,
        app: str | None = None,
        runner: str | None = None,
    ) -> Coroutine[Any, Any, Any]:
        step_id = check_step_id(id)
        workflow = check_name(name, what=f"step.run_workflow({step_id!r}) name")
        if app is not None:
            check_name(app, what=f"step.run_workflow({step_id!r}) app")
        if runner is not None:
            check_name(runner, what=f"step.run_workflow({step_id!r}) runner")
        encoded = encode(
            data, step_id=step_id, what="child data", max_bytes=self._pass.max_payload_bytes
        )
        return self._pass.child_step(step_id, workflow, encoded, orjson.loads(encoded), app, runner)

    def emit(
        self, id: str, *, name: str, data: Any = None, app: str | None = None
    ) -> Coroutine[Any, Any, str]:
        step_id = check_step_id(id)
        event = check_name(name, what=f"step.emit({step_id!r}) name")
        if app is not None:
            check_name(app, what=f"step.emit({step_id!r}) app")
        encoded = encode(
            data, step_id=step_id, what="event data", max_bytes=self._pass.max_payload_bytes
        )
        return self._pass.emit_step(step_id, event, encoded, orjson.loads(encoded), app)


class Context:
    """Passed to every workflow: who this run is, what started it, and ``ctx.step``."""

    __slots__ = ("app", "event", "run_id", "step", "workflow")

    def __init__(self, *, run_id: str, workflow: str, app: str, event: Event, step: Steps) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.app = app
        self.event = event
        self.step = step

    @property
    def data(self) -> Any:
        """The triggering event's data (for a started run: its input)."""
        return self.event.data

    def __repr__(self) -> str:
        return f"Context(run_id={self.run_id!r}, workflow={self.workflow!r}, app={self.app!r})"
