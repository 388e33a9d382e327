"""SQLite files: foreign, corrupt and newer files are refused unchanged; a database locked by
another process makes writes wait, not fail; the durability URL option."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import durablex
from durablex.store.base import RunFilter, StoreError
from durablex.store.sqlite.connection import SCHEMA_VERSION, connect, migrate, refuse_foreign


def file_state(path: Path) -> bytes:
    return path.read_bytes()


async def test_foreign_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
    conn.commit()
    conn.close()
    before = file_state(path)
    with pytest.raises(StoreError, match="another application") as info:
        async with durablex.AsyncClient(f"sqlite:///{path}") as client:
            await client.list_runs()
    assert str(path) in str(info.value)
    app = durablex.App("a")
    with pytest.raises(StoreError, match="another application"):
        async with durablex.Runner(app, db=f"sqlite:///{path}"):
            pass
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["invoices"]
    assert conn.execute("SELECT total FROM invoices").fetchall() == [(9.5,)]
    conn.close()
    assert file_state(path) == before  # not even the header (journal mode) changed


@pytest.mark.parametrize("content", [b"hello, this is not a database\n" * 50, os.urandom(4096)])
async def test_corrupt_or_non_sqlite_file_gives_a_clear_error(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        async with durablex.AsyncClient(f"sqlite:///{path}") as client:
            await client.list_runs()
    message = str(info.value)
    assert str(path) in message
    assert "not a usable SQLite database" in message or "not a database" in message
    assert path.read_bytes() == content


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    async with durablex.AsyncClient(db) as client:
        assert await client.list_runs() == []
    conn = sqlite3.connect(tmp_path / "x.db")
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer") as info:
        async with durablex.AsyncClient(db) as client:
            await client.list_runs()
    assert "999" in str(info.value)


async def test_schema_created_and_reopened(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/nested/dir/x.db"
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return ctx.data

    async with durablex.AsyncClient(db) as client, durablex.Runner(app, db=db):
        handle = await client.start("wf", 1)
        assert await handle.result(timeout=10) == 1
    assert (tmp_path / "nested" / "dir" / "x.db").exists()
    async with durablex.AsyncClient(db) as client:
        assert (await client.get_run(handle.run_id)).output == 1


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE runners SET heartbeat_at = heartbeat_at")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
conn.execute("COMMIT")
conn.close()
"""


async def test_database_locked_by_another_process_writes_wait(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = f"sqlite:///{path}"
    app = durablex.App("a")

    @app.workflow("wf", on="go")
    async def wf(ctx: durablex.Context) -> Any:
        first = await ctx.step.run("one", lambda: ctx.data)
        await ctx.step.sleep("nap", 5)
        second = await ctx.step.run("two", lambda: first * 2)
        return second

    async with durablex.Runner(app, db=db), durablex.AsyncClient(db) as client:
        warm = await client.send("go", 0)
        await client.handle(warm.run_ids[0]).result(timeout=10)
        marker = tmp_path / "locked"
        locker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCKER, str(path), str(marker), "1.5"
        )
        try:
            deadline = time.monotonic() + 10
            while not marker.exists():
                assert time.monotonic() < deadline, "the locking process did not start"
                await asyncio.sleep(0.01)
            # every write now meets a locked database for about 1.5 s
            sends = await asyncio.gather(*(client.send("go", i) for i in range(1, 11)))
            run_ids = [r for s in sends for r in s.run_ids]
            assert len(run_ids) == 10
            results = [await client.handle(r).result(timeout=20) for r in run_ids]
        finally:
            assert await asyncio.wait_for(locker.wait(), timeout=20) == 0
    assert sorted(results) == [i * 2 for i in range(1, 11)]
    async with durablex.AsyncClient(db) as client:
        assert len(await client.list_runs(status="completed")) == 11
        events = (await client.list_events(name="go")).events
        assert len(events) == 11


@pytest.mark.parametrize("how", ["url", "argument"])
async def test_durability_process_option(tmp_path: Path, how: str) -> None:
    path = tmp_path / "x.db"
    app = durablex.App("a")

    @app.workflow("wf")
    async def wf(ctx: durablex.Context) -> Any:
        return await ctx.step.run("s", lambda: "fast")

    url = f"sqlite:///{path}"
    runner_kwargs: dict[str, Any] = {"db": url + "?durability=process"}
    if how == "argument":
        runner_kwargs = {"db": url, "durability": "process"}
    runner = durablex.Runner(app, **runner_kwargs)
    assert getattr(runner.store, "durability", None) == "process"
    async with runner, durablex.AsyncClient(url + "?durability=full") as client:
        handle = await client.start("wf")
        assert await handle.result(timeout=10) == "fast"
    assert runner.store.url.startswith("sqlite:///")


async def test_default_url_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DURABLEX_DB", raising=False)
    async with durablex.AsyncClient() as client:
        assert await client.list_runs() == []
        assert client.url == "sqlite:///.durablex/durablex.db"
    assert (tmp_path / ".durablex" / "durablex.db").exists()
    monkeypatch.setenv("DURABLEX_DB", f"sqlite:///{tmp_path}/env.db")
    async with durablex.AsyncClient() as client:
        assert await client.list_runs() == []
    assert (tmp_path / "env.db").exists()
    async with durablex.AsyncClient(tmp_path / "pathlike.db") as client:
        assert await client.list_runs() == []
    assert (tmp_path / "pathlike.db").exists()


def test_a_file_migrated_by_another_opener_meanwhile_is_not_taken_for_a_foreign_one(
    tmp_path: Path,
) -> None:
    """Two runners starting on a new file: one migrates it while the other checks whose file
    it is. The check reads the identity, the version and the tables at one instant; read one
    by one, a migration committed between them looked like another application's tables."""
    path = tmp_path / "new.db"
    migrating = connect(path, durability="full")
    opener = sqlite3.connect(path, isolation_level=None)

    def migrate_between_reads(statement: str) -> None:
        if "user_version" in statement and not migrating.in_transaction:
            opener.set_trace_callback(None)
            migrate(migrating, path)

    try:
        opener.set_trace_callback(migrate_between_reads)
        assert refuse_foreign(opener, path) in (0, SCHEMA_VERSION)
        assert refuse_foreign(opener, path) == SCHEMA_VERSION
    finally:
        opener.close()
        migrating.close()


async def test_a_file_of_schema_version_1_is_migrated_with_its_runs_and_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 2 drops two run indexes and rebuilds the events table without AUTOINCREMENT:
    every run and event stays, events keep their order, and new ones come after them."""
    from durablex.store.sqlite import connection

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = durablex.App("a")

    @app.workflow("echo", on="ping")
    async def echo(ctx: durablex.Context) -> Any:
        return await ctx.step.run("s", lambda: ctx.data)

    with monkeypatch.context() as old:
        old.setattr(connection, "MIGRATIONS", connection.MIGRATIONS[:1])
        old.setattr(connection, "SCHEMA_VERSION", 1)
        async with durablex.Runner(app, db=url), durablex.AsyncClient(url) as client:
            started = await client.start("echo", 1)
            sent = await client.send("ping", 2)
            assert await started.result(timeout=15) == 1
            assert await client.handle(sent.run_ids[0]).result(timeout=15) == 2
            before = [e.id for e in (await client.list_events()).events]
    assert len(before) == 2

    async with durablex.Runner(app, db=url), durablex.AsyncClient(url) as client:
        third = await client.send("ping", 3)
        assert await client.handle(third.run_ids[0]).result(timeout=15) == 3
        assert [e.id for e in (await client.list_events()).events] == [third.event_id, *before]
        by_event = await client.list_runs_page(RunFilter(search=sent.event_id))
        assert [r.id for r in by_event.runs] == sent.run_ids
        assert (await client.get_run(started.run_id)).output == 1
    conn = sqlite3.connect(tmp_path / "old.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert not {"runs_event", "runs_lease_owner", "events_v2"} & indexes
        assert "events_name" in indexes
        seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == [1, 2, 3]
    finally:
        conn.close()
