"""A store opened in full durability grows the database's WAL to its working size before the
first commit (``presize_wal``), so that its fsync'd commits rewrite frames instead of extending
the file. Growing it stores nothing, and a crash at any point around it loses no commit."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from durablex.store.sqlite import connection
from durablex.store.sqlite.connection import (
    WAL_AUTOCHECKPOINT_PAGES,
    WAL_PRESIZE_PAGES,
    connect,
    migrate,
    presize_wal,
)
from durablex.store.sqlite.store import SqliteStore


def wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def page_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA page_size").fetchone()[0])


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_a_store_opened_in_full_durability_starts_with_a_wal_of_working_size(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.db"
    store = SqliteStore(path, durability="full")
    await store.open()
    try:
        probe = sqlite3.connect(path)
        assert wal_size(path) >= WAL_PRESIZE_PAGES * page_size(probe)
        assert "durablex_wal_presize" not in tables(probe)
        assert probe.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        probe.close()
    finally:
        await store.close()


def test_commits_rewrite_the_presized_wal_instead_of_growing_it(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = connect(path, durability="full")
    migrate(conn, path)
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    assert presize_wal(conn, path, WAL_PRESIZE_PAGES)
    sized = wal_size(path)
    conn.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, v BLOB)")
    for i in range(3 * WAL_AUTOCHECKPOINT_PAGES):  # three checkpoint cycles and more
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, b"x" * 100))
        conn.execute("COMMIT")
    assert wal_size(path) == sized
    assert conn.execute("SELECT count(*), sum(i) FROM t").fetchone() == (
        3 * WAL_AUTOCHECKPOINT_PAGES,
        sum(range(3 * WAL_AUTOCHECKPOINT_PAGES)),
    )
    assert not presize_wal(conn, path, WAL_PRESIZE_PAGES)  # already that size: nothing to do
    conn.close()


def test_presizing_gives_way_to_a_writer_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    writer = connect(path, durability="full")
    migrate(writer, path)
    writer.execute("CREATE TABLE t (i INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    other = connect(path, durability="full", busy_timeout_ms=0)
    before = wal_size(path)
    assert not presize_wal(other, path, WAL_PRESIZE_PAGES)
    assert wal_size(path) == before
    writer.execute("COMMIT")
    assert other.execute("SELECT i FROM t").fetchall() == [(1,)]
    assert other.execute("PRAGMA cache_size").fetchone() == (-32000,)


CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from durablex.store.sqlite.connection import connect, migrate, presize_wal

    path, after = Path(sys.argv[1]), int(sys.argv[2])
    conn = connect(path, durability="full")
    migrate(conn, path)
    conn.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, v BLOB)")
    for i in range(10):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, os.urandom(3000)))
        conn.execute("COMMIT")
    assert presize_wal(conn, path, 512)
    for i in range(10, 10 + after):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, os.urandom(3000)))
        conn.execute("COMMIT")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("after", [0, 1, 7])
def test_a_crash_around_presizing_loses_no_commit_and_recovers_no_filler(
    tmp_path: Path, after: int
) -> None:
    # The rolled-back filler frames lie in the WAL right after the committed ones (after=0),
    # or behind commits that rewrote the first of them (after>0); recovery must take exactly
    # the committed frames.
    path = tmp_path / "crash.db"
    proc = subprocess.run([sys.executable, "-c", CRASHER, str(path), str(after)], check=False)
    assert proc.returncode == -9
    assert wal_size(path) > 512 * 4096  # the process died with its WAL not checkpointed
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*), min(i), max(i) FROM t").fetchone() == (
        10 + after,
        0,
        9 + after,
    )
    assert "durablex_wal_presize" not in tables(conn)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_disk_without_ample_room_keeps_it_for_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tight.db"
    conn = connect(path, durability="full")
    migrate(conn, path)
    free = shutil.disk_usage(tmp_path).free
    # as if the disk had less than PRESIZE_ROOM_FACTOR times the WAL's size free
    monkeypatch.setattr(connection, "PRESIZE_ROOM_FACTOR", free // (64 * 4096) + 1)
    before = wal_size(path)
    assert not presize_wal(conn, path, 64)
    assert wal_size(path) == before
