"""Runner processes that tests can SIGKILL, and the checks that follow a crash.

A ``Harness`` owns one database file, one side-effect file (see ``worker_app``) and every
runner process it spawned; ``close()`` SIGKILLs whatever is still alive.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import durablex

WORKER = Path(__file__).with_name("worker_app.py")
POLL = 0.02
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class Effect:
    run_id: str
    step_id: str
    phase: str  # "begin", "end", or "fail" (the execution raised)
    ts: float
    token: str | None


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    started_at: float

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "durablex.db"
        self.url = f"sqlite:///{self.db}"
        self.effects_path = root / "effects.log"
        self.workers: list[Worker] = []
        # Wall-clock moments at which a runner process was known to be gone (after its exit
        # was reaped): an execution of a step body may only be repeated across one of them.
        self.stops: list[float] = []
        self._client: durablex.Client | None = None

    @property
    def client(self) -> durablex.Client:
        if self._client is None:
            self._client = durablex.Client(self.url)
        return self._client

    # -- processes ---------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        *,
        block: Iterable[str] = (),
        block_seconds: float = 30.0,
        lease: str = "1s",
        grace: float = 10.0,
        jitter_ms: float = 0,
        concurrency: int = 1000,
        extra: Iterable[str] = (),
    ) -> Worker:
        """Start a runner process and return once it has registered its workflows (``extra``:
        more arguments of ``worker_app``)."""
        env = {
            **os.environ,
            "DX_EFFECTS": str(self.effects_path),
            "DX_BLOCK": ",".join(block),
            "DX_BLOCK_SECONDS": str(block_seconds),
            "DX_JITTER_MS": str(jitter_ms),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DURABLEX_DB", None)
        log_path = self.root / f"{name}.log"
        log_file = log_path.open("ab")
        cmd = [
            sys.executable,
            str(WORKER),
            str(self.db),
            name,
            "--lease",
            lease,
            "--grace",
            str(grace),
            "--concurrency",
            str(concurrency),
            *extra,
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        worker = Worker(name, proc, log_path, log_file, time.time())
        self.workers.append(worker)
        self.wait_until(
            lambda: self._registered(worker), START_TIMEOUT, f"runner {name} to register"
        )
        return worker

    def _registered(self, worker: Worker) -> bool:
        if not worker.alive:
            raise AssertionError(f"runner {worker.name} exited early:\n{self.logs()}")
        if not self.db.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
                row = conn.execute(
                    "SELECT 1 FROM runners WHERE name = ? AND stopped_at IS NULL", (worker.name,)
                ).fetchone()
        except sqlite3.OperationalError:  # the schema is not there yet
            return False
        return row is not None

    def kill(self, worker: Worker) -> None:
        """SIGKILL a runner and reap it."""
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(timeout=10)
        self.stops.append(time.time())
        worker.log_file.close()

    def terminate(self, worker: Worker, *, timeout: float) -> tuple[int, float]:
        """SIGTERM a runner; return its exit code and how long it took to exit."""
        started = time.monotonic()
        os.kill(worker.proc.pid, signal.SIGTERM)
        try:
            code = worker.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"runner {worker.name} did not exit within {timeout}s of SIGTERM:\n{self.logs()}"
            ) from None
        elapsed = time.monotonic() - started
        self.stops.append(time.time())
        worker.log_file.close()
        return code, elapsed

    def close(self) -> None:
        try:
            for worker in self.workers:
                if worker.alive:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.proc.pid, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        worker.proc.wait(timeout=10)
                if not worker.log_file.closed:
                    worker.log_file.close()
        finally:
            if self._client is not None:
                self._client.close()

    def logs(self) -> str:
        parts = []
        for worker in self.workers:
            text = worker.log_path.read_text(errors="replace") if worker.log_path.exists() else ""
            header = f"--- runner {worker.name} (exit {worker.proc.poll()}) ---"
            parts.append(f"{header}\n{text[-4000:]}")
        return "\n".join(parts)

    # -- waiting -----------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}\n{self.logs()}"
                )
            time.sleep(POLL)

    def result(self, run_id: str, timeout: float = 30.0) -> Any:
        try:
            return self.client.handle(run_id).result(timeout=timeout)
        except TimeoutError:
            run = self.client.get_run(run_id)
            raise AssertionError(
                f"run {run_id} ({run.workflow}) still {run.status} after {timeout}s; steps "
                f"{[(s.id, s.status) for s in run.steps]}\n{self.logs()}"
            ) from None

    def status(self, run_id: str) -> str:
        return self.client.get_run(run_id).status

    def steps(self, run_id: str) -> dict[str, durablex.Step]:
        return {s.id: s for s in self.client.get_run(run_id).steps}

    # -- side effects ------------------------------------------------------------------

    def effects(self) -> list[Effect]:
        if not self.effects_path.exists():
            return []
        found = []
        text = self.effects_path.read_text()
        # A line being appended right now may be seen half-written: read up to the last "\n".
        for line in text[: text.rfind("\n") + 1].splitlines():
            parts = line.split()
            found.append(
                Effect(
                    parts[0],
                    parts[1],
                    parts[2],
                    float(parts[3]),
                    parts[4] if len(parts) > 4 else None,
                )
            )
        return found

    def began(self, run_id: str, step_id: str) -> int:
        return sum(
            1
            for e in self.effects()
            if e.run_id == run_id and e.step_id == step_id and e.phase == "begin"
        )

    def executions(self, run_id: str, step_id: str) -> tuple[int, int]:
        """How many times the body began and how many times it ran to its end."""
        mine = [e for e in self.effects() if e.run_id == run_id and e.step_id == step_id]
        return (
            sum(1 for e in mine if e.phase == "begin"),
            sum(1 for e in mine if e.phase == "end"),
        )

    def effects_of(self, run_id: str, step_id: str, phase: str) -> list[Effect]:
        return [
            e
            for e in self.effects()
            if e.run_id == run_id and e.step_id == step_id and e.phase == phase
        ]

    def check_exactly_once_after_commit(self, *, max_runs: int = 1000) -> int:
        """Every step body, in every run of the database, was executed at least once, and
        never again after its value was committed: the stored value comes from the last
        execution, and two executions of one step are separated by a runner's death unless
        the first one failed (a retry). Returns how many executions were repeated because a
        runner died mid-step."""
        by_step: dict[tuple[str, str], list[Effect]] = defaultdict(list)
        for effect in self.effects():
            by_step[(effect.run_id, effect.step_id)].append(effect)
        repeated = 0
        checked: set[tuple[str, str]] = set()
        runs = self.client.list_runs(limit=max_runs)
        assert len(runs) < max_runs
        for run in runs:
            for step in self.client.get_run(run.id).steps:
                if step.kind != "run":
                    continue
                key = (run.id, step.id)
                checked.add(key)
                lines = by_step.get(key, [])
                begins = [e for e in lines if e.phase == "begin"]
                ends = [e for e in lines if e.phase == "end"]
                if step.status != "completed":
                    continue
                assert ends, f"{key}: completed, but its body never ran to its end"
                assert step.output["token"] == ends[-1].token, (
                    f"{key}: the body ran again after its value was committed: {lines}"
                )
                for first, second in itertools.pairwise(begins):
                    failed = any(e.phase == "fail" and first.ts <= e.ts <= second.ts for e in lines)
                    if failed:
                        continue
                    assert any(first.ts < stop < second.ts for stop in self.stops), (
                        f"{key}: the body ran twice with no runner death in between: {lines}"
                    )
                    repeated += 1
        unknown = set(by_step) - checked
        assert not unknown, f"bodies ran for steps that the database does not know: {unknown}"
        return repeated
