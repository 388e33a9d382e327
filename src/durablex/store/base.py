"""The storage contract: what the engine asks of a database, in engine terms, not SQL.

Every durable fact lives in the store. Runners, clients and the server are stateless. A store
implementation batches concurrent writes into one transaction (group commit); each write
method returns only once its transaction is durable in the store's durability mode.

Writes made on behalf of a runner for a run carry the run's ``fence`` (incremented by every
claim); a store refuses them with ``LeaseLostError`` once the run was claimed by someone else,
cancelled, or otherwise taken away, so a paused runner never overwrites newer work. Steps are
written only under a fence, and a retried run's fence is incremented too, so a run claimed
with fence 1 has no steps yet (a runner does not load its journal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from durablex.records import AppInfo, Event, Run, SendResult
from durablex.store.notify import EndWatch, Notices

if TYPE_CHECKING:
    from durablex.store.handoff import LocalRunner


class StoreError(Exception):
    """The database cannot be used: foreign or corrupt file, newer schema, bad URL."""


class LeaseLostError(Exception):
    """A fenced write was refused: the run is no longer held by this pass."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"run {run_id}: lease lost ({reason})")


@dataclass(frozen=True, slots=True)
class WorkflowRegistration:
    app: str
    name: str
    triggers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A run this runner now holds, with what a pass needs to start."""

    id: str
    app: str
    workflow: str
    fence: int
    input: bytes | None
    event_id: str
    event_name: str
    event_ts_us: int
    parent_run_id: str | None
    warnings: tuple[str, ...]
    created_at_us: int


@dataclass(frozen=True, slots=True)
class HandOff:
    """The runner a start transaction claims its run for (``durablex.store.handoff``), if
    ``serves(app, workflow)`` of the resolved workflow."""

    runner: str
    lease_us: int
    serves: Callable[[str, str], bool]


@dataclass(slots=True)
class StepRow:
    """A step as stored, used by replay. Payloads stay encoded until a pass needs them."""

    step_id: str
    seq: int
    kind: str
    status: str
    attempts: int = 0
    input: bytes | None = None
    output: bytes | None = None
    error: dict[str, Any] | None = None
    after: list[str] = field(default_factory=list)
    started_at_us: int | None = None
    ended_at_us: int | None = None
    wake_at_us: int | None = None
    child_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptWrite:
    number: int
    started_at_us: int
    ended_at_us: int | None
    error: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class WaiterWrite:
    event_name: str
    match: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class NewChildRun:
    run_id: str
    app: str
    workflow: str
    input: bytes | None
    runner_pin: str | None


@dataclass(frozen=True, slots=True)
class NewEvent:
    event_id: str
    name: str
    data: bytes | None
    app: str | None


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: list[Run]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[Event]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RunFilter:
    status: str | None = None
    workflow: str | None = None
    app: str | None = None
    search: str | None = None
    created_after_us: int | None = None
    created_before_us: int | None = None
    parent_run_id: str | None = None


class Store(Protocol):
    """What every backend implements. Times are epoch microseconds (UTC)."""

    url: str
    # May a runner hold runs (durablex.runtime.holds) while other runners serve its apps? Only
    # where a held run's resume commits within the grace however busy the store is.
    holds_beside_others: bool

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # -- change notification -------------------------------------------------------------
    async def wait_for_change(self, timeout: float) -> Notices | None:
        """Return when a writer may have changed something (with what this process knows of
        it), or None after ``timeout``."""

    def listen_for(self, *, work: bool, terminal: bool) -> None:
        """Which in-process notices wake ``wait_for_change`` (default: both)."""

    def watch_end(self, run_id: str) -> EndWatch:
        """Keep the end of ``run_id`` if a store of this process commits it while watched, so
        that a waiter on this process has it without reading the run back."""

    def change_mark(self) -> int:
        """A number that changes whenever this store learns of a change ``wait_for_change``
        would return for: while it stays the same, a run seen unfinished is still unfinished,
        as far as any notice or poll has told."""

    def commit_briefly_while(self, predicate: Callable[[], bool]) -> None:
        """Keep each transaction short while ``predicate()`` is true, where a commit holds up
        this process's event loop (a runner: while a held run wakes soon)."""

    def take_new_runs(self, runner: LocalRunner | None) -> None:
        """Runs started on this store's event loop, by any store of this process on the same
        database, go to ``runner`` in their start transaction when it has room for them
        (``durablex.store.handoff``); None withdraws the offer."""

    # -- registry ------------------------------------------------------------------------
    async def register_runner(
        self,
        runner: str,
        host: str,
        pid: int,
        apps: Sequence[str],
        workflows: Sequence[WorkflowRegistration],
    ) -> None: ...
    async def runner_heartbeat(self, runner: str) -> None: ...
    async def runner_stopped(self, runner: str) -> None: ...
    async def live_runners(self, apps: Sequence[str]) -> int:
        """How many runners that have not stopped, and beat within the dead-after window, serve
        at least one of ``apps`` (a runner that asks counts itself once registered)."""

    # -- claiming and leases -------------------------------------------------------------
    async def claim(
        self, runner: str, apps: Sequence[str], limit: int, lease_us: int, ahead_us: int = 0
    ) -> list[ClaimedRun]:
        """Claim up to ``limit`` runs due by now + ``ahead_us`` (whose lease, if any, has
        expired by now), oldest due first."""

    async def next_due_us(self, apps: Sequence[str], runner: str | None = None) -> int | None:
        """The earliest ``due_at`` of the apps' runs that ``runner`` may claim (runs pinned to
        another runner excluded; with no runner, only unpinned runs)."""

    async def renew_leases(self, runner: str, run_ids: Sequence[str], lease_us: int) -> None: ...
    async def held_runs(self, runner: str, run_ids: Sequence[str]) -> set[str]: ...
    async def release_runs(self, runner: str) -> None: ...
    async def release_run(self, run_id: str, fence: int) -> None: ...
    async def load_steps(self, run_id: str) -> list[StepRow]: ...
    async def load_journals(self, run_ids: Sequence[str]) -> dict[str, list[StepRow]]:
        """The step rows of several runs in one read (a claimed batch), each in seq order."""

    # -- fenced writes by a pass ---------------------------------------------------------
    async def record_step(
        self,
        run_id: str,
        fence: int,
        step: StepRow,
        *,
        attempt: AttemptWrite | None = None,
        waiter: WaiterWrite | None = None,
        durable: bool = True,
    ) -> None: ...
    async def resolve_wait_timeout(
        self, run_id: str, fence: int, step_id: str, event_name: str
    ) -> tuple[str, bytes | None]:
        """Complete a timed-out wait on ``event_name`` with ``None``; returns the step's final
        status and output (an event that won the race leaves its data). The timeout and a send
        of that event are decided in commit order: one begun first is never overtaken."""

    def complete_sleep_nowait(self, run_id: str, fence: int, step_id: str) -> asyncio.Future[None]:
        """Queue without waiting: committed with the next durable write or shortly after."""

    def record_step_nowait(
        self,
        run_id: str,
        fence: int,
        step: StepRow,
        *,
        attempt: AttemptWrite | None = None,
        waiter: WaiterWrite | None = None,
    ) -> asyncio.Future[None]:
        """Queue a step record without waiting for its commit (see complete_sleep_nowait)."""

    def flush(self) -> None:
        """Commit the queued writes as soon as possible, without waiting here: the futures of
        writes queued without waiting (``*_nowait``) resolve once that commit is durable."""

    async def start_child(
        self, run_id: str, fence: int, step: StepRow, child: NewChildRun
    ) -> None: ...
    async def emit_event(
        self, run_id: str, fence: int, step: StepRow, event: NewEvent
    ) -> SendResult: ...
    def add_warning_nowait(self, run_id: str, fence: int, warning: str) -> asyncio.Future[None]: ...
    async def hold_run(self, run_id: str, fence: int, until_us: int) -> bool:
        """Show a run the pass keeps in memory through a short sleep as ``sleeping``, keeping
        its lease until ``until_us`` (the wake-up plus a grace): if this runner dies, another
        claims the run then. False, changing nothing, if a wake-up arrived during the pass."""

    def resume_held_nowait(self, run_id: str, fence: int, lease_us: int) -> asyncio.Future[None]:
        """Queue: the held run runs again (``running``, a fresh lease), unless it was taken
        away (``LeaseLostError``); committed before the writes queued after it."""

    async def park_run(self, run_id: str, fence: int, status: str, due_at_us: int | None) -> bool:
        """Park the run; False when a wake-up arrived during the pass (run it again now)."""

    async def complete_run(
        self,
        run_id: str,
        fence: int,
        output: bytes | None,
        required: Sequence[str] = (),
        *,
        open_steps: bool = True,
    ) -> None:
        """End the run as completed, in the same transaction as a check that the ``required``
        completed steps are stored (records queued without waiting, possibly committed by an
        earlier batch that failed); StoreError if one is not. ``open_steps=False``: the pass
        knows that no step of the run is unfinished (running, sleeping or waiting), so no step,
        waiter or child run is left to cancel and the end does not look for them."""

    async def fail_run(
        self, run_id: str, fence: int, error: dict[str, Any], cancelled_steps: Sequence[StepRow]
    ) -> None: ...

    # -- client operations ---------------------------------------------------------------
    async def resolve_workflow(
        self, name: str, app: str | None, calling_app: str | None
    ) -> tuple[str, str]: ...
    async def start_run(
        self,
        app: str | None,
        workflow: str,
        input: bytes | None,
        *,
        runner_pin: str | None = None,
        rerun_of: str | None = None,
    ) -> str:
        """Start a run; ``app=None`` resolves the name as ``resolve_workflow`` does, in the same
        transaction (WorkflowNotFoundError / AmbiguousWorkflowError)."""

    async def send_event(self, event: NewEvent) -> SendResult: ...
    async def cancel_run(self, run_id: str) -> bool: ...
    async def resume_run(self, run_id: str) -> None: ...

    # -- reads ---------------------------------------------------------------------------
    async def get_run(self, run_id: str, *, with_steps: bool = True) -> Run | None: ...
    async def run_statuses(self, run_ids: Sequence[str]) -> dict[str, str]: ...
    async def list_runs(self, filt: RunFilter, limit: int, cursor: str | None) -> RunPage: ...
    async def list_events(
        self, name: str | None, limit: int, cursor: str | None, search: str | None = None
    ) -> EventPage: ...
    async def get_event(self, event_id: str) -> Event | None: ...
    async def list_apps(self) -> list[AppInfo]: ...
    async def resumed_by_event(self, event_id: str) -> list[str]: ...
    async def count_runs(self, status: str | None = None) -> int: ...
