"""Errors as stored (``{"type", "message", "traceback", ...}``) and back as exceptions."""

from __future__ import annotations

import traceback
from typing import Any

from durablex.errors import (
    AmbiguousWorkflowError,
    ChildWorkflowFailedError,
    StepFailedError,
    WorkflowNotFoundError,
)

MAX_TRACEBACK_CHARS = 64 * 1024
MAX_MESSAGE_CHARS = 16 * 1024


def error_dict(exc: BaseException, *, with_traceback: bool = True) -> dict[str, Any]:
    text = "".join(traceback.format_exception(exc)) if with_traceback else None
    if text is not None and len(text) > MAX_TRACEBACK_CHARS:
        text = "…" + text[-MAX_TRACEBACK_CHARS:]
    message = (
        exc.message if isinstance(exc, WorkflowNotFoundError | AmbiguousWorkflowError) else str(exc)
    )
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "…"
    error: dict[str, Any] = {"type": type(exc).__name__, "message": message, "traceback": text}
    if isinstance(exc, WorkflowNotFoundError):
        error["workflow"] = exc.workflow
    if isinstance(exc, AmbiguousWorkflowError):
        error["workflow"] = exc.workflow
        error["apps"] = exc.apps
    return error


def step_failure(step_id: str, error: dict[str, Any] | None, attempts: int) -> StepFailedError:
    """The exception a failed step raises at its ``await``, the same on every pass."""
    error = error or {}
    kind = str(error.get("type", "Error"))
    message = str(error.get("message", ""))
    if kind == "ChildWorkflowFailedError":
        return ChildWorkflowFailedError(
            step_id=step_id,
            message=message,
            child_run_id=str(error.get("child_run_id", "")),
            attempts=attempts,
        )
    if kind == "WorkflowNotFoundError":
        return WorkflowNotFoundError(
            workflow=str(error.get("workflow", "")),
            step_id=step_id,
            message=message,
            attempts=attempts,
        )
    if kind == "AmbiguousWorkflowError":
        return AmbiguousWorkflowError(
            workflow=str(error.get("workflow", "")),
            apps=list(error.get("apps", [])),
            step_id=step_id,
            message=message,
            attempts=attempts,
        )
    return StepFailedError(step_id=step_id, error_type=kind, message=message, attempts=attempts)
