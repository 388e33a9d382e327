"""DBOS Transact's side of ``python -m bench --vs dbos``: runs ONE workload in a fresh process
and prints its figures as one JSON line (the shape of bench/workloads.py).

Executed only by the python of the DBOS virtual environment that ``bench/vs.py`` creates;
imported by nothing in the project (it imports dbos, which is never a project dependency):

    ~/.cache/durablex-bench/dbos-venv/bin/python bench/dbos_worker.py seq --params '{"N": 1000}'

DBOS runs with its defaults (``DBOSConfig`` with a name and the system database URL only; on
SQLite that is DBOS's own default system database, in rollback-journal mode, synchronous=FULL).
The admin server is switched off only so that two benchmark processes never fight over its
port. Workflows and steps are plain (sync) functions, DBOS's main idiom: a workflow runs in
DBOS's executor thread pool. Times are read from DBOS's own tables (epoch milliseconds).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dbos import DBOS, DBOSClient, DBOSConfig

DEFAULTS: dict[str, dict[str, Any]] = {
    "seq": {"N": 1000},
    "fanout": {"R": 500, "S": 10},
    "parallel": {"P": 200},
    "latency": {"K": 200},
    "sleep": {"R": 1000, "D": 2.0},
    "event": {"R": 1000},
    "parked": {"R": 100_000},
    "resume": {"N": 1000},
}
QUEUE = "bench"
GO_WORKFLOW = "bench-go"  # the workflow whose event "go" the event waiters read
NOTES = {
    "fanout": "R x DBOS.start_workflow(seq, S) from one thread; each run in its own thread",
    "parallel": "documented fan-out: the workflow enqueues P steps on a Queue (default "
    "polling 1 s) and waits on their handles",
    "event": "no broadcast to many waiters: R workflows DBOS.get_event(GO, 'go') and one "
    "workflow GO does DBOS.set_event('go'); wall is GO's start to the last run ended",
    "parked": "no parking outside memory: R async workflows in DBOS.sleep_async(3600) held "
    "by the same process (peak_rss_mb is that process)",
    "resume": "DBOS replays only on recovery: the run records N steps and blocks in "
    "DBOS.recv, the process is killed, the message is sent with DBOSClient, and a new "
    "process's DBOS.launch() recovers it; wall is launch() to the run ended",
    "sleep": "sync workflows: step, DBOS.sleep(D), step (one thread per sleeping run)",
}


# -- the workflows -----------------------------------------------------------------------------


@DBOS.step()
def noop(i: int) -> dict[str, int]:
    return {"i": i}


@DBOS.workflow()
def seq_wf(n: int) -> int:
    for i in range(n):
        noop(i)
    return n


@DBOS.workflow()
def parallel_wf(p: int) -> int:
    handles = [DBOS.enqueue_workflow(QUEUE, noop, i) for i in range(p)]
    return len([h.get_result() for h in handles])


@DBOS.workflow()
def sleep_wf(d: float) -> int:
    noop(0)
    DBOS.sleep(d)
    noop(1)
    return 1


@DBOS.workflow()
def event_wf() -> Any:
    data = DBOS.get_event(GO_WORKFLOW, "go", timeout_seconds=3600)
    noop(0)
    return data


@DBOS.workflow()
def go_wf() -> None:
    DBOS.set_event("go", {"go": 1})


@DBOS.workflow()
async def parked_wf() -> int:
    await DBOS.sleep_async(3600)
    return 0


@DBOS.workflow()
def resume_wf(n: int) -> int:
    for i in range(n):
        noop(i)
    DBOS.recv("go", timeout_seconds=3600)
    return n


# -- helpers -----------------------------------------------------------------------------------


def now_ms() -> float:
    return time.time() * 1000


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def rss_kb(field: str = "VmHWM") -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


class Db:
    """Reads DBOS's system tables (workflow_status, operation_outputs) with plain SQL."""

    def __init__(self, url: str) -> None:
        self.pg = url.startswith("postgres")
        if self.pg:
            import psycopg  # installed with dbos

            self.conn: Any = psycopg.connect(url, autocommit=True)
            self.prefix = "dbos."
        else:
            path = url.removeprefix("sqlite:///")
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.prefix = ""

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        sql = sql.replace("T.", self.prefix)
        if self.pg:  # psycopg placeholders: a literal % (in LIKE) must be doubled
            sql = sql.replace("%", "%%").replace("?", "%s")
        return list(self.conn.execute(sql, args).fetchall())

    def scalar(self, sql: str, *args: Any) -> Any:
        return self.rows(sql, *args)[0][0]

    def wait(self, sql: str, n: int, timeout: float, poll: float = 0.005) -> None:
        deadline = time.monotonic() + timeout
        while self.scalar(sql) < n:
            bad = self.scalar("SELECT count(*) FROM T.workflow_status WHERE status = 'ERROR'")
            if bad:
                raise RuntimeError(f"{bad} DBOS workflows failed")
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {n}: {sql}")
            time.sleep(poll)

    def sleeping(self) -> str:
        """SQL counting the waits/sleeps checkpointed (recv, get_event and sleep each record a
        DBOS.sleep row before they block)."""
        return "SELECT count(*) FROM T.operation_outputs WHERE function_name = 'DBOS.sleep'"


def results(handles: list[Any]) -> float:
    """Wait for every handle's result; return the time (epoch ms) the last one was ready.

    DBOS's SQLite tables record workflow end times in whole seconds, so the end is taken here:
    a handle of a workflow started in this process is an in-process future set right after
    DBOS records the result (no polling)."""
    for handle in handles:
        handle.get_result()
    return now_ms()


def launch(url: str) -> None:
    config: DBOSConfig = {"name": "durablex-bench", "system_database_url": url}
    config["run_admin_server"] = False  # type: ignore[typeddict-unknown-key]
    DBOS(config=config)
    DBOS.launch()


# -- workloads ---------------------------------------------------------------------------------


def seq(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    n = p["N"]
    launch(url)
    db = Db(url)
    t0 = now_ms()
    handle = DBOS.start_workflow(seq_wf, n)
    wall = (results([handle]) - t0) / 1000
    starts = [
        r[0]
        for r in db.rows(
            "SELECT started_at_epoch_ms FROM T.operation_outputs WHERE workflow_uuid = ?"
            " ORDER BY function_id",
            handle.workflow_id,
        )
    ]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    return {
        "wall_s": wall,
        "steps_per_s": n / wall,
        "runs_per_s": 1 / wall,
        "p50_ms": pct(gaps, 50),
        "p99_ms": pct(gaps, 99),
        "p_basis": "gap between consecutive step starts (DBOS records milliseconds)",
    }


def fanout(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    r, s = p["R"], p["S"]
    launch(url)
    db = Db(url)
    t0 = now_ms()
    handles = [DBOS.start_workflow(seq_wf, s) for _ in range(r)]
    t_started = now_ms()
    wall = (results(handles) - t0) / 1000
    durations = [
        row[0]
        for row in db.rows(
            "SELECT max(completed_at_epoch_ms) - min(started_at_epoch_ms)"
            " FROM T.operation_outputs GROUP BY workflow_uuid"
        )
    ]
    return {
        "wall_s": wall,
        "steps_per_s": r * s / wall,
        "runs_per_s": r / wall,
        "p50_ms": None,
        "p99_ms": None,
        "submit_s": (t_started - t0) / 1000,
        "run_basis": "first step started to last step completed, per run",
        "run_p50_ms": pct(durations, 50),
        "run_p99_ms": pct(durations, 99),
    }


def parallel(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    n = p["P"]
    launch(url)
    DBOS.register_queue(QUEUE)
    t0 = now_ms()
    wall = (results([DBOS.start_workflow(parallel_wf, n)]) - t0) / 1000
    return {"wall_s": wall, "steps_per_s": n / wall, "runs_per_s": 1 / wall}


def latency(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    k = p["K"]
    launch(url)
    DBOS.start_workflow(seq_wf, 1).get_result()  # warm-up, not counted
    trips = []
    t0 = time.perf_counter()
    for _ in range(k):
        t = time.perf_counter()
        DBOS.start_workflow(seq_wf, 1).get_result()
        trips.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "steps_per_s": k / wall,
        "runs_per_s": k / wall,
        "p50_ms": pct(trips, 50),
        "p99_ms": pct(trips, 99),
        "p_basis": "client round trip: start_workflow() to get_result() returned",
    }


def sleep(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    r, d = p["R"], p["D"]
    launch(url)
    db = Db(url)
    t0 = now_ms()
    handles = [DBOS.start_workflow(sleep_wf, d) for _ in range(r)]
    t_started = now_ms()
    wall = (results(handles) - t0) / 1000
    # the sleep's recorded wake time (its output, epoch seconds) vs the next step's start
    pairs = db.rows(
        "SELECT s.output, b.started_at_epoch_ms FROM T.operation_outputs s"
        " JOIN T.operation_outputs b ON b.workflow_uuid = s.workflow_uuid"
        " AND b.function_id = s.function_id + 1 WHERE s.function_name = 'DBOS.sleep'"
    )
    late = [b - float(json.loads(out)) * 1000 for out, b in pairs]
    if len(late) != r:
        raise RuntimeError(f"expected {r} sleep/next-step pairs, found {len(late)}")
    return {
        "wall_s": wall,
        "steps_per_s": 2 * r / wall,
        "runs_per_s": r / wall,
        "p50_ms": pct(late, 50),
        "p99_ms": pct(late, 99),
        "p_basis": "wake-up lateness: next step's started_at minus the sleep's wake time",
        "late_max_ms": max(late),
        "late_min_ms": min(late),
        "submit_s": (t_started - t0) / 1000,
    }


def event(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    r = p["R"]
    launch(url)
    db = Db(url)
    t0 = now_ms()
    handles = [DBOS.start_workflow(event_wf) for _ in range(r)]
    db.wait(db.sleeping(), r, timeout)
    t_send = now_ms()
    from dbos import SetWorkflowID

    with SetWorkflowID(GO_WORKFLOW):
        DBOS.start_workflow(go_wf)
    wall = (results(handles) - t_send) / 1000
    wakes = [
        row[0] - t_send
        for row in db.rows(
            "SELECT o.started_at_epoch_ms FROM T.operation_outputs o JOIN T.workflow_status w"
            " ON w.workflow_uuid = o.workflow_uuid WHERE w.name LIKE '%event_wf'"
            " AND o.function_name LIKE '%noop'"
        )
    ]
    return {
        "wall_s": wall,
        "steps_per_s": r / wall,
        "runs_per_s": r / wall,
        "p50_ms": pct(wakes, 50),
        "p99_ms": pct(wakes, 99),
        "p_basis": "set_event's workflow started to each waiter's next step starting",
        "park_s": (t_send - t0) / 1000,
    }


def parked(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    import asyncio

    r = p["R"]
    launch(url)
    db = Db(url)
    idle_kb = rss_kb("VmRSS")

    async def start_all() -> None:
        for _ in range(r):
            await DBOS.start_workflow_async(parked_wf)
        deadline = time.monotonic() + timeout
        while db.scalar(db.sleeping()) < r:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{db.scalar(db.sleeping())} of {r} parked after {timeout}s")
            await asyncio.sleep(0.05)

    t0 = now_ms()
    asyncio.run(start_all())  # returns once all R sleeps are checkpointed
    wall = (now_ms() - t0) / 1000
    peak_kb = rss_kb()
    return {
        "wall_s": wall,
        "steps_per_s": None,
        "runs_per_s": r / wall,
        "peak_rss_mb": round((peak_kb or 0) / 1024, 1),
        "runner_idle_rss_mb": round((idle_kb or 0) / 1024, 1),
        "basis": "first start to all R sleeps checkpointed; peak_rss_mb is this process",
        "exit": "os._exit: the sleeping workflows are abandoned",
    }


def resume_record(url: str, n: int, timeout: float) -> None:
    """Phase 1 of resume (a child process): record N steps, block in recv, then die."""
    launch(url)
    db = Db(url)
    with_id = "bench-resume"
    from dbos import SetWorkflowID

    t0 = time.perf_counter()
    with SetWorkflowID(with_id):
        DBOS.start_workflow(resume_wf, n)
    db.wait(db.sleeping(), 1, timeout)
    print(json.dumps({"record_s": time.perf_counter() - t0}), flush=True)
    os._exit(0)  # a crash: DBOS recovers the pending run at the next launch


def resume(url: str, p: dict[str, Any], timeout: float) -> dict[str, Any]:
    n = p["N"]
    child = subprocess.run(
        [sys.executable, __file__, "resume-record", "--url", url, "--params", json.dumps(p)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if child.returncode != 0:
        raise RuntimeError(f"resume-record failed: {child.stderr[-2000:]}")
    record_s = json.loads(child.stdout.strip().splitlines()[-1])["record_s"]
    client = DBOSClient(system_database_url=url)
    client.send("bench-resume", "go", "go")
    client.destroy()
    t0 = now_ms()
    launch(url)
    launch_s = (now_ms() - t0) / 1000
    db = Db(url)
    db.wait("SELECT count(*) FROM T.workflow_status WHERE status = 'SUCCESS'", 1, timeout)
    wall = (now_ms() - t0) / 1000
    return {
        "wall_s": wall,
        "steps_per_s": n / wall,
        "runs_per_s": None,
        "basis": "DBOS.launch() (recovery) to the run ended (seen by a 5 ms status poll):"
        " replay N steps, recv, finish",
        "launch_s": launch_s,
        "record_s": record_s,
    }


WORKLOADS = {
    "seq": seq,
    "fanout": fanout,
    "parallel": parallel,
    "latency": latency,
    "sleep": sleep,
    "event": event,
    "parked": parked,
    "resume": resume,
}


# -- the process -------------------------------------------------------------------------------


def fresh_url(args: argparse.Namespace, tmp: Path) -> tuple[str, Any]:
    """A fresh system database: a new SQLite file, or a new PostgreSQL database (dropped by the
    returned cleanup)."""
    if not args.pg_url:
        return f"sqlite:///{tmp / 'dbos.sqlite'}", None
    import psycopg

    name = f"dxbench_dbos_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(args.pg_url)
    url = urlunsplit(parts._replace(path="/" + name, query=""))

    def drop() -> None:
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(prog="dbos_worker.py")
    parser.add_argument("workload", choices=[*WORKLOADS, "resume-record"])
    parser.add_argument("--params", default="{}")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--pg-url", default=None, help="run on PostgreSQL (a fresh database)")
    parser.add_argument("--url", default=None, help="(internal) the system database URL")
    args = parser.parse_args()
    params = dict(DEFAULTS.get(args.workload, {}))
    params.update(json.loads(args.params))
    if args.workload == "resume-record":
        resume_record(args.url, params["N"], args.timeout)
    tmp = Path(tempfile.mkdtemp(prefix=f"dxbench-dbos-{args.workload}-", dir=args.tmpdir))
    url, drop = fresh_url(args, tmp)
    import dbos

    try:
        t = time.perf_counter()
        figures = WORKLOADS[args.workload](url, params, args.timeout)
        figures["elapsed_total_s"] = round(time.perf_counter() - t, 3)
        figures.setdefault("peak_rss_mb", round((rss_kb() or 0) / 1024, 1))
        figures["params"] = params
        figures["dbos_version"] = getattr(dbos, "__version__", None) or _version()
        if args.workload in NOTES:
            figures["note"] = NOTES[args.workload]
        print(json.dumps(figures), flush=True)
    finally:
        if drop is not None:
            with contextlib.suppress(Exception):  # tearing down after the figures are out
                DBOS.destroy(workflow_completion_timeout_sec=0)
            drop()
        shutil.rmtree(tmp, ignore_errors=True)
    # sleeping/parked workflows hold threads; leave without waiting for them
    os._exit(0)


def _version() -> str | None:
    from importlib.metadata import version

    return version("dbos")


if __name__ == "__main__":
    main()
