"""Runs kept in memory through short sleeps ("held"): shown as sleeping, continued without a
replay, outside the runner's concurrency, cancellable, handed over on stop and after a crash."""

from __future__ import annotations

import asyncio
import os
import runpy
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import durablex
from durablex.runner.runner import BRIEF_COMMITS_US, WAKE_CLAIM_LIMIT
from durablex.runtime.holds import HOLD_GRACE_SHARED_US, HOLD_GRACE_US, Holds

from .support import eventually, steps_by_id, wait_status


def counting_app(passes: list[str], nap: object = "1s") -> durablex.App:
    """A workflow that notes every pass (code outside steps runs again on each replay)."""
    app = durablex.App("holds")

    @app.workflow("nap")
    async def nap_wf(ctx: durablex.Context) -> Any:
        passes.append(ctx.run_id)
        a = await ctx.step.run("a", lambda: 1)
        await ctx.step.sleep("nap", nap)
        return a + await ctx.step.run("b", lambda: 1)

    return app


async def test_a_short_sleep_is_held_shown_sleeping_and_continued_without_a_replay(
    db: str,
) -> None:
    passes: list[str] = []
    async with (
        durablex.Runner(counting_app(passes), db=db) as runner,
        durablex.AsyncClient(db) as client,
    ):
        handle = await client.start("nap")
        await wait_status(client, handle.run_id, "sleeping")
        assert runner.held_runs == 1 and runner.active_runs == 1
        run = await client.get_run(handle.run_id)
        assert steps_by_id(run)["nap"].status == "sleeping"
        assert await handle.result(timeout=20) == 2
        assert runner.held_runs == 0
        run = await client.get_run(handle.run_id)
    assert passes == [handle.run_id]  # one pass: the workflow was not called again
    assert [(s.id, s.status) for s in run.steps] == [
        ("a", "completed"),
        ("nap", "completed"),
        ("b", "completed"),
    ]


async def test_with_hold_0_a_sleep_parks_and_the_run_is_replayed(db: str) -> None:
    passes: list[str] = []
    async with (
        durablex.Runner(counting_app(passes, nap="300ms"), db=db, hold=0),
        durablex.AsyncClient(db) as client,
    ):
        handle = await client.start("nap")
        assert await handle.result(timeout=20) == 2
    assert passes == [handle.run_id, handle.run_id]


async def test_held_runs_leave_their_concurrency_slot_to_other_runs(db: str) -> None:
    passes: list[str] = []
    async with (
        durablex.Runner(counting_app(passes, nap="3s"), db=db, concurrency=1) as runner,
        durablex.AsyncClient(db) as client,
    ):
        handles = [await client.start("nap") for _ in range(3)]
        # all three sleep at once in memory, although one run at a time may execute
        await eventually(lambda: _value(runner.held_runs == 3), what="three held runs")
        assert [await h.result(timeout=30) for h in handles] == [2, 2, 2]
    assert sorted(passes) == sorted(h.run_id for h in handles)


async def test_a_held_run_can_be_cancelled(db: str) -> None:
    passes: list[str] = []
    async with (
        durablex.Runner(counting_app(passes, nap="3s"), db=db) as runner,
        durablex.AsyncClient(db) as client,
    ):
        handle = await client.start("nap")
        await eventually(lambda: _value(runner.held_runs == 1), what="a held run")
        await client.cancel(handle.run_id)
        with pytest.raises(durablex.RunCancelledError):
            await handle.result(timeout=10)
        await eventually(lambda: _value(runner.active_runs == 0), what="the pass to end")
        assert runner.held_runs == 0
        run = await client.get_run(handle.run_id)
    assert "b" not in steps_by_id(run)


async def test_a_stopping_runner_hands_its_held_runs_to_another(db: str) -> None:
    passes: list[str] = []
    app = counting_app(passes, nap="2s")
    async with durablex.AsyncClient(db) as client:
        async with durablex.Runner(app, db=db, name="first") as first:
            handle = await client.start("nap")
            await eventually(lambda: _value(first.held_runs == 1), what="a held run")
        # released at once on stop, not kept until its wake-up
        assert await handle.status() == "queued"
        async with durablex.Runner(app, db=db, name="second"):
            assert await handle.result(timeout=20) == 2
        run = await client.get_run(handle.run_id)
    assert run.runner == "second" and passes == [handle.run_id, handle.run_id]


CRASH_APP = textwrap.dedent(
    """
    import os
    import durablex

    app = durablex.App("held-crash")

    def mark(step):
        with open(os.environ["EFFECTS"], "a") as fh:
            fh.write(step + "\\n")
        return step

    @app.workflow("nap")
    async def nap(ctx):
        await ctx.step.run("a", lambda: mark("a"))
        await ctx.step.sleep("nap", "1s")
        return await ctx.step.run("b", lambda: mark("b"))
    """
)


async def test_a_held_run_of_a_killed_runner_continues_on_another(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_file = tmp_path / "held_crash.py"
    app_file.write_text(CRASH_APP)
    effects = tmp_path / "effects.txt"
    cmd = [sys.executable, "-m", "durablex", "runner", f"{app_file}:app", "--db", db]
    cmd += ["--name", "doomed", "--lease", "30s"]
    env = {**os.environ, "EFFECTS": str(effects)}
    with subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL) as proc:  # noqa: ASYNC220
        try:
            async with durablex.AsyncClient(db) as client:
                await eventually(lambda: _registered(client), what="the runner to register")
                handle = await client.start("nap", app="held-crash")
                await wait_status(client, handle.run_id, "sleeping")
                run = await client.get_run(handle.run_id)
                assert run.runner == "doomed"
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                # the lease was 30 s, but a held run's lease ends with its wake-up (plus a
                # grace): another runner continues it long before 30 s
                monkeypatch.setenv("EFFECTS", str(effects))
                heir_app = runpy.run_path(str(app_file))["app"]
                async with durablex.Runner(heir_app, db=db, name="heir"):
                    assert await handle.result(timeout=15) == "b"
                run = await client.get_run(handle.run_id)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert run.runner == "heir"
    assert effects.read_text().split() == ["a", "b"]  # "a" never ran again


async def _registered(client: durablex.AsyncClient) -> bool:
    return any(app.name == "held-crash" and app.runners for app in await client.list_apps())


async def _value(value: bool) -> bool:
    return value


async def test_beside_another_runner_runs_are_held_only_where_the_store_allows_it(
    db: str, backend: str
) -> None:
    """SQLite: held (its transactions are short, a resume commits within the grace). PostgreSQL:
    parked and replayed, as a resume could wait in a busy committer past the grace."""
    beside_others = backend == "sqlite"
    passes: list[str] = []
    app = counting_app(passes, nap="500ms")
    async with (
        durablex.Runner(app, db=db, name="one") as one,
        durablex.Runner(app, db=db, name="two") as two,
        durablex.AsyncClient(db) as client,
    ):
        handle = await client.start("nap")
        await wait_status(client, handle.run_id, "sleeping")
        assert one.held_runs + two.held_runs == (1 if beside_others else 0)
        assert await handle.result(timeout=20) == 2
    assert passes == [handle.run_id] * (1 if beside_others else 2)  # a replay when parked


async def test_beside_another_live_runner_a_killed_runners_sleeping_run_continues_on_it(
    db: str, backend: str, tmp_path: Path
) -> None:
    """SQLite: the run was held, and the other runner takes it over only HOLD_GRACE_SHARED_US
    after its wake-up (not after the 1 s of a runner alone, which a busy runner could miss),
    well before the 30 s lease. PostgreSQL: the run was parked, and continues at its wake-up."""
    app_file = tmp_path / "held_crash.py"
    app_file.write_text(CRASH_APP)
    effects = tmp_path / "effects.txt"
    env = {**os.environ, "EFFECTS": str(effects)}

    def runner(name: str) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "durablex", "runner", f"{app_file}:app", "--db", db]
        cmd += ["--name", name, "--lease", "30s"]
        return subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)

    heir = runner("heir")
    doomed: subprocess.Popen[bytes] | None = None
    try:
        async with durablex.AsyncClient(db) as client:
            await eventually(lambda: _registered(client), what="the heir to register")
            heir.send_signal(signal.SIGSTOP)  # live (its heartbeat is recent) but claims nothing
            doomed = runner("doomed")
            await eventually(lambda: _runners(client, 2), what="the second runner")
            handle = await client.start("nap", app="held-crash")
            await wait_status(client, handle.run_id, "sleeping")
            slept = steps_by_id(await client.get_run(handle.run_id))["nap"]
            assert slept.wake_at is not None
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
            heir.send_signal(signal.SIGCONT)
            assert await handle.result(timeout=30) == "b"
            run = await client.get_run(handle.run_id)
    finally:
        for proc in (heir, doomed):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(10)
    assert run.runner == "heir"
    assert effects.read_text().split() == ["a", "b"]  # "a" never ran again
    resumed = steps_by_id(run)["b"].started_at
    assert resumed is not None
    late = (resumed - slept.wake_at).total_seconds()
    if backend == "sqlite":
        assert late >= HOLD_GRACE_SHARED_US / 1e6
    else:
        assert late < HOLD_GRACE_SHARED_US / 1e6


async def _runners(client: durablex.AsyncClient, n: int) -> bool:
    apps = [app for app in await client.list_apps() if app.name == "held-crash"]
    return bool(apps) and len(apps[0].runners) >= n


def wake_guard_app() -> durablex.App:
    app = durablex.App("guard")

    @app.workflow("nap")
    async def nap_wf(ctx: durablex.Context) -> Any:
        await ctx.step.run("a", lambda: 1)
        await ctx.step.sleep("nap", ctx.event.data["ms"])
        return await ctx.step.run("b", lambda: 1)

    @app.workflow("quick")
    async def quick_wf(ctx: durablex.Context) -> Any:
        return await ctx.step.run("a", lambda: 1)

    return app


async def test_runs_are_claimed_a_few_at_a_time_while_held_runs_are_about_to_wake(
    db: str,
) -> None:
    """A claim starts the first steps of all its runs in one turn of the loop; while held runs
    wake within the guard, claims stay small so that the wake-ups need not wait for them."""
    async with (
        durablex.Runner(wake_guard_app(), db=db) as runner,
        durablex.AsyncClient(db) as client,
    ):
        # held runs waking every 100 ms from 0.2 s to 3.2 s: a wake-up is always near
        naps = await asyncio.gather(
            *(client.start("nap", {"ms": 200 + 100 * i}) for i in range(31))
        )
        await eventually(lambda: _value(runner.held_runs >= 20), what="20 held runs")
        quick = await asyncio.gather(*(client.start("quick") for _ in range(200)))
        assert [await h.result(timeout=30) for h in quick] == [1] * 200
        claims = Counter([(await client.get_run(h.run_id)).started_at for h in quick])
        assert [await h.result(timeout=30) for h in naps] == [1] * 31
    assert max(claims.values()) <= WAKE_CLAIM_LIMIT, claims.most_common(3)


async def test_the_runner_asks_for_brief_commits_only_while_a_held_run_is_about_to_wake(
    db: str,
) -> None:
    passes: list[str] = []
    async with (
        durablex.Runner(counting_app(passes, nap="1s"), db=db) as runner,
        durablex.AsyncClient(db) as client,
    ):
        assert not runner._wakeup_near()  # nothing held
        handle = await client.start("nap")
        await eventually(lambda: _value(runner.held_runs == 1), what="the run held")
        seen = []  # (µs before the wake-up, brief commits asked for?) while it is held
        due = runner._holds.next_due_us()
        assert due is not None
        while runner.held_runs:
            brief = runner._wakeup_near()
            seen.append((due - runner.clock.now_us(), brief))
            await asyncio.sleep(0.001)
        assert await handle.result(timeout=10) == 2
    assert seen[0][0] > BRIEF_COMMITS_US and not seen[0][1]
    assert all(left <= BRIEF_COMMITS_US for left, brief in seen if brief), seen
    assert all(brief for left, brief in seen if left < BRIEF_COMMITS_US - 1000), seen
    assert any(brief for _, brief in seen), seen


def test_holds_know_the_earliest_wake_up_of_the_runs_they_hold() -> None:
    released: list[int] = []
    holds = Holds(5_000_000, limit=3, on_release=lambda: released.append(1))
    assert holds.next_due_us() is None
    assert holds.take("a", 300) and holds.take("b", 100) and holds.take("c", 200)
    assert not holds.take("d", 50)  # over the limit: not held, not counted
    assert holds.next_due_us() == 100 and len(released) == 3
    holds.give("b")
    assert holds.next_due_us() == 200
    holds.give("c")
    assert holds.take("c", 400)  # held again, for a later sleep
    assert holds.next_due_us() == 300
    holds.give("a")
    holds.give("c")
    assert holds.next_due_us() is None and not holds.run_ids
    assert holds.grace_us == HOLD_GRACE_US
    holds.alone = False  # another runner serves the app: a held run's lease lasts longer
    assert holds.grace_us == HOLD_GRACE_SHARED_US > HOLD_GRACE_US
    assert holds.take("e", 10)
    holds.beside_others = False  # a store that holds only alone (PostgreSQL)
    assert not holds.take("f", 10)
