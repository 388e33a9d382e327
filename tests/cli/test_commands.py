"""The command line, in process (click's CliRunner), against a real SQLite file.

Runs are executed by a Runner started in a background thread, as `durablex dev` would.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import durablex
from durablex.cli.loader import TargetError, load_apps
from durablex.cli.main import main

APP_SOURCE = textwrap.dedent(
    """
    import asyncio
    import durablex

    app = durablex.App("cli-shop")

    @app.workflow("order", on="order.created")
    async def order(ctx):
        total = await ctx.step.run("total", lambda: sum(ctx.data["prices"]))
        a, b = await asyncio.gather(
            ctx.step.run("left", lambda: "L"), ctx.step.run("right", lambda: "R")
        )
        await ctx.step.wait_for_event("approve", event="order.approved", timeout="1h")
        return {"total": total, "parts": a + b}

    @app.workflow("fails")
    async def fails(ctx):
        await ctx.step.run("boom", lambda: 1 / 0, retries=0)
    """
)


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli_shop_app.py"
    path.write_text(APP_SOURCE)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


@pytest.fixture
def running(app_file: Path, db: str) -> Iterator[None]:
    """A runner for the app file in a background thread, stopped at the end."""
    apps = load_apps(str(app_file))
    ready = threading.Event()
    stop: dict[str, asyncio.Event] = {}
    loop_box: dict[str, asyncio.AbstractEventLoop] = {}

    async def serve() -> None:
        loop_box["loop"] = asyncio.get_running_loop()
        stop["event"] = asyncio.Event()
        async with durablex.Runner(*apps, db=db, name="cli-runner"):
            ready.set()
            await stop["event"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(30), "runner did not start"
    try:
        yield
    finally:
        loop_box["loop"].call_soon_threadsafe(stop["event"].set)
        thread.join(30)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def wait_status(db: str, run_id: str, status: str) -> None:
    with durablex.Client(db) as client:
        for _ in range(300):
            if client.get_run(run_id).status == status:
                return
            threading.Event().wait(0.05)
    raise AssertionError(f"run {run_id} never reached {status}")


def test_send_runs_show_and_approve(running: None, db: str) -> None:
    out = invoke("send", "order.created", "--data", '{"prices": [2, 3]}', "--db", db)
    run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("started"))
    wait_status(db, run_id, "waiting")

    listing = invoke("runs", "--db", db, "--status", "waiting")
    assert run_id in listing and "cli-shop/order" in listing

    shown = invoke("show", run_id, "--db", db)
    assert "status    waiting" in shown
    assert "approve" in shown and "wait_for_event" in shown
    # the graph: both parallel steps under `total`, the wait joining them
    assert "  left [run, completed]" in shown
    assert "  right [run, completed]" in shown
    assert "approve [wait_for_event, waiting]  (after left, right)" in shown

    out = invoke("send", "order.approved", "--db", db)
    assert "resumed 1" in out
    wait_status(db, run_id, "completed")
    with durablex.Client(db) as client:
        assert client.get_run(run_id).output == {"total": 5, "parts": "LR"}


def test_start_wait_prints_output(running: None, db: str) -> None:
    out = invoke("start", "fails", "--db", db)
    run_id = out.strip()
    wait_status(db, run_id, "failed")
    shown = invoke("show", run_id, "--db", db)
    assert "ZeroDivisionError" in shown

    rerun = invoke("rerun", run_id, "--db", db).strip()
    assert rerun != run_id
    wait_status(db, rerun, "failed")
    assert invoke("resume", run_id, "--db", db).strip() == f"resumed {run_id}"


def test_cancel_a_waiting_run(running: None, db: str) -> None:
    out = invoke("send", "order.created", "--data", '{"prices": [1]}', "--db", db)
    run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("started"))
    wait_status(db, run_id, "waiting")
    assert invoke("cancel", run_id, "--db", db).strip() == f"cancelled {run_id}"
    assert invoke("cancel", run_id, "--db", db).strip() == f"{run_id} had already ended"
    with durablex.Client(db) as client:
        run = client.get_run(run_id)
    assert run.status == "cancelled"
    assert {s.id: s.status for s in run.steps}["approve"] == "cancelled"


def test_bad_json_data_is_a_usage_error(db: str) -> None:
    result = CliRunner().invoke(main, ["send", "x", "--data", "{nope", "--db", db])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output


def test_unknown_workflow_is_a_clear_error(db: str) -> None:
    result = CliRunner().invoke(main, ["start", "no.such.workflow", "--db", db])
    assert result.exit_code == 1
    assert "no registered workflow named 'no.such.workflow'" in result.output


def test_unknown_run_is_a_clear_error(db: str) -> None:
    result = CliRunner().invoke(main, ["show", "01NOSUCHRUN", "--db", db])
    assert result.exit_code == 1
    assert "no run with id '01NOSUCHRUN'" in result.output


def test_bad_database_url_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["runs", "--db", "mysql://x"])
    assert result.exit_code == 1
    assert "unsupported database URL 'mysql://x'" in result.output


def test_runs_filters_by_status_and_workflow(running: None, db: str) -> None:
    failed = invoke("start", "fails", "--db", db).strip()
    wait_status(db, failed, "failed")
    listing = invoke("runs", "--db", db, "--status", "failed", "--workflow", "fails")
    header, *rows = listing.splitlines()
    assert header.split()[:3] == ["RUN", "STATUS", "WORKFLOW"]
    assert [row.split()[:3] for row in rows] == [[failed, "failed", "cli-shop/fails"]]
    assert invoke("runs", "--db", db, "--status", "completed").strip() == "no runs"


def test_loader_finds_apps_and_names_what_is_missing(app_file: Path) -> None:
    (app,) = load_apps(str(app_file))
    assert app.name == "cli-shop"
    assert sorted(app.workflows) == ["fails", "order"]
    assert load_apps(f"{app_file}:app")[0] is app
    with pytest.raises(TargetError, match=r"has no durablex\.App named 'nope'"):
        load_apps(f"{app_file}:nope")
    with pytest.raises(TargetError, match="no such file"):
        load_apps("missing_file.py")


def test_start_wait_shows_progress_and_the_failure(running: None, db: str) -> None:
    result = CliRunner().invoke(main, ["start", "fails", "--wait", "--timeout", "30", "--db", db])
    assert result.exit_code == 1, result.output
    assert "waiting for run" in result.output
    assert "failed with" in result.output


def test_start_wait_times_out_clearly(running: None, db: str) -> None:
    args = ["start", "order", "--data", '{"prices": [1]}', "--wait", "--timeout", "0.5"]
    result = CliRunner().invoke(main, [*args, "--db", db])
    assert result.exit_code == 1, result.output
    assert "after 0.5 seconds" in result.output
