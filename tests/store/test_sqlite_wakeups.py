"""Wake-ups between processes on one SQLite file: a commit in another process wakes a waiting
store through its datagram socket, without waiting for the data_version poll."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from durablex.store.notify import Notices
from durablex.store.sqlite import store as sqlite_store
from durablex.store.sqlite.store import SqliteStore
from durablex.store.sqlite.wakeups import (
    MAX_DATAGRAM,
    MAX_NAMED_RUNS,
    Wakeups,
    decode_notices,
    encode_notices,
    socket_dir,
)

from .helpers import APP, claim_one, register, started, step

OTHER_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    from durablex.store.sqlite.store import SqliteStore

    async def main() -> None:
        store = SqliteStore(sys.argv[1], inline=True)
        await store.open()
        try:
            run_id = await store.start_run(sys.argv[2], "wf", None)
            print(run_id, flush=True)
            sys.stdin.readline()  # the test has seen the start
            claimed = await store.claim("other", [sys.argv[2]], 1, 30_000_000)
            await store.complete_run(run_id, claimed[0].fence, b"1")
        finally:
            await store.close()

    asyncio.run(main())
    """
)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A database directory with a short path, and a temporary directory of the same kind for
    the sockets (a Unix socket's path is limited to about 100 bytes)."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="dxw") as path:
        yield Path(path)


async def _wait_for(store: SqliteStore, wanted: str, timeout: float = 20.0) -> Notices:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        notices = await store.wait_for_change(remaining)
        if notices is not None and (
            (wanted == "work" and notices.work_due) or (wanted == "end" and notices.terminal)
        ):
            return notices
    raise AssertionError(f"no {wanted} notice within {timeout} s")


async def test_another_process_commit_wakes_a_waiting_store_without_polling(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = short_tmp / "x.db"
    store = SqliteStore(db, inline=True)
    await store.open()
    other = None
    try:
        await register(store, ("wf", ()))
        assert store._wakeups is not None and store._wakeups.active
        await store.wait_for_change(0)  # the first poll, then none for an hour:
        monkeypatch.setattr(sqlite_store, "POLL_INTERVAL", 3600.0)
        store._next_poll = asyncio.get_running_loop().time() + 3600
        other = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-c", OTHER_PROCESS, str(db), APP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert other.stdout is not None and other.stdin is not None
        started = await _wait_for(store, "work")  # only its datagram can wake us now
        assert started.work_due
        run_id = (await asyncio.to_thread(other.stdout.readline)).strip()
        assert (await store.get_run(run_id)).status == "queued"
        other.stdin.write("go\n")
        other.stdin.flush()
        ended = await _wait_for(store, "end")
        assert run_id in ended.terminal
        assert (await store.get_run(run_id)).status == "completed"
        assert await asyncio.to_thread(other.wait, 20) == 0
    finally:
        if other is not None:
            if other.poll() is None:
                other.kill()
            other.communicate()  # closes its pipes
        await store.close()
    # the last store of this database removed its socket and the database's directory
    assert not socket_dir(db).exists()


async def test_a_client_beside_a_runner_polls_for_other_writers_only(short_tmp: Path) -> None:
    """A client's store on a runner's loop commits through the runner's writer, and everything
    that writer commits is told in this process by notices: its poll must not wake on those
    commits (a step record raises no notice, and a waiter for a run's end would otherwise read
    the run again at every poll while the run steps), yet still wake on another writer's."""
    db = short_tmp / "x.db"
    runner = SqliteStore(db, inline=True)
    client = SqliteStore(db, inline=None)
    await runner.open()
    await client.open()
    try:
        await register(runner, ("wf", ()))
        run_id = await started(client)
        fence = (await claim_one(runner)).fence
        while await client.wait_for_change(0) is not None:
            pass  # what the start and the claim told
        for seq in range(1, 4):
            await runner.record_step(run_id, fence, step(f"s{seq}", seq))
        assert await client.wait_for_change(4 * sqlite_store.POLL_INTERVAL) is None

        def another_writer() -> None:  # no notice, no datagram: only the poll can tell
            with contextlib.closing(sqlite3.connect(db)) as conn, conn:
                conn.execute("UPDATE runs SET due_at = due_at WHERE id = ?", (run_id,))

        await asyncio.to_thread(another_writer)
        told = await client.wait_for_change(5.0)
        assert told is not None and told.work_due
    finally:
        await client.close()
        await runner.close()


async def test_a_socket_left_by_a_dead_process_is_removed_by_the_next_sender(
    short_tmp: Path,
) -> None:
    db = short_tmp / "x.db"
    directory = socket_dir(db)
    store = SqliteStore(db, inline=True)
    await store.open()
    try:
        await register(store, ("wf", ()))
        stale = directory / "999999-deadbeef"  # bound by a process that died without cleaning up
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dead.bind(str(stale))
        dead.close()
        assert stale.exists()
        assert store._wakeups is not None
        store._wakeups._peers_read_at = float("-inf")  # list the peers again at the next send
        await store.start_run(APP, "wf", None)  # a commit with notices for the others
        assert not stale.exists()
        assert os.listdir(directory) == [store._wakeups._name]
    finally:
        await store.close()


async def test_without_a_private_directory_a_store_keeps_polling(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))
    db = short_tmp / "x.db"
    shared = socket_dir(db).parent
    shared.mkdir(mode=0o755)  # readable by others: not ours alone
    os.chmod(shared, 0o755)
    store = SqliteStore(db, inline=True)
    await store.open()
    try:
        assert store._wakeups is not None and not store._wakeups.active
        await register(store, ("wf", ()))
        run_id = await store.start_run(APP, "wf", None)
        assert (await store.get_run(run_id)).status == "queued"
        assert not socket_dir(db).exists()
    finally:
        await store.close()


def test_a_datagram_carries_the_notices_and_anything_else_is_ignored() -> None:
    many = {f"run-{i:04d}" for i in range(MAX_NAMED_RUNS + 5)}
    notices = decode_notices(encode_notices(Notices(work_due=True, terminal=many)))
    assert notices is not None and notices.work_due
    assert len(notices.terminal) == MAX_NAMED_RUNS + 1  # the first hundred, and "more"
    assert decode_notices(encode_notices(Notices(terminal={"r1"}))) == Notices(False, {"r1"})
    for junk in (b"", b"\xff\x00", b"[]", b'{"w": true}', b'{"w": 1, "t": [1, 2]}', b"null"):
        assert decode_notices(junk) is None


def test_a_wakeups_object_that_never_opened_sends_nothing(short_tmp: Path) -> None:
    wakeups = Wakeups(short_tmp / "x.db")
    assert not wakeups.active
    wakeups.send(Notices(work_due=True))  # no socket: nothing happens, nothing raises
    wakeups.close()


async def test_work_is_told_at_once_then_at_most_once_a_window_and_ends_at_once(
    short_tmp: Path,
) -> None:
    """A client's burst of starts must not wake the runner processes once per commit (their
    claims would fight it for the write lock): the first notice goes at once, the rest of the
    window as one; a run's end is told at once."""
    wakeups = Wakeups(short_tmp / "x.db")
    wakeups.open(asyncio.get_running_loop(), lambda _: None)
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # another process's store
    peer.setblocking(False)
    peer.bind(str(wakeups.directory / "1-peer"))
    try:

        def received() -> list[Notices]:
            out = []
            while True:
                try:
                    notices = decode_notices(peer.recv(MAX_DATAGRAM))
                except BlockingIOError:
                    return out
                assert notices is not None
                out.append(notices)

        for _ in range(5):
            wakeups.send(Notices(work_due=True))
        assert received() == [Notices(work_due=True)]  # the first, at once
        later: list[Notices] = []
        for _ in range(200):  # the other four, together, once the window is over
            await asyncio.sleep(0.01)
            later += received()
            if later:
                break
        assert later == [Notices(work_due=True)]
        wakeups.send(Notices(work_due=True))
        wakeups.send(Notices(work_due=True))  # within the window of the one before: held back
        wakeups.send(Notices(terminal={"r1"}))  # an end is not held back
        assert Notices(terminal={"r1"}) in received()
    finally:
        peer.close()
        wakeups.close()
