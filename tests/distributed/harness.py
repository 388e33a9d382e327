"""Runner processes against one PostgreSQL schema, and the checks that follow."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import psycopg

WORKER = Path(__file__).with_name("worker_app.py")


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


@dataclass
class Cluster:
    url: str
    root: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)

    @property
    def effects(self) -> Path:
        return self.root / "effects.log"

    def start(self, name: str) -> None:
        log_path = self.root / f"{name}.log"
        log = log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), self.url, name, str(self.effects)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.procs[name] = Proc(name, proc, log_path, log)

    def kill(self, name: str) -> None:
        proc = self.procs[name].proc
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.killed.add(name)

    def alive(self) -> list[str]:
        return [p.name for p in self.procs.values() if p.proc.poll() is None]

    def logs(self) -> str:
        out = []
        for p in self.procs.values():
            p.log.flush()
            text = p.log_path.read_text(errors="replace")
            out.append(f"--- {p.name} (exit {p.proc.poll()}) ---\n{text[-4000:]}")
        return "\n".join(out)

    def close(self) -> None:
        for p in self.procs.values():
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.proc.wait(max(0.1, deadline - time.monotonic()))
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(5)
            p.log.close()

    def executions(self) -> dict[tuple[str, str], list[str]]:
        """(run_id, step_id) -> the runners that executed that step body, in order."""
        seen: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        if self.effects.exists():
            for line in self.effects.read_text().splitlines():
                run_id, step_id, runner = line.split()
                seen[(run_id, step_id)].append(runner)
        return seen


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def query(base_url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(base_url, autocommit=True) as conn:
        return list(conn.execute(sql, params).fetchall())


def restart_server(base_url: str) -> None:
    """Restart the PostgreSQL cluster serving ``base_url`` (needs root, as in CI)."""
    port = str(urlsplit(base_url).port or 5432)
    clusters = subprocess.run(
        ["pg_lsclusters", "-h"], check=True, capture_output=True, text=True
    ).stdout.split("\n")
    for line in clusters:
        parts = line.split()
        if len(parts) >= 3 and parts[2] == port:
            subprocess.run(["pg_ctlcluster", parts[0], parts[1], "restart"], check=True)
            return
    raise AssertionError(f"no local PostgreSQL cluster on port {port} to restart: {clusters}")
