"""Read models shared by the clients, the API and the console: frozen, slotted dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RunStatus = Literal["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled"]
StepStatus = Literal["running", "sleeping", "waiting", "completed", "failed", "cancelled"]
StepKind = Literal["run", "sleep", "sleep_until", "wait_for_event", "run_workflow", "emit"]

RUN_STATUSES: tuple[str, ...] = (
    "queued",
    "running",
    "sleeping",
    "waiting",
    "completed",
    "failed",
    "cancelled",
)
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
STEP_KINDS: tuple[str, ...] = (
    "run",
    "sleep",
    "sleep_until",
    "wait_for_event",
    "run_workflow",
    "emit",
)

INVOKED_EVENT = "durablex/workflow.invoked"


@dataclass(frozen=True, slots=True)
class Event:
    """An accepted event: what started a run, or what an emit or a client sent."""

    id: str
    name: str
    data: Any
    ts: datetime
    app: str | None = None
    source_run_id: str | None = None
    started_run_ids: tuple[str, ...] = ()
    resumed: int = 0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One execution of a step body: its timing and, when it failed, the error."""

    number: int
    started_at: datetime | None
    ended_at: datetime | None
    error: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    kind: str
    status: str
    attempts: int
    input: Any
    output: Any
    error: dict[str, Any] | None
    started_at: datetime | None
    ended_at: datetime | None
    after: list[str]
    wake_at: datetime | None = None
    child_run_id: str | None = None
    attempt_log: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    workflow: str
    app: str
    status: str
    input: Any
    output: Any
    error: dict[str, Any] | None
    parent_run_id: str | None
    warnings: list[str]
    created_at: datetime
    ended_at: datetime | None
    steps: list[Step] = field(default_factory=list)
    started_at: datetime | None = None
    event_id: str | None = None
    event_name: str | None = None
    runner: str | None = None
    runner_pin: str | None = None
    wake_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class SendResult:
    """What accepting an event did: the runs it started and how many parked runs it resumed."""

    event_id: str
    run_ids: list[str]
    resumed: int


@dataclass(frozen=True, slots=True)
class WorkflowInfo:
    app: str
    name: str
    triggers: list[str]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunnerInfo:
    name: str
    apps: list[str]
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    alive: bool


@dataclass(frozen=True, slots=True)
class AppInfo:
    name: str
    workflows: list[WorkflowInfo]
    runners: list[RunnerInfo]
