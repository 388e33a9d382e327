"""Three runner processes, one PostgreSQL: crashes, pinning and a server restart lose nothing.

Each test starts real runner processes (``worker_app.py``) on a fresh schema, starts runs of a
workflow with steps, parallel steps, a sleep, a child run (some pinned to one runner), a wait
for an event and an emit, feeds the waits their events, and checks the database and the log of
step executions afterwards.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg
import pytest

import durablex

from .harness import Cluster, restart_server
from .worker_app import PINNED

RUNNERS = ("runner-0", "runner-1", "runner-2")
COMPLETION_TIMEOUT = 200.0


async def _query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """A query on the test's schema, riding out a restart of the server."""
    base, schema = url.rsplit("?schema=", 1)
    for _ in range(100):
        try:
            async with await psycopg.AsyncConnection.connect(base, autocommit=True) as conn:
                await conn.execute("SELECT set_config('search_path', %s, false)", (schema,))
                cur = await conn.execute(sql, params)
                return list(await cur.fetchall())
        except psycopg.OperationalError:
            await asyncio.sleep(0.2)
    raise AssertionError("the database stayed unreachable")


async def _wait_registered(cluster: Cluster, names: tuple[str, ...]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            rows = await _query(cluster.url, "SELECT name FROM runners WHERE stopped_at IS NULL")
        except psycopg.errors.UndefinedTable:
            rows = []
        if {r[0] for r in rows} >= set(names):
            return
        dead = [n for n in names if n not in cluster.alive()]
        assert not dead, f"runner(s) {dead} exited early\n{cluster.logs()}"
        await asyncio.sleep(0.1)
    raise AssertionError(f"runners did not register\n{cluster.logs()}")


async def _drive(
    cluster: Cluster,
    client: durablex.AsyncClient,
    total: int,
    midway: Callable[[], Awaitable[None]],
) -> None:
    """Send each run its "go" event once its wait is recorded; call ``midway`` at half."""
    delivered: set[str] = set()
    sends = collections.Counter[str]()
    halfway_done = False
    deadline = time.monotonic() + COMPLETION_TIMEOUT
    while True:
        done = (
            await _query(
                cluster.url,
                "SELECT count(*) FROM runs WHERE workflow = 'mixed' AND status = 'completed'",
            )
        )[0][0]
        if done >= total:
            return
        if not halfway_done and done >= total // 2:
            halfway_done = True
            await midway()
        waiting = await _query(
            cluster.url,
            "SELECT r.id, r.input FROM runs r JOIN steps s ON s.run_id = r.id"
            " WHERE r.workflow = 'mixed' AND s.step_id = 'go' AND s.status = 'waiting'",
        )
        for run_id, payload in waiting:
            if not halfway_done and len(delivered) >= total // 2:
                break  # the rest wait for midway: completions cannot jump past half before it
            if run_id in delivered:
                continue
            n = orjson.loads(payload)["n"]
            sends[run_id] += 1
            result = await client.send("go", {"n": n}, id=f"go-{n}-{sends[run_id]}")
            if result.resumed:
                delivered.add(run_id)
        assert time.monotonic() < deadline, (
            f"only {done}/{total} runs completed after {COMPLETION_TIMEOUT}s\n{cluster.logs()}"
        )
        assert len(cluster.alive()) >= 2, f"a runner died\n{cluster.logs()}"
        await asyncio.sleep(0.1)


async def _check(cluster: Cluster, total: int, *, duplicates_from: set[str]) -> None:
    url = cluster.url
    runs = await _query(
        url, "SELECT id, status, output, last_runner FROM runs WHERE workflow = 'mixed'"
    )
    assert len(runs) == total
    outputs = {}
    for run_id, status, output, _ in runs:
        assert status == "completed", (run_id, status)
        outputs[run_id] = orjson.loads(output)
    for out in outputs.values():
        n = out["n"]
        assert out == {"n": n, "kid": 2 * n, "got": {"n": n}, "sum": 3 * n + 3}

    # exactly one child per run, and exactly one emitted event per run
    kids = await _query(
        url,
        "SELECT parent_run_id, count(*), min(status), max(status), max(last_runner),"
        " (array_agg(input))[1] FROM runs WHERE workflow = 'kid' GROUP BY parent_run_id",
    )
    assert len(kids) == total and all(k[1] == 1 for k in kids)
    assert all(k[2] == k[3] == "completed" for k in kids)
    emitted = await _query(
        url, "SELECT source_run_id, count(*) FROM events WHERE name = 'done' GROUP BY 1"
    )
    assert len(emitted) == total and all(e[1] == 1 for e in emitted)

    # runner pinning held across processes: pinned children ran on the pinned runner only
    pinned = [k for k in kids if orjson.loads(k[5])["n"] % 10 == 0]
    assert pinned and all(k[4] == PINNED for k in pinned), [k[4] for k in pinned][:10]

    # no completed step body ran twice, except across the death of a killed runner
    executions = cluster.executions()
    steps = await _query(url, "SELECT run_id, step_id FROM steps WHERE kind = 'run'")
    assert len(steps) == total * 5  # a, b, c, d and the child's k
    repeated = {
        key: who
        for key, who in executions.items()
        if len(who) > 1 and not (set(who[:-1]) <= duplicates_from)
    }
    assert not repeated, f"{len(repeated)} step bodies ran twice: {list(repeated.items())[:5]}"
    assert {(r, s) for r, s in steps} == set(executions)

    # every runner did part of the work
    finishers = collections.Counter(r[3] for r in runs) + collections.Counter(k[4] for k in kids)
    assert set(finishers) >= set(RUNNERS), finishers
    workers = collections.Counter(w for who in executions.values() for w in who)
    assert set(workers) == set(RUNNERS), workers


async def _scenario(
    cluster: Cluster, total: int, midway: Callable[[], Awaitable[None]], duplicates: set[str]
) -> None:
    for name in RUNNERS:
        cluster.start(name)
    await _wait_registered(cluster, RUNNERS)
    async with durablex.AsyncClient(cluster.url) as client:
        for start in range(0, total, 100):
            await asyncio.gather(
                *(client.start("mixed", {"n": n}) for n in range(start, min(start + 100, total)))
            )
        await _drive(cluster, client, total, midway)
    await _check(cluster, total, duplicates_from=duplicates)


@pytest.mark.timeout(300)
async def test_three_runners_share_the_work_and_survive_a_sigkill(cluster: Cluster) -> None:
    async def kill_one() -> None:
        cluster.kill("runner-0")

    await _scenario(cluster, 1000, kill_one, {"runner-0"})
    assert cluster.alive() == ["runner-1", "runner-2"]
    # runs the killed runner had started were finished by the others
    started_by_0 = {run for (run, _), who in cluster.executions().items() if "runner-0" in who}
    finished = await _query(cluster.url, "SELECT id, last_runner FROM runs")
    assert any(run in started_by_0 and last != "runner-0" for run, last in finished)


@pytest.mark.timeout(300)
async def test_runners_ride_out_a_restart_of_the_server(cluster: Cluster) -> None:
    base = cluster.url.rsplit("?schema=", 1)[0]

    def server_started_at() -> Any:
        with psycopg.connect(base, connect_timeout=10) as conn:
            row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
            assert row is not None
            return row[0]

    before = await asyncio.to_thread(server_started_at)

    async def restart() -> None:
        await asyncio.to_thread(restart_server, base)

    await _scenario(cluster, 300, restart, set())
    assert sorted(cluster.alive()) == list(RUNNERS)
    # the server really restarted in the middle (every connection it had was cut), and the
    # runners, still the same processes, finished every run afterwards (checked by _scenario).
    # Whether a runner logs the cut depends on whether it was mid-query: not asserted.
    assert await asyncio.to_thread(server_started_at) > before
