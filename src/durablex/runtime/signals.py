"""Control flow that user code must not swallow.

These derive from ``BaseException`` (like ``asyncio.CancelledError``), so a workflow's
``except Exception:`` around a step never catches them: a pass that lost its lease, or that
is being closed, must unwind whatever the workflow says.
"""

from __future__ import annotations


class PassAborted(BaseException):
    """This pass no longer owns the run (lease lost, run cancelled); drop it silently."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"run {run_id}: pass aborted ({reason})")


class PassClosed(BaseException):
    """A step was called after the pass decided to park; the call belongs to a later pass."""
