"""The public exceptions of Durablex.

::

    DurablexError
    ├── StepFailedError                 a step failed after its retries (catchable in a workflow)
    │   ├── ChildWorkflowFailedError    the child run of a run_workflow step failed or was cancelled
    │   ├── WorkflowNotFoundError       (also LookupError) no registered workflow has that name
    │   └── AmbiguousWorkflowError      (also LookupError) several apps define that name
    ├── NonRetriableError               raise in a step to fail it at once
    ├── RetryAfterError                 raise in a step to retry it after a given delay
    ├── SerializationError              (also TypeError) a value is not JSON or is too large
    ├── RunFailedError                  RunHandle.result(): the run failed
    ├── RunCancelledError               RunHandle.result(): the run was cancelled
    └── RunNotFoundError                (also LookupError) no run has that id

Suspension of a workflow is not an exception a user sees: see ``durablex.runtime.signals``.
"""

from __future__ import annotations

from typing import Any


class DurablexError(Exception):
    """Base class of every error Durablex raises on purpose."""


class StepFailedError(DurablexError):
    """A step failed for good; raised at the step's ``await`` on this pass and every later one."""

    def __init__(
        self,
        *,
        step_id: str | None,
        error_type: str,
        message: str,
        attempts: int = 0,
    ) -> None:
        self.step_id = step_id
        self.error_type = error_type
        self.message = message
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.step_id is None:
            return self.message
        return f"step {self.step_id!r} failed with {self.error_type}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__.copy()))


class ChildWorkflowFailedError(StepFailedError):
    """The child run started by ``run_workflow`` failed or was cancelled."""

    def __init__(
        self,
        *,
        step_id: str | None,
        message: str,
        child_run_id: str,
        attempts: int = 1,
        error_type: str = "ChildWorkflowFailedError",
    ) -> None:
        self.child_run_id = child_run_id
        super().__init__(step_id=step_id, error_type=error_type, message=message, attempts=attempts)


class WorkflowNotFoundError(StepFailedError, LookupError):
    """No registered workflow has the requested name (in the requested app)."""

    def __init__(
        self,
        *,
        workflow: str,
        app: str | None = None,
        step_id: str | None = None,
        message: str | None = None,
        attempts: int = 0,
        error_type: str = "WorkflowNotFoundError",
    ) -> None:
        self.workflow = workflow
        self.app = app
        if message is None:
            where = f" in app {app!r}" if app else ""
            message = f"no registered workflow named {workflow!r}{where}"
        super().__init__(step_id=step_id, error_type=error_type, message=message, attempts=attempts)


class AmbiguousWorkflowError(StepFailedError, LookupError):
    """Several apps define the workflow name; pass ``app=`` to pick one."""

    def __init__(
        self,
        *,
        workflow: str,
        apps: list[str],
        step_id: str | None = None,
        message: str | None = None,
        attempts: int = 0,
        error_type: str = "AmbiguousWorkflowError",
    ) -> None:
        self.workflow = workflow
        self.apps = sorted(apps)
        if message is None:
            message = (
                f"workflow {workflow!r} is defined by several apps: {', '.join(self.apps)}; "
                "pass app= to choose one"
            )
        super().__init__(step_id=step_id, error_type=error_type, message=message, attempts=attempts)


class NonRetriableError(DurablexError):
    """Raise inside a step to fail it at once, without spending its retries."""


class RetryAfterError(DurablexError):
    """Raise inside a step to ask for the next attempt after ``delay``.

    ``delay`` takes every duration form that ``step.sleep`` accepts.
    """

    def __init__(self, message: str, delay: object) -> None:
        from durablex.core.durations import parse_duration

        self.delay_ms = parse_duration(delay, what="RetryAfterError delay")
        self.delay = delay
        super().__init__(message)


class SerializationError(DurablexError, TypeError):
    """A value that must be stored is not JSON, or is larger than the size limit."""

    def __init__(self, message: str, *, step_id: str | None = None) -> None:
        self.step_id = step_id
        super().__init__(message)


class RunFailedError(DurablexError):
    """The awaited run ended in ``failed``; ``error`` is its recorded error dict."""

    def __init__(self, *, run_id: str, error: dict[str, Any] | None) -> None:
        self.run_id = run_id
        self.error = error or {}
        kind = self.error.get("type", "Error")
        message = self.error.get("message", "")
        super().__init__(f"run {run_id} failed with {kind}: {message}")


class RunCancelledError(DurablexError):
    """The awaited run ended in ``cancelled``."""

    def __init__(self, *, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} was cancelled")


class RunNotFoundError(DurablexError, LookupError):
    """No run has the given id."""

    def __init__(self, *, run_id: object) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}")


def _rebuild(cls: type[StepFailedError], state: dict[str, Any]) -> StepFailedError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._describe())
    return error


__all__ = [
    "AmbiguousWorkflowError",
    "ChildWorkflowFailedError",
    "DurablexError",
    "NonRetriableError",
    "RetryAfterError",
    "RunCancelledError",
    "RunFailedError",
    "RunNotFoundError",
    "SerializationError",
    "StepFailedError",
    "WorkflowNotFoundError",
]
