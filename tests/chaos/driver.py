"""A seeded chaos driver: a mixed workload on several runner processes, SIGKILLed at random.

``Chaos(config).run()`` starts ``config.runners`` runner processes of ``chaos_app`` on one
database (SQLite or PostgreSQL), starts runs of random plans (steps, parallel steps, sleeps,
waits, children, emits, retries), sends the events the waits expect at random moments, and
SIGKILLs a random runner at random moments (restarting it at once), for ``config.seconds``.
Each runner process also starts runs of random plans from a client on its own loop, which
are begun by it before their start commits (durablex.store.handoff); the driver
finds those in the database by their input, and their waits time out.
Then it stops the load, lets every run finish and checks, from the database and the
side-effect file:

- every run is completed, with the output its plan implies;
- no step body ran again after its value was committed, and two executions of one step are
  explained by a failure of the first (a retry) or by the death of the process that ran it;
  bodies that ran for a run the database does not hold are counted as a run killed before
  its start committed (only a run begun beside its runner can be, and the check of the
  steps of every stored run is unchanged);
- every emit stored one event and started one listener run; every child step started one
  child run; every event id sent twice was stored once;
- every wait took the first matching event accepted after its waiter was committed (its park
  time: the moment the driver first saw the waiter row) and before its timeout, and a wait
  that timed out had no such event; a wait never took an event from before it started.

The same random seed gives the same plans, event timings and kill times (the processes'
scheduling still varies). See ``python -m tests.chaos --help``.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

import durablex
from durablex.core.ids import new_id

from .plans import make_plan, plan_total

APP_FILE = Path(__file__).with_name("chaos_app.py")
GO = "chaos.go"
EMITTED = "chaos.emitted"
TERMINAL = ("completed", "failed", "cancelled")
TICK = 0.02
CLOCK_SLACK_US = 50_000
READ_RETRY_SECONDS = 30.0


@dataclass
class Config:
    backend: str = "sqlite"  # or "postgres"
    runners: int = 2
    seconds: float = 60.0
    seed: int = 1
    root: Path = Path("chaos-out")
    pg_url: str | None = None  # a server URL; the driver makes (and drops) its own schema
    in_flight: int = 24  # runs started by the driver and not yet finished, at most
    kill_every: float = 2.5  # mean seconds between SIGKILLs
    lease: str = "2s"
    # each runner process also starts runs from a client on its own loop (begun before their
    # start commits), as long as the load lasts
    beside: bool = True
    drain_timeout: float = 180.0
    verbose: bool = False


@dataclass
class Report:
    kills: int = 0
    runs: int = 0
    started: int = 0
    steps: int = 0
    executions: int = 0
    repeated: int = 0
    waits_delivered: int = 0
    waits_timed_out: int = 0
    events_sent: int = 0
    started_beside: int = 0  # runs the runner processes started on their own loops
    lost_before_stored: int = 0  # of those, begun and killed before their start committed
    seconds: float = 0.0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"kills survived: {self.kills}; runs: {self.runs} ({self.started} started by the "
            f"driver); steps: {self.steps}; step executions: {self.executions} "
            f"({self.repeated} repeated after a kill); runs started beside a runner: "
            f"{self.started_beside} stored, {self.lost_before_stored} killed before their start "
            f"committed; waits: {self.waits_delivered} resumed "
            f"by an event, {self.waits_timed_out} timed out; events sent: {self.events_sent}; "
            f"violations: {len(self.violations)}; {self.seconds:.0f}s"
        )


# -- the database, read directly -------------------------------------------------------


class Db:
    """Read-only SQL on the chaos database (``?`` placeholders on both backends)."""

    def __init__(self, backend: str, url: str, path: Path | None, schema: str | None) -> None:
        self.backend = backend
        self.url = url
        self.path = path
        self.schema = schema
        self._conn: Any = None

    def _connect(self) -> Any:
        if self.backend == "sqlite":
            assert self.path is not None
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            return conn
        import psycopg

        base = self.url.split("?", 1)[0]
        conn = psycopg.connect(base, autocommit=True, connect_timeout=10)
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def rows(
        self, sql: str, params: tuple[Any, ...] = (), *, retry: bool = True
    ) -> list[tuple[Any, ...]]:
        """Run a query; a broken connection (a server restarted by someone else, a locked
        file) is reopened and the query retried for up to READ_RETRY_SECONDS."""
        if self.backend == "postgres":
            sql = sql.replace("?", "%s")
        deadline = time.monotonic() + READ_RETRY_SECONDS
        while True:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                return list(self._conn.execute(sql, params).fetchall())
            except Exception:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
                if not retry or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def load(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes | str):
        return orjson.loads(value)
    return value


# -- runner processes ------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]


@dataclass
class WaitPlan:
    run_id: str
    step_id: str
    mode: str  # "parked": after the waiter is seen; "random": at a random moment; "never"
    delay: float
    extra: bool  # send a second, different matching event afterwards
    duplicate: bool  # send the same event id twice
    seen_at_us: int | None = None
    sends: list[tuple[float, str, int]] = field(default_factory=list)  # (when, event id, n)


class Chaos:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        # Kill times and victims from a generator of their own: drawn from ``rng`` they would
        # depend on how many runs the load started between two kills (a timing matter), and a
        # short run could see 2 kills as well as 11.
        self.kill_rng = random.Random(f"{config.seed}-kills")
        self.root = config.root
        self.root.mkdir(parents=True, exist_ok=True)
        self.effects_path = self.root / "effects.log"
        self.report = Report()
        self.procs: list[Proc] = []
        self.killed: dict[int, float] = {}  # pid -> time of its SIGKILL
        self.plans: dict[str, list[dict[str, Any]]] = {}
        self.waits: dict[tuple[str, str], WaitPlan] = {}
        self.sent_ids: Counter[str] = Counter()
        self.schema: str | None = None
        self.spawned = 0
        if config.backend == "sqlite":
            db_path = self.root / "chaos.db"
            self.url = f"sqlite:///{db_path}"
            self.db = Db("sqlite", self.url, db_path, None)
        elif config.backend == "postgres":
            if not config.pg_url:
                raise ValueError("the postgres backend needs a server URL (DURABLEX_TEST_PG_URL)")
            self.schema = f"chaos_{secrets.token_hex(5)}"
            sep = "&" if "?" in config.pg_url else "?"
            self.url = f"{config.pg_url}{sep}schema={self.schema}"
            self.db = Db("postgres", self.url, None, self.schema)
        else:
            raise ValueError(f"unknown backend {config.backend!r}")
        self.client: durablex.Client | None = None
        # the wall-clock end of the load, for the runner processes' own starts (set by _run)
        self.load_until = 0.0

    def log(self, message: str) -> None:
        if self.config.verbose:
            print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)

    # -- processes -----------------------------------------------------------------------

    def spawn(self) -> Proc:
        self.spawned += 1
        name = f"chaos-r{self.spawned}"
        env = {**os.environ, "DX_EFFECTS": str(self.effects_path), "PYTHONUNBUFFERED": "1"}
        env.pop("DURABLEX_DB", None)
        log = (self.root / f"{name}.log").open("ab")
        beside = (
            ["--beside-until", str(self.load_until), "--beside-seed", f"{self.config.seed}-{name}"]
            if self.config.beside
            else []
        )
        popen = subprocess.Popen(
            [sys.executable, str(APP_FILE), self.url, name, "--lease", self.config.lease, *beside],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def registered(self, proc: Proc) -> bool:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"runner {proc.name} exited early:\n{self.logs()}")
        try:
            rows = self.db.rows(
                "SELECT 1 FROM runners WHERE name = ? AND stopped_at IS NULL",
                (proc.name,),
                retry=False,
            )
        except Exception:  # the schema is not there yet
            return False
        return bool(rows)

    def kill(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=30)
        self.killed[proc.popen.pid] = time.time()
        proc.log.close()
        self.procs.remove(proc)
        self.report.kills += 1
        self.log(f"killed {proc.name} (pid {proc.popen.pid}); kill {self.report.kills}")

    def close(self) -> None:
        for proc in list(self.procs):
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.send_signal(signal.SIGTERM)
        for proc in list(self.procs):
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=10)
            proc.log.close()
        self.procs.clear()
        if self.client is not None:
            self.client.close()
        self.db.close()
        if self.schema is not None and self.config.pg_url:
            import psycopg

            with (
                contextlib.suppress(Exception),
                psycopg.connect(self.config.pg_url.split("?", 1)[0], autocommit=True) as conn,
            ):
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def logs(self) -> str:
        parts = []
        for path in sorted(self.root.glob("chaos-r*.log")):
            parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    # -- the load ------------------------------------------------------------------------

    def run(self) -> Report:
        began = time.monotonic()
        try:
            self._run()
        finally:
            self.report.seconds = time.monotonic() - began
            self.close()
        return self.report

    def _run(self) -> None:
        cfg = self.config
        self.load_until = time.time() + 5 + cfg.seconds  # 5 s: the runners' start-up, about
        first = [self.spawn() for _ in range(cfg.runners)]
        deadline = time.monotonic() + 60
        while not all(self.registered(p) for p in first):
            if time.monotonic() > deadline:
                raise RuntimeError(f"runners did not register:\n{self.logs()}")
            time.sleep(0.05)
        self.client = durablex.Client(self.url)
        load_until = time.monotonic() + cfg.seconds
        next_kill = time.monotonic() + self.kill_rng.expovariate(1 / cfg.kill_every)
        unfinished: set[str] = set()
        next_status = 0.0
        while time.monotonic() < load_until:
            now = time.monotonic()
            if now >= next_status:
                unfinished = self._unfinished(unfinished)
                next_status = now + 0.2
            while len(unfinished) < cfg.in_flight:
                unfinished.add(self._start_run())
            self._watch_waiters()
            self._send_due()
            if now >= next_kill:
                victim = self.kill_rng.choice(self.procs)
                self.kill(victim)
                self.spawn()
                next_kill = now + self.kill_rng.expovariate(1 / cfg.kill_every)
            time.sleep(TICK)
        self.log("load ended; draining")
        drain_until = time.monotonic() + cfg.drain_timeout
        while True:
            self._watch_waiters()
            self._send_due()
            if not self._open_runs():
                break
            if time.monotonic() > drain_until:
                stuck = self.db.rows(
                    "SELECT id, workflow, status, due_at, lease_owner FROM runs"
                    " WHERE status NOT IN ('completed', 'failed', 'cancelled') LIMIT 20"
                )
                raise RuntimeError(f"runs still open after the drain: {stuck}\n{self.logs()}")
            time.sleep(0.1)
        self.check()

    def _start_run(self) -> str:
        assert self.client is not None
        plan = make_plan(self.rng, top=True)
        run_id = self.client.start("chaos", {"plan": plan}).run_id
        self.plans[run_id] = plan
        self.report.started += 1
        started = time.monotonic()
        for i, op in enumerate(plan):
            if op["op"] != "wait":
                continue
            mode = self.rng.choices(["parked", "random", "never"], [6, 3, 1])[0]
            wait = WaitPlan(
                run_id,
                f"w{i}",
                mode,
                self.rng.uniform(0, 0.4) if mode == "parked" else self.rng.uniform(0, 3.0),
                extra=self.rng.random() < 0.3,
                duplicate=self.rng.random() < 0.3,
            )
            if mode == "random":
                self._plan_sends(wait, started + wait.delay)
            self.waits[(run_id, wait.step_id)] = wait
        return run_id

    def _plan_sends(self, wait: WaitPlan, when: float) -> None:
        first = new_id()
        wait.sends.append((when, first, self.rng.randint(1, 10**6)))
        if wait.duplicate:
            wait.sends.append((when + self.rng.uniform(0, 0.3), first, wait.sends[0][2]))
        if wait.extra:
            second = secrets.token_hex(13)
            wait.sends.append((when + self.rng.uniform(0, 0.5), second, self.rng.randint(1, 10**6)))

    def _watch_waiters(self) -> None:
        rows = self.db.rows("SELECT run_id, step_id FROM waiters WHERE event_name = ?", (GO,))
        seen = int(time.time() * 1e6)  # after the read: every row here was committed by now
        for run_id, step_id in rows:
            wait = self.waits.get((run_id, step_id))
            if wait is None or wait.seen_at_us is not None:
                continue
            wait.seen_at_us = seen
            if wait.mode == "parked":
                self._plan_sends(wait, time.monotonic() + wait.delay)

    def _send_due(self) -> None:
        assert self.client is not None
        now = time.monotonic()
        for wait in self.waits.values():
            while wait.sends and wait.sends[0][0] <= now:
                _, event_id, n = wait.sends.pop(0)
                self.client.send(GO, {"key": f"{wait.run_id}:{wait.step_id}", "n": n}, id=event_id)
                self.sent_ids[event_id] += 1
                self.report.events_sent += 1

    def _unfinished(self, candidates: set[str]) -> set[str]:
        if not candidates:
            return set()
        marks = ",".join("?" * len(candidates))
        rows = self.db.rows(
            f"SELECT id FROM runs WHERE id IN ({marks}) AND status NOT IN"
            " ('completed', 'failed', 'cancelled')",
            tuple(candidates),
        )
        return {r[0] for r in rows}

    def _open_runs(self) -> int:
        rows = self.db.rows(
            "SELECT count(*) FROM runs WHERE status NOT IN ('completed', 'failed', 'cancelled')"
        )
        return int(rows[0][0])

    # -- the checks ----------------------------------------------------------------------

    def violation(self, message: str) -> None:
        self.report.violations.append(message)
        self.log(f"VIOLATION: {message}")

    def check(self) -> None:
        runs = {
            r[0]: r
            for r in self.db.rows(
                "SELECT id, workflow, status, input, output, parent_run_id, parent_step_id,"
                " event_id FROM runs"
            )
        }
        steps: dict[str, dict[str, tuple[Any, ...]]] = defaultdict(dict)
        for row in self.db.rows(
            "SELECT run_id, step_id, kind, status, output, started_at, ended_at, child_run_id,"
            " event_id FROM steps"
        ):
            steps[row[0]][row[1]] = row
        events = {
            r[0]: r
            for r in self.db.rows(
                "SELECT id, name, data, ts, source_run_id, source_step_id FROM events"
            )
        }
        self.report.runs = len(runs)
        self.report.started_beside = sum(
            1 for run_id, run in runs.items() if run[1] == "chaos" and run_id not in self.plans
        )
        self.report.steps = sum(len(s) for s in steps.values())
        for run_id, run in runs.items():
            if run[2] != "completed":
                self.violation(f"run {run_id} ({run[1]}) ended {run[2]}")
        self._check_outputs(runs, steps, events)
        self._check_executions(runs, steps)
        self._check_waits(runs, steps, events)
        for event_id, count in self.sent_ids.items():
            if event_id not in events:
                self.violation(f"event {event_id}, sent {count} times, was not stored")

    def _check_outputs(
        self,
        runs: dict[str, tuple[Any, ...]],
        steps: dict[str, dict[str, tuple[Any, ...]]],
        events: dict[str, tuple[Any, ...]],
    ) -> None:
        children: dict[tuple[str, str], list[str]] = defaultdict(list)
        listeners: dict[str, list[str]] = defaultdict(list)
        for run_id, run in runs.items():
            if run[5] is not None:
                children[(run[5], run[6])].append(run_id)
            if run[1] == "chaos_listener":
                listeners[run[7]].append(run_id)
        emitted: dict[tuple[str, str], list[str]] = defaultdict(list)
        for event in events.values():
            if event[1] == EMITTED:
                emitted[(event[4], event[5])].append(event[0])
        for run_id, run in runs.items():
            if run[1] not in ("chaos", "chaos_child"):
                continue
            plan = load(run[3])["plan"]
            if run[1] == "chaos" and run_id in self.plans and plan != self.plans[run_id]:
                self.violation(f"run {run_id}: its stored input is not the plan it was given")
            output = load(run[4])
            if run[2] != "completed":
                continue
            if output["total"] != plan_total(plan):
                self.violation(f"run {run_id}: total {output['total']} != {plan_total(plan)}")
            for i, op in enumerate(plan):
                key = f"{op['op'][0]}{i}"
                if op["op"] == "emit":
                    ids = emitted.get((run_id, f"e{i}"), [])
                    if len(ids) != 1 or output["emits"].get(f"e{i}") != ids[0]:
                        self.violation(f"run {run_id} emit e{i}: events {ids}, output {output}")
                        continue
                    heard = listeners.get(ids[0], [])
                    if len(heard) != 1:
                        self.violation(f"emitted event {ids[0]} started listeners {heard}")
                    elif load(runs[heard[0]][4]) != op["v"] and runs[heard[0]][2] == "completed":
                        self.violation(f"listener {heard[0]} output {load(runs[heard[0]][4])}")
                elif op["op"] == "child":
                    kids = children.get((run_id, key), [])
                    step = steps[run_id].get(key)
                    if len(kids) != 1 or step is None or step[7] != kids[0]:
                        self.violation(f"run {run_id} child {key}: child runs {kids}")
                elif op["op"] == "wait":
                    step = steps[run_id].get(key)
                    got = output["waits"].get(key, "missing")
                    stored = load(step[4]) if step is not None else "missing"
                    if got != stored:
                        self.violation(f"run {run_id} wait {key}: returned {got}, stored {stored}")

    def _check_executions(
        self, runs: dict[str, tuple[Any, ...]], steps: dict[str, dict[str, tuple[Any, ...]]]
    ) -> None:
        """Every execution of a step body but the one whose value was stored failed on
        purpose or ran in a process that was SIGKILLed after the execution began."""
        executions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        open_: dict[tuple[str, str, int], dict[str, Any]] = {}
        text = self.effects_path.read_text() if self.effects_path.exists() else ""
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 5:
                continue
            run_id, step_id, phase, ts, pid = (
                parts[0],
                parts[1],
                parts[2],
                float(parts[3]),
                int(parts[4]),
            )
            if phase == "begin":
                execution = {"begin": ts, "pid": pid, "end": None, "token": None, "failed": False}
                executions[(run_id, step_id)].append(execution)
                open_[(run_id, step_id, pid)] = execution
            elif (run_id, step_id, pid) in open_:
                execution = open_.pop((run_id, step_id, pid))
                execution["end"] = ts
                execution["failed"] = phase == "fail"
                execution["token"] = parts[5] if phase == "end" and len(parts) > 5 else None
        self.report.executions = sum(len(e) for e in executions.values())
        known = set()
        for run_id, by_id in steps.items():
            for step_id, step in by_id.items():
                if step[2] != "run":
                    continue
                known.add((run_id, step_id))
                mine = executions.get((run_id, step_id), [])
                if step[3] != "completed":
                    continue
                output = load(step[4])
                token = output.get("token") if isinstance(output, dict) else None
                stored = [e for e in mine if e["token"] == token]
                if len(stored) != 1:
                    self.violation(f"step {run_id}/{step_id}: stored value from {stored} of {mine}")
                    continue
                for execution in mine:
                    if execution is stored[0] or execution["failed"]:
                        continue
                    killed = self.killed.get(execution["pid"])
                    if killed is None or killed < execution["begin"]:
                        self.violation(
                            f"step {run_id}/{step_id} ran twice without a crash between: {mine}"
                        )
                        break
                    self.report.repeated += 1
        # A run begun by its runner before its start committed (a start beside a SQLite
        # runner) and killed before that commit was never stored: its bodies ran for nothing,
        # as bodies whose results were not committed may. Every other run's steps are known.
        lost = {run_id for run_id, _ in executions if run_id not in runs}
        self.report.lost_before_stored = len(lost)
        unknown = {key for key in set(executions) - known if key[0] not in lost}
        if unknown:
            self.violation(
                f"bodies ran for steps the database does not know: {sorted(unknown)[:5]}"
            )

    def _check_waits(
        self,
        runs: dict[str, tuple[Any, ...]],
        steps: dict[str, dict[str, tuple[Any, ...]]],
        events: dict[str, tuple[Any, ...]],
    ) -> None:
        by_key: dict[str, list[tuple[int, str, Any]]] = defaultdict(list)
        for event in events.values():
            if event[1] == GO:
                data = load(event[2])
                by_key[data["key"]].append((int(event[3]), event[0], data))
        for (run_id, step_id), wait in self.waits.items():
            if run_id not in runs:
                self.violation(f"run {run_id} is missing")
                continue
            step = steps[run_id].get(step_id)
            if step is None:
                self.violation(f"wait {run_id}/{step_id} was never recorded")
                continue
            plan = self.plans[run_id]
            timeout_us = plan[int(step_id[1:])]["timeout_ms"] * 1000
            started, deadline = int(step[5]), int(step[5]) + timeout_us
            candidates = sorted(by_key.get(f"{run_id}:{step_id}", []))
            parked = wait.seen_at_us
            after_park = [c for c in candidates if parked is not None and parked < c[0] < deadline]
            taken = step[8]
            if taken is None:
                self.report.waits_timed_out += 1
                if load(step[4]) is not None:
                    self.violation(f"wait {run_id}/{step_id}: output without an event")
                if after_park:
                    self.violation(
                        f"wait {run_id}/{step_id} timed out, but event {after_park[0]} was "
                        f"accepted after it parked at {parked} and before {deadline}"
                    )
                continue
            self.report.waits_delivered += 1
            match = [c for c in candidates if c[1] == taken]
            if not match:
                self.violation(f"wait {run_id}/{step_id} took event {taken}, not one of its own")
                continue
            ts, _, data = match[0]
            # an acceptance time is taken just before its transaction, which may then wait
            # briefly for the write lock: allow that much before the wait's start
            if not started - CLOCK_SLACK_US <= ts < deadline:
                self.violation(
                    f"wait {run_id}/{step_id} took event {taken} accepted at {ts}, outside "
                    f"[{started}, {deadline})"
                )
            if load(step[4]) != data:
                self.violation(f"wait {run_id}/{step_id}: output {load(step[4])} != {data}")
            if after_park and after_park[0][0] < ts:
                self.violation(
                    f"wait {run_id}/{step_id} took {taken} at {ts}, but {after_park[0]} came "
                    f"earlier after it parked at {parked}"
                )


def run(config: Config, out: Callable[[str], None] = print) -> Report:
    report = Chaos(config).run()
    out(report.summary())
    for violation in report.violations[:50]:
        out(f"VIOLATION: {violation}")
    return report
