"""The API's JSON shapes of the read models (records.py); the console renders the same ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from durablex.records import (
    AppInfo,
    Attempt,
    Event,
    Run,
    RunnerInfo,
    SendResult,
    Step,
    WorkflowInfo,
)


def duration_ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 3)


def run_summary(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow": run.workflow,
        "app": run.app,
        "status": run.status,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "parent_run_id": run.parent_run_id,
        "warnings": list(run.warnings),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_ms": duration_ms(run.created_at, run.ended_at),
        "event_id": run.event_id,
        "event_name": run.event_name,
        "runner": run.runner,
        "runner_pin": run.runner_pin,
        "wake_at": run.wake_at,
    }


def run_detail(run: Run) -> dict[str, Any]:
    return {**run_summary(run), "steps": [step_view(step) for step in run.steps]}


def step_view(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "kind": step.kind,
        "status": step.status,
        "attempts": step.attempts,
        "input": step.input,
        "output": step.output,
        "error": step.error,
        "started_at": step.started_at,
        "ended_at": step.ended_at,
        "duration_ms": duration_ms(step.started_at, step.ended_at),
        "after": list(step.after),
        "wake_at": step.wake_at,
        "child_run_id": step.child_run_id,
        "attempt_log": [attempt_view(a) for a in step.attempt_log],
    }


def attempt_view(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "started_at": attempt.started_at,
        "ended_at": attempt.ended_at,
        "duration_ms": duration_ms(attempt.started_at, attempt.ended_at),
        "error": attempt.error,
    }


def event_view(event: Event, resumed_run_ids: list[str] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": event.id,
        "name": event.name,
        "data": event.data,
        "ts": event.ts,
        "app": event.app,
        "source_run_id": event.source_run_id,
        "started_run_ids": list(event.started_run_ids),
        "resumed": event.resumed,
    }
    if resumed_run_ids is not None:
        view["resumed_run_ids"] = resumed_run_ids
    return view


def send_view(result: SendResult) -> dict[str, Any]:
    return {"event_id": result.event_id, "run_ids": list(result.run_ids), "resumed": result.resumed}


def app_view(app: AppInfo) -> dict[str, Any]:
    return {
        "name": app.name,
        "workflows": [workflow_view(w) for w in app.workflows],
        "runners": [runner_view(r) for r in app.runners],
    }


def workflow_view(workflow: WorkflowInfo) -> dict[str, Any]:
    return {
        "app": workflow.app,
        "name": workflow.name,
        "triggers": list(workflow.triggers),
        "counts": dict(workflow.counts),
    }


def runner_view(runner: RunnerInfo) -> dict[str, Any]:
    return {
        "name": runner.name,
        "apps": list(runner.apps),
        "host": runner.host,
        "pid": runner.pid,
        "started_at": runner.started_at,
        "heartbeat_at": runner.heartbeat_at,
        "stopped_at": runner.stopped_at,
        "alive": runner.alive,
    }
