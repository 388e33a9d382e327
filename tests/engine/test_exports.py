"""The public names: durablex.__all__ is frozen, and every name of api.md is importable."""

from __future__ import annotations

import inspect

import durablex

EXPECTED_ALL = {
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
}

API_MD_NAMES = [
    "App",
    "Context",
    "Event",
    "Runner",
    "Client",
    "AsyncClient",
    "RunHandle",
    "SendResult",
    "Run",
    "Step",
    "DurablexError",
    "StepFailedError",
    "ChildWorkflowFailedError",
    "NonRetriableError",
    "RetryAfterError",
    "SerializationError",
    "WorkflowNotFoundError",
    "AmbiguousWorkflowError",
    "RunFailedError",
    "RunCancelledError",
]


def test_all_is_frozen() -> None:
    assert set(durablex.__all__) == EXPECTED_ALL
    assert len(durablex.__all__) == len(set(durablex.__all__))
    for name in durablex.__all__:
        assert hasattr(durablex, name), name


def test_every_api_md_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec(f"from durablex import {', '.join(API_MD_NAMES)}", namespace)
    for name in API_MD_NAMES:
        assert namespace[name] is getattr(durablex, name)
        assert name in durablex.__all__


def test_error_hierarchy() -> None:
    errors = [
        "StepFailedError",
        "ChildWorkflowFailedError",
        "NonRetriableError",
        "RetryAfterError",
        "SerializationError",
        "WorkflowNotFoundError",
        "AmbiguousWorkflowError",
        "RunFailedError",
        "RunCancelledError",
        "RunNotFoundError",
    ]
    for name in errors:
        assert issubclass(getattr(durablex, name), durablex.DurablexError), name
    for name in ("ChildWorkflowFailedError", "WorkflowNotFoundError", "AmbiguousWorkflowError"):
        assert issubclass(getattr(durablex, name), durablex.StepFailedError), name
    assert issubclass(durablex.DurablexError, Exception)
    assert issubclass(durablex.SerializationError, TypeError)


def test_step_failed_error_shape() -> None:
    exc = durablex.StepFailedError(
        step_id="charge", error_type="ValueError", message="bad", attempts=3
    )
    assert (exc.step_id, exc.error_type, exc.message, exc.attempts) == (
        "charge",
        "ValueError",
        "bad",
        3,
    )
    assert "charge" in str(exc) and "ValueError" in str(exc)
    child = durablex.ChildWorkflowFailedError(step_id="c", message="m", child_run_id="r1")
    assert child.child_run_id == "r1"
    assert child.error_type == "ChildWorkflowFailedError"
    import pickle

    again = pickle.loads(pickle.dumps(child))
    assert type(again) is durablex.ChildWorkflowFailedError
    assert again.child_run_id == "r1" and str(again) == str(child)


def test_signatures_match_the_contract() -> None:
    def params(fn: object) -> list[str]:
        return list(inspect.signature(fn).parameters)  # type: ignore[arg-type]

    assert params(durablex.App.workflow)[:6] == [
        "self",
        "name",
        "on",
        "retries",
        "backoff",
        "backoff_max",
    ]
    runner = inspect.signature(durablex.Runner)
    for name in ("app", "more_apps", "db", "name", "concurrency", "lease", "clock"):
        assert name in runner.parameters, name
    for cls in (durablex.Client, durablex.AsyncClient):
        assert params(cls.send)[:5] == ["self", "name", "data", "app", "id"]
        assert params(cls.start)[:4] == ["self", "workflow", "data", "app"]
        assert params(cls.list_runs)[:5] == ["self", "status", "workflow", "app", "limit"]
        for method in ("get_run", "cancel", "rerun", "resume"):
            assert params(getattr(cls, method))[:2] == ["self", "run_id"]
    assert inspect.iscoroutinefunction(durablex.AsyncClient.send)
    assert inspect.iscoroutinefunction(durablex.AsyncRunHandle.result)
    assert not inspect.iscoroutinefunction(durablex.RunHandle.result)
    steps = durablex.Context.__init__  # the step methods live on ctx.step
    assert steps is not None
    from durablex.runtime.context import Steps

    assert params(Steps.wait_for_event) == ["self", "id", "event", "timeout", "match"]
    assert params(Steps.run_workflow) == ["self", "id", "name", "data", "app", "runner"]
    assert params(Steps.emit) == ["self", "id", "name", "data", "app"]
    assert params(Steps.sleep) == ["self", "id", "duration"]
    assert params(Steps.sleep_until) == ["self", "id", "at"]
