"""No secret in logs: `durablex -v dev --token ...` and `durablex -v server` (INFO logging),
exercised with right and wrong tokens, a console login and failing runs, never write the
token, nor the session cookie derived from it, to their output."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from durablex.server.security import session_value

DURABLEX = str(Path(sys.executable).parent / "durablex")
TOKEN = "Tk-9f1c2e7d5b3a4c6e8d0f1a2b3c4d5e6f"
APP = textwrap.dedent(
    """
    import durablex

    app = durablex.App("secret-app")

    @app.workflow("greet", retries=0)
    async def greet(ctx):
        return await ctx.step.run("hello", lambda: f"hello {ctx.data['who']}")

    @app.workflow("boom", retries=0)
    async def boom(ctx):
        await ctx.step.run("boom", lambda: 1 / 0)
    """
)


def start(args: list[str], log: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    out = log.open("wb")
    proc = subprocess.Popen(
        [DURABLEX, "-v", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1", **env},
    )
    out.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"console: (http://\S+)", log.read_text(errors="replace"))
        if match:
            return proc, match.group(1).rstrip("/")
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    raise AssertionError("no console URL:\n" + log.read_text(errors="replace"))


def exercise(url: str, *, with_runner: bool) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{url}/api/v1/runs").status_code == 401
    wrong = {"Authorization": f"Bearer {TOKEN}x"}
    assert httpx.get(f"{url}/api/v1/runs", headers=wrong).status_code == 401
    assert httpx.get(f"{url}/api/v1/runs?token={TOKEN}").status_code == 401
    with httpx.Client(base_url=url) as browser:
        form = browser.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        bad = browser.post(
            "/login",
            data={"token": TOKEN + "!", "csrf_token": csrf.group(1)},
            headers={"origin": url},
        )
        assert bad.status_code == 401
        good = browser.post(
            "/login",
            data={"token": TOKEN, "csrf_token": csrf.group(1)},
            headers={"origin": url},
        )
        assert good.status_code == 303
        assert browser.get("/").status_code == 200
    if with_runner:
        runs = [
            httpx.post(f"{url}/api/v1/runs", json=body, headers=bearer).json()["run_id"]
            for body in (
                {"workflow": "greet", "data": {"who": TOKEN}},
                {"workflow": "boom"},
            )
        ]
        for run_id in runs:
            for _ in range(300):
                run = httpx.get(f"{url}/api/v1/runs/{run_id}", headers=bearer).json()
                if run["status"] in ("completed", "failed"):
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"run {run_id} did not end")


def check_log(log: Path, *, expect_info: bool) -> None:
    text = log.read_text(errors="replace")
    assert "console: http" in text
    if expect_info:
        assert " INFO " in text, text  # logging really was at INFO
    assert TOKEN not in text, text
    assert session_value(TOKEN) not in text, text


def test_dev_with_token_on_the_command_line_logs_no_secret(tmp_path: Path) -> None:
    app_file = tmp_path / "secret_app.py"
    # the run's data holds the token too: step data is not logged either
    app_file.write_text(APP)
    log = tmp_path / "dev.log"
    db = f"sqlite:///{tmp_path}/dev.db"
    proc, url = start(["dev", str(app_file), "--db", db, "--port", "0", "--token", TOKEN], log, {})
    try:
        exercise(url, with_runner=True)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    check_log(log, expect_info=True)


def test_server_with_token_from_the_environment_logs_no_secret(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    db = f"sqlite:///{tmp_path}/server.db"
    proc, url = start(["server", "--db", db, "--port", "0"], log, {"DURABLEX_TOKEN": TOKEN})
    try:
        exercise(url, with_runner=False)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    check_log(log, expect_info=False)
