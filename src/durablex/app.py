"""Apps and workflow registration. An ``App`` is a plain object: nothing is global."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from durablex.core.durations import parse_duration

if TYPE_CHECKING:
    from durablex.runtime.context import Context

WorkflowFn = Callable[["Context"], Coroutine[Any, Any, Any]]
F = TypeVar("F", bound=WorkflowFn)

MAX_NAME_LENGTH = 255


def check_name(value: object, *, what: str) -> str:
    """A workflow, app, event or runner name: a non-empty string of at most 255 characters."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__} {value!r}")
    if not value or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{what} must be at most {MAX_NAME_LENGTH} characters, got {len(value)}: "
            f"{value[:40]!r}..."
        )
    return value


def check_retries(value: object, *, what: str = "retries") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int >= 0, got {value!r}")
    if value < 0 or value > 1000:
        raise ValueError(f"{what} must be between 0 and 1000, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """A registered workflow: its function and options, resolved once at import time."""

    app: str
    name: str
    fn: WorkflowFn
    triggers: tuple[str, ...]
    retries: int
    backoff_ms: float
    backoff_max_ms: float


class App:
    """A named group of workflows.

    Two ``App("x")`` objects may coexist in one process; a runner serves the apps it is given.
    """

    def __init__(self, name: str) -> None:
        self.name = check_name(name, what="app name")
        self._workflows: dict[str, WorkflowSpec] = {}

    def __repr__(self) -> str:
        return f"App({self.name!r}, workflows={sorted(self._workflows)!r})"

    @property
    def workflows(self) -> dict[str, WorkflowSpec]:
        return dict(self._workflows)

    def get(self, name: str) -> WorkflowSpec | None:
        return self._workflows.get(name)

    def workflow(
        self,
        name: str,
        *,
        on: str | Iterable[str] | None = None,
        retries: int = 3,
        backoff: object = "1s",
        backoff_max: object = "10m",
    ) -> Callable[[F], F]:
        """Register an ``async def fn(ctx)`` as the workflow ``name``."""
        check_name(name, what="workflow name")
        triggers = _check_triggers(on)
        check_retries(retries)
        backoff_ms = parse_duration(backoff, what="backoff")
        backoff_max_ms = parse_duration(backoff_max, what="backoff_max")
        if backoff_max_ms < backoff_ms:
            raise ValueError(
                f"backoff_max ({backoff_max!r}) must not be shorter than backoff ({backoff!r})"
            )
        if name in self._workflows:
            raise ValueError(f"workflow {name!r} is already registered in app {self.name!r}")

        def register(fn: F) -> F:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(
                    f"workflow {name!r} must be an 'async def' function taking one Context, "
                    f"got {fn!r}"
                )
            if name in self._workflows:
                raise ValueError(f"workflow {name!r} is already registered in app {self.name!r}")
            self._workflows[name] = WorkflowSpec(
                app=self.name,
                name=name,
                fn=cast(WorkflowFn, fn),
                triggers=triggers,
                retries=retries,
                backoff_ms=backoff_ms,
                backoff_max_ms=backoff_max_ms,
            )
            return fn

        return register


def _check_triggers(on: object) -> tuple[str, ...]:
    if on is None:
        return ()
    if isinstance(on, str):
        return (check_name(on, what="trigger event name"),)
    if isinstance(on, Iterable):
        names = tuple(check_name(item, what="trigger event name") for item in on)
        return tuple(dict.fromkeys(names))
    raise TypeError(f"on= must be an event name or a list of them, got {on!r}")
