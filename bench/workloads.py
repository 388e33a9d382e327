"""The workloads of spec/benchmarks.md. Each is an ``async def`` taking the database URL, its
params and options, and returning the figures of one JSON line (see report.py).

Timing starts when work is submitted and ends when the engine has recorded the last result: the
end is read from the database (``runs.ended_at``, written by the engine in the same commit as
the result), so the granularity of the completion poll does not count. Wall-clock and engine
timestamps are both ``time.time()`` (epoch microseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import durablex
from bench.apps import GO_EVENT, make_app

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
ORDER = list(DEFAULTS)
POLL = 0.005
START_CHUNK = 2000


def now_us() -> int:
    return time.time_ns() // 1000


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), nearest-rank on the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 3)


def rss_kb(pid: int | str = "self", field: str = "VmHWM") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_s(pid: int | str = "self") -> float | None:
    """CPU seconds (user + system) the process has used so far, from ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Db:
    """A read-only peek at the benchmark's database, independent of the engine's connections."""

    def __init__(self, path: Path | str) -> None:
        self.pg = isinstance(path, str)  # a postgresql:// URL
        if self.pg:
            from bench.raw import pg_connect

            self.conn: Any = pg_connect(str(path))
        else:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 5000")

    def scalar(self, sql: str, *args: Any) -> Any:
        return self.rows(sql, *args)[0][0]

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.pg:
            sql = sql.replace("?", "%s")
        return list(self.conn.execute(sql, args).fetchall())

    def counts(self) -> dict[str, int]:
        return dict(self.rows("SELECT status, count(*) FROM runs GROUP BY status"))

    async def wait_status(
        self, status: str, n: int, timeout: float, poll: float = POLL, workflow: str | None = None
    ) -> None:
        """Wait until ``n`` runs have ``status``; raise if any failed or on timeout."""
        deadline = time.monotonic() + timeout
        where = "status = ?" + (" AND workflow = ?" if workflow else "")
        args = (status, workflow) if workflow else (status,)
        while True:
            got = self.scalar(f"SELECT count(*) FROM runs WHERE {where}", *args)
            if got >= n:
                return
            bad = self.scalar("SELECT count(*) FROM runs WHERE status IN ('failed','cancelled')")
            if bad:
                err = self.rows("SELECT id, error FROM runs WHERE status = 'failed' LIMIT 1")
                raise RuntimeError(f"{bad} runs failed or were cancelled; e.g. {err}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {n} runs {status}; have {self.counts()}")
            await asyncio.sleep(poll)

    def max_ended(self) -> int:
        return int(self.scalar("SELECT max(ended_at) FROM runs WHERE status = 'completed'"))


def db_mb(path: Path | str) -> float:
    if isinstance(path, str):
        return round(Db(path).scalar("SELECT pg_database_size(current_database())") / 2**20, 1)
    return round(sum(f.stat().st_size for f in path.parent.iterdir()) / 2**20, 1)


class Ctx:
    """What every workload gets: the db url and path (the URL itself on PostgreSQL), options.

    ``runners``: how many runner processes serve the workload. 0 (the default) means one
    ``Runner`` in the measuring process, on the same event loop as the client; N >= 1 means N
    separate runner processes (``bench/runner_proc.py``) against the same database, while the
    measuring process only submits and measures.
    """

    def __init__(
        self,
        url: str,
        path: Path | str,
        sync_steps: bool,
        concurrency: int,
        timeout: float,
        runners: int = 0,
    ):
        self.url = url
        self.path = path
        self.sync_steps = sync_steps
        self.concurrency = concurrency
        self.timeout = timeout
        self.runners = runners
        self.app = make_app(sync_steps)
        self.procs: list[subprocess.Popen[str]] = []
        self.runner_figures: dict[str, Any] = {}

    def runner(self) -> contextlib.AbstractAsyncContextManager[Any]:
        if self.runners <= 0:
            return durablex.Runner(self.app, db=self.url, concurrency=self.concurrency)
        return self.runner_procs(self.runners)

    def client(self) -> durablex.AsyncClient:
        return durablex.AsyncClient(db=self.url)

    @contextlib.asynccontextmanager
    async def runner_procs(self, n: int) -> AsyncIterator[list[subprocess.Popen[str]]]:
        """``n`` runner subprocesses, each registered ("ready") before this yields; on exit
        their peak RSS goes to ``runner_figures`` and they are stopped with SIGTERM."""
        cmd = [
            sys.executable,
            "-m",
            "bench.runner_proc",
            "--db",
            self.url,
            "--concurrency",
            str(self.concurrency),
        ] + (["--sync-steps"] if self.sync_steps else [])
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
            for _ in range(n)
        ]
        self.procs = procs
        try:
            for proc in procs:
                assert proc.stdout is not None
                line = await asyncio.to_thread(proc.stdout.readline)
                if line.strip() != "ready":
                    raise RuntimeError(
                        f"runner subprocess did not start: {line!r} rc={proc.poll()}"
                    )
            yield procs
            dead = [p.returncode for p in procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"runner subprocess(es) exited early: rc={dead}")
            peaks = [rss_kb(p.pid, "VmHWM") or 0 for p in procs]
            self.runner_figures["runner_peak_rss_mb"] = [round(k / 1024, 1) for k in peaks]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    await asyncio.to_thread(proc.wait, 60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def start_many(client: durablex.AsyncClient, workflow: str, data: Any, r: int) -> list[str]:
    """Start ``r`` runs concurrently (in chunks), so that group commit batches them."""
    ids: list[str] = []
    for lo in range(0, r, START_CHUNK):
        handles = await asyncio.gather(
            *(client.start(workflow, data) for _ in range(min(START_CHUNK, r - lo)))
        )
        ids.extend(h.run_id for h in handles)
    return ids


def step_gaps_us(db: Db, run_id: str) -> list[int]:
    """Per-step overhead in one sequential run: the gaps between consecutive step starts."""
    starts = [
        r[0]
        for r in db.rows(
            "SELECT started_at FROM steps WHERE run_id = ? AND kind = 'run' ORDER BY seq", run_id
        )
    ]
    return [b - a for a, b in itertools.pairwise(starts)]


# -- workloads ------------------------------------------------------------------------------


async def seq(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    n = p["N"]
    async with c.runner(), c.client() as client:
        db = Db(c.path)
        t0 = now_us()
        handle = await client.start("seq", {"n": n})
        await handle.result(timeout=c.timeout)
        wall_us = db.max_ended() - t0
        gaps = step_gaps_us(db, handle.run_id)
    wall = wall_us / 1e6
    return {
        "wall_s": wall,
        "steps_per_s": n / wall,
        "runs_per_s": 1 / wall,
        "p50_ms": ms(pct(gaps, 50)),
        "p99_ms": ms(pct(gaps, 99)),
        "p_basis": "gap between consecutive step starts (per-step overhead)",
    }


async def fanout(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    r, s = p["R"], p["S"]
    async with c.runner(), c.client() as client:
        db = Db(c.path)
        t0 = now_us()
        await start_many(client, "seq", {"n": s}, r)
        t_started = now_us()
        await db.wait_status("completed", r, c.timeout)
        wall_us = db.max_ended() - t0
        durations = [row[0] for row in db.rows("SELECT ended_at - created_at FROM runs")]
    wall = wall_us / 1e6
    return {
        "wall_s": wall,
        "steps_per_s": r * s / wall,
        "runs_per_s": r / wall,
        "p50_ms": None,
        "p99_ms": None,
        "submit_s": (t_started - t0) / 1e6,
        "run_p50_ms": ms(pct(durations, 50)),
        "run_p99_ms": ms(pct(durations, 99)),
    }


async def parallel(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    n = p["P"]
    async with c.runner(), c.client() as client:
        db = Db(c.path)
        t0 = now_us()
        await client.start("parallel", {"p": n})
        await db.wait_status("completed", 1, c.timeout)
        wall_us = db.max_ended() - t0
    wall = wall_us / 1e6
    return {
        "wall_s": wall,
        "steps_per_s": n / wall,
        "runs_per_s": 1 / wall,
        "p50_ms": None,
        "p99_ms": None,
    }


async def latency(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    k = p["K"]
    trips: list[float] = []
    async with c.runner(), c.client() as client:
        db = Db(c.path)
        # one warm-up round trip, not counted
        await (await client.start("seq", {"n": 1})).result(timeout=30)
        t0 = time.perf_counter()
        for _ in range(k):
            t = time.perf_counter()
            handle = await client.start("seq", {"n": 1})
            await handle.result(timeout=30)
            trips.append((time.perf_counter() - t) * 1e6)
        wall = time.perf_counter() - t0
        engine = [
            row[0]
            for row in db.rows("SELECT ended_at - created_at FROM runs ORDER BY created_at")[1:]
        ]
    return {
        "wall_s": wall,
        "steps_per_s": k / wall,
        "runs_per_s": k / wall,
        "p50_ms": ms(pct(trips, 50)),
        "p99_ms": ms(pct(trips, 99)),
        "p_basis": "client round trip: start() to result() returned",
        "engine_p50_ms": ms(pct(engine, 50)),
        "engine_p99_ms": ms(pct(engine, 99)),
    }


async def sleep(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    r, d = p["R"], p["D"]
    async with c.runner(), c.client() as client:
        db = Db(c.path)
        t0 = now_us()
        await start_many(client, "sleep", {"d_ms": d * 1000}, r)
        t_started = now_us()
        await db.wait_status("completed", r, c.timeout + d)
        wall_us = db.max_ended() - t0
        late = [
            row[0]
            for row in db.rows(
                "SELECT b.started_at - s.wake_at FROM steps s JOIN steps b"
                " ON b.run_id = s.run_id AND b.step_id = 'b' WHERE s.step_id = 'nap'"
            )
        ]
    wall = wall_us / 1e6
    if len(late) != r:
        raise RuntimeError(f"expected {r} sleep/next-step pairs, found {len(late)}")
    return {
        "wall_s": wall,
        "steps_per_s": 2 * r / wall,
        "runs_per_s": r / wall,
        "p50_ms": ms(pct(late, 50)),
        "p99_ms": ms(pct(late, 99)),
        "p_basis": "wake-up lateness: next step's started_at minus the sleep's wake_at",
        "late_max_ms": ms(max(late)),
        "late_min_ms": ms(min(late)),
        "submit_s": (t_started - t0) / 1e6,
    }


async def event(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    r = p["R"]
    async with c.runner(), c.client() as client:
        db = Db(c.path)
        t0 = now_us()
        await start_many(client, "event", None, r)
        await db.wait_status("waiting", r, c.timeout)
        waiters = db.scalar("SELECT count(*) FROM waiters")
        # the runners' CPU from the send to the last end: with runner processes, each one's;
        # with the runner in this process, this process's (the client's send included)
        pids: list[int | str] = [p.pid for p in c.procs] if c.runners > 0 else ["self"]
        cpu_before = [cpu_s(pid) for pid in pids]
        t_send = t_parked = now_us()
        sent = await client.send(GO_EVENT, {"go": 1})
        await db.wait_status("completed", r, c.timeout)
        cpu_after = [cpu_s(pid) for pid in pids]
        wall_us = db.max_ended() - t_send
        wakes = [
            row[0] for row in db.rows("SELECT s.started_at FROM steps s WHERE s.step_id = 'after'")
        ]
    wall = wall_us / 1e6
    return {
        "wall_s": wall,
        "steps_per_s": r / wall,
        "runs_per_s": r / wall,
        "p50_ms": ms(pct([w - t_send for w in wakes], 50)),
        "p99_ms": ms(pct([w - t_send for w in wakes], 99)),
        "p_basis": "send() to the resumed run's next step starting",
        "resumed": sent.resumed,
        "waiters_before_send": waiters,
        "park_s": (t_parked - t0) / 1e6,
        "runner_cpu_s": [
            None if a is None or b is None else round(b - a, 3)
            for a, b in zip(cpu_before, cpu_after, strict=True)
        ],
    }


async def resume(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    n = p["N"]
    async with c.runner(), c.client() as client:
        db = Db(c.path)
        t0 = now_us()
        handle = await client.start("resume", {"n": n})
        await db.wait_status("waiting", 1, c.timeout)
        t_send = now_us()
        await client.send(GO_EVENT)
        await db.wait_status("completed", 1, c.timeout)
        wall_us = db.max_ended() - t_send
        steps = db.scalar("SELECT count(*) FROM steps WHERE run_id = ?", handle.run_id)
    wall = wall_us / 1e6
    return {
        "wall_s": wall,
        "steps_per_s": n / wall,
        "runs_per_s": None,
        "p50_ms": None,
        "p99_ms": None,
        "basis": "send() to run completed: claim, load the journal, replay N steps, finish",
        "record_s": (t_send - t0) / 1e6,
        "steps_in_journal": steps,
    }


async def parked(c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """R runs parked in a 1h sleep. The runner is a subprocess so its peak RSS is its own."""
    r = p["R"]
    cmd = [
        sys.executable,
        "-m",
        "bench.runner_proc",
        "--db",
        c.url,
        "--concurrency",
        str(c.concurrency),
    ] + (["--sync-steps"] if c.sync_steps else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"runner subprocess did not start: {line!r} rc={proc.poll()}")
        idle_kb = rss_kb(proc.pid, "VmRSS")
        async with c.client() as client:
            db = Db(c.path)
            t0 = now_us()
            await start_many(client, "parked", None, r)
            t_started = now_us()
            await db.wait_status("sleeping", r, c.timeout, poll=0.05)
            t_parked = now_us()
        peak_kb = rss_kb(proc.pid, "VmHWM")
        end_kb = rss_kb(proc.pid, "VmRSS")
        if proc.poll() is not None:
            raise RuntimeError(f"runner subprocess exited early rc={proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    wall = (t_parked - t0) / 1e6
    return {
        "wall_s": wall,
        "steps_per_s": None,
        "runs_per_s": r / wall,
        "p50_ms": None,
        "p99_ms": None,
        "peak_rss_mb": round(peak_kb / 1024, 1) if peak_kb else None,
        "basis": "first start() to all R runs sleeping; peak_rss_mb is the runner subprocess",
        "runners": "1 process (its own)",
        "runner_idle_rss_mb": round(idle_kb / 1024, 1) if idle_kb else None,
        "runner_end_rss_mb": round(end_kb / 1024, 1) if end_kb else None,
        "submit_s": (t_started - t0) / 1e6,
        "db_mb": db_mb(c.path),
    }


WORKLOADS: dict[str, Callable[[Ctx, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "seq": seq,
    "fanout": fanout,
    "parallel": parallel,
    "latency": latency,
    "sleep": sleep,
    "event": event,
    "parked": parked,
    "resume": resume,
}
