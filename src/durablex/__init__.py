"""Durablex: durable workflows for Python.

Write ``async def`` workflows made of steps; each step runs once and its result is saved;
sleeps, waits for events, child workflows and emitted events survive restarts.
"""

from durablex.app import App
from durablex.client import AsyncClient, AsyncRunHandle, Client, RunHandle
from durablex.errors import (
    AmbiguousWorkflowError,
    ChildWorkflowFailedError,
    DurablexError,
    NonRetriableError,
    RetryAfterError,
    RunCancelledError,
    RunFailedError,
    RunNotFoundError,
    SerializationError,
    StepFailedError,
    WorkflowNotFoundError,
)
from durablex.records import Attempt, Event, Run, SendResult, Step
from durablex.runner import Runner
from durablex.runtime.context import Context

__version__ = "0.1.0"

__all__ = [
    "AmbiguousWorkflowError",
    "App",
    "AsyncClient",
    "AsyncRunHandle",
    "Attempt",
    "ChildWorkflowFailedError",
    "Client",
    "Context",
    "DurablexError",
    "Event",
    "NonRetriableError",
    "RetryAfterError",
    "Run",
    "RunCancelledError",
    "RunFailedError",
    "RunHandle",
    "RunNotFoundError",
    "Runner",
    "SendResult",
    "SerializationError",
    "Step",
    "StepFailedError",
    "WorkflowNotFoundError",
    "__version__",
]
