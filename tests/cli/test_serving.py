"""`durablex dev` and `durablex server` as real processes (the point is starting and stopping
them), and the refusal to listen on a public address without a token (in process)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import durablex
import durablex.records
from durablex.cli.main import main

APP = textwrap.dedent(
    """
    import durablex

    app = durablex.App("serving-app")

    @app.workflow("greet", on="greet.requested")
    async def greet(ctx):
        return await ctx.step.run("hello", lambda: f"hello {ctx.data['who']}")
    """
)
DURABLEX = str(Path(sys.executable).parent / "durablex")


Started = tuple[subprocess.Popen[str], str]


@contextmanager
def process(*args: str, env: dict[str, str] | None = None) -> Iterator[Started]:
    """Start `durablex ARGS`, wait for the console URL it prints; kill it if still alive."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    with subprocess.Popen(
        [DURABLEX, *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=full_env,
    ) as proc:
        assert proc.stderr is not None
        lines: list[str] = []
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"console: (http://\S+)", line)
            if match:
                url = match.group(1).rstrip("/")
        try:
            if url is None:
                raise AssertionError("no console URL printed:\n" + "".join(lines))
            yield proc, url
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def wait_completed(
    url: str, run_id: str, headers: dict[str, str] | None = None
) -> dict[str, object]:
    for _ in range(300):
        run = httpx.get(f"{url}/api/v1/runs/{run_id}", headers=headers).json()
        if run["status"] == "completed":
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not complete")


def test_dev_runs_the_runner_and_the_server_in_one_process(tmp_path: Path) -> None:
    app_file = tmp_path / "serving_app.py"
    app_file.write_text(APP)
    db = f"sqlite:///{tmp_path}/dev.db"
    with process("dev", str(app_file), "--db", db, "--port", "0") as (proc, url):
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        sent = httpx.post(
            f"{url}/api/v1/events", json={"name": "greet.requested", "data": {"who": "ada"}}
        )
        (run_id,) = sent.json()["run_ids"]
        assert wait_completed(url, run_id)["output"] == "hello ada"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0

    async def runners() -> list[durablex.records.RunnerInfo]:
        async with durablex.AsyncClient(db) as client:
            return [r for app in await client.list_apps() for r in app.runners]

    (runner,) = asyncio.run(runners())
    assert runner.stopped_at is not None and not runner.alive


def test_server_with_a_token_on_sigterm(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/server.db"
    env = {"DURABLEX_TOKEN": "tok-123"}
    with process("server", "--db", db, "--port", "0", env=env) as (proc, url):
        assert httpx.get(f"{url}/api/v1/runs").status_code == 401
        ok = httpx.get(f"{url}/api/v1/runs", headers={"Authorization": "Bearer tok-123"})
        assert ok.status_code == 200 and ok.json() == {"runs": [], "next_cursor": None}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert proc.stderr is not None and "tok-123" not in proc.stderr.read()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.com"])
def test_refuses_a_public_address_without_a_token(host: str, tmp_path: Path) -> None:
    app_file = tmp_path / "serving_app.py"
    app_file.write_text(APP)
    for command in (["server"], ["dev", str(app_file)]):
        result = CliRunner().invoke(main, [*command, "--host", host], env={"DURABLEX_TOKEN": ""})
        assert result.exit_code == 1, result.output
        assert "DURABLEX_TOKEN" in result.output and "--token" in result.output


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/busy.db"
    with process("server", "--db", db, "--port", "0") as (proc, url):
        port = url.rsplit(":", 1)[1]
        result = subprocess.run(
            [DURABLEX, "server", "--db", db, "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1
        assert f"did not start on 127.0.0.1:{port}" in result.stderr
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0


def _runners(db: str) -> dict[str, durablex.records.RunnerInfo]:
    async def read() -> dict[str, durablex.records.RunnerInfo]:
        async with durablex.AsyncClient(db) as client:
            return {r.name: r for app in await client.list_apps() for r in app.runners}

    return asyncio.run(read())


def _until(predicate: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_runner_processes_share_the_queue_restart_after_a_kill_and_stop_together(
    tmp_path: Path,
) -> None:
    app_file = tmp_path / "serving_app.py"
    app_file.write_text(APP)
    db = f"sqlite:///{tmp_path}/procs.db"
    names = {"w-0", "w-1"}
    with subprocess.Popen(
        [DURABLEX, "runner", f"{app_file}:app", "--db", db, "--processes", "2", "--name", "w"],
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    ) as proc:
        try:
            _until(
                lambda: {n for n, r in _runners(db).items() if r.alive} == names,
                "two live runner processes",
            )
            with durablex.Client(db) as client:
                sent = [client.send("greet.requested", {"who": str(i)}) for i in range(20)]
                outputs = [client.handle(s.run_ids[0]).result(timeout=30) for s in sent]
            assert outputs == [f"hello {i}" for i in range(20)]

            killed = _runners(db)["w-0"].pid
            os.kill(killed, signal.SIGKILL)
            _until(
                lambda: (r := _runners(db)["w-0"]).pid != killed and r.alive,
                "the killed runner process to be started again",
            )
            with durablex.Client(db) as client:
                sent_again = client.send("greet.requested", {"who": "again"})
                assert client.handle(sent_again.run_ids[0]).result(timeout=30) == "hello again"

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    after = _runners(db)
    assert all(after[n].stopped_at is not None and not after[n].alive for n in names)


def test_runner_processes_refuse_bad_options_before_starting_any(tmp_path: Path) -> None:
    app_file = tmp_path / "serving_app.py"
    app_file.write_text(APP)
    result = CliRunner().invoke(
        main, ["runner", f"{app_file}:app", "--processes", "2", "--lease", "1ms"]
    )
    assert result.exit_code == 1 and "lease must be at least 500ms" in result.output
    result = CliRunner().invoke(main, ["runner", f"{app_file}:app", "--processes", "0"])
    assert result.exit_code == 2 and "--processes" in result.output
    result = CliRunner().invoke(main, ["runner", f"{app_file}:app", "--hold", "soon"])
    assert result.exit_code == 1 and "invalid duration 'soon' for hold" in result.output
