"""Opening a Durablex SQLite file: pragmas, identity checks and versioned migrations."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import cast

from durablex.store.base import StoreError

# "DXLX": marks a file as a Durablex database, so a foreign SQLite file is refused, not altered.
APPLICATION_ID = 0x44584C58
DURABILITY_MODES = ("full", "process")
# A short WAL is rewritten in place instead of grown: an fsync that does not extend the file is
# cheaper. Measured (docs/design.md): sequential steps 0.72 -> 0.86 x the raw commit rate,
# fanout 24k -> 23k steps/s, against SQLite's default of 1000 pages.
WAL_AUTOCHECKPOINT_PAGES = 256
# A new or reopened database's WAL is grown to this many pages at once, before its first commit
# (presize_wal): the fsync'd commits before the first checkpoint would each extend the file.
# Measured (docs/performance.md, "A WAL of its full size from the start"): seq 1.13x in eight
# alternating pairs on a new file.
WAL_PRESIZE_PAGES = 4 * WAL_AUTOCHECKPOINT_PAGES
# presize_wal leaves a disk alone unless it has this many times the WAL's size free
PRESIZE_ROOM_FACTOR = 16


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("durablex.store.sqlite") / "migrations"
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


MIGRATIONS = _migrations()
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _bind_none_and_bytes_directly() -> None:
    """Give ``None`` and ``bytes`` an adapter that returns the value itself, unless the program
    registered its own. Python's ``sqlite3`` binds ints, floats and strs at once, but looks for
    a way to adapt any other value before binding it, and failing to find one for ``None`` or
    ``bytes`` cost about 0.6 us a value here, where a registered adapter costs a dict lookup
    and a C call: a step record (14 values, most of them NULLs or JSON bytes) went from 11 to
    4-7 us a row (docs/performance.md). Values are bound exactly as before."""
    if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
        returns_none = cast("Callable[[None], None]", {}.get)  # a C function, unlike a lambda
        sqlite3.register_adapter(type(None), returns_none)
    if (bytes, sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(bytes, bytes)  # returns the same object (CPython)


_bind_none_and_bytes_directly()


def check_durability(value: object) -> str:
    if value not in DURABILITY_MODES:
        raise ValueError(
            f"durability must be one of {', '.join(map(repr, DURABILITY_MODES))}, got {value!r}"
        )
    return str(value)


def connect(path: Path, *, durability: str, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with Durablex's pragmas."""
    try:
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot open the SQLite database {str(path)!r}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # before anything that writes: switching to WAL alone changes a foreign file's header
        refuse_foreign(conn, path)
        mode = _switch_to_wal(conn, busy_timeout_ms / 1000)
        if str(mode).lower() != "wal" and str(path) != ":memory:":
            raise StoreError(f"cannot switch {str(path)!r} to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = " + ("FULL" if durability == "full" else "NORMAL"))
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32000")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{str(path)!r} is not a usable SQLite database ({exc}); "
            "point DURABLEX_DB or --db at a Durablex database file or a new path"
        ) from exc
    except StoreError:
        conn.close()
        raise
    return conn


def refuse_foreign(conn: sqlite3.Connection, path: Path) -> int:
    """Raise StoreError if the file is another application's database; return user_version.

    One statement reads all three at one instant: read one by one, a migration committed by
    another opener between them (runners starting together on a new file) showed its tables
    without its application id."""
    app_id, version, tables = conn.execute(
        "SELECT (SELECT application_id FROM pragma_application_id),"
        " (SELECT user_version FROM pragma_user_version),"
        " (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%')"
    ).fetchone()
    version = int(version)
    if app_id != APPLICATION_ID and (tables or version):
        raise StoreError(
            f"{str(path)!r} is a SQLite database of another application "
            f"(application_id={app_id}, {tables} tables); Durablex will not change it"
        )
    return version


def _switch_to_wal(conn: sqlite3.Connection, patience: float) -> str:
    """Put the file in WAL mode, waiting for other openers: SQLite answers "database is
    locked" at once, without its busy handler, while another connection is switching a new
    file or holds it, so several runners starting together on a new file must take turns."""
    mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    deadline = time.monotonic() + patience
    while mode.lower() != "wal":
        try:
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    return mode


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION; refuse foreign files and newer schemas."""
    deadline = time.monotonic() + 30
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreError(f"cannot lock {str(path)!r} to migrate it: {exc}") from exc
            time.sleep(0.05)
    try:
        version = refuse_foreign(conn, path)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{str(path)!r} has schema version {version}, newer than this Durablex "
                f"({SCHEMA_VERSION}); upgrade durablex"
            )
        for number, script in MIGRATIONS:
            if number > version:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def set_up_wal(conn: sqlite3.Connection, path: Path, durability: str) -> None:
    """The WAL set-up of a store's writer: a checkpoint every WAL_AUTOCHECKPOINT_PAGES, and in
    full durability (an fsync per commit) the WAL grown to WAL_PRESIZE_PAGES first."""
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    if durability == "full":
        presize_wal(conn, path, WAL_PRESIZE_PAGES)


def presize_wal(conn: sqlite3.Connection, path: Path, pages: int) -> bool:
    """Grow a short WAL file to about ``pages`` frames without storing anything; True if it grew.

    An fsync'd commit that extends the WAL file costs the file system a journal commit for the
    new size as well; one that rewrites frames the file already has costs only its data. SQLite
    rewrites its WAL from the start after each complete checkpoint and keeps the file's size,
    but a new or reopened database starts with an empty WAL, and its first commits grow it.
    Here a transaction larger than a tiny page cache spills its pages into the WAL as frames
    and is then rolled back: the file keeps its size and the frames are never part of a commit
    (SQLite's frame checksums and salts make recovery stop before them).
    """
    if str(path) == ":memory:":
        return False
    wal = Path(f"{path}-wal")
    size = pages * int(conn.execute("PRAGMA page_size").fetchone()[0])
    if wal.exists() and wal.stat().st_size >= size:
        return False
    if shutil.disk_usage(wal.parent).free < PRESIZE_ROOM_FACTOR * size:
        return False  # a disk nearly full keeps its room for commits
    cache_size = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False  # another connection is writing: its commits size the WAL anyway
    try:
        conn.execute("PRAGMA cache_size = 4")
        conn.execute("CREATE TABLE durablex_wal_presize (filler BLOB)")
        conn.execute("INSERT INTO durablex_wal_presize VALUES (zeroblob(?))", (size,))
    except sqlite3.Error:
        return False  # no room for it (a full disk): the commits grow the WAL as they need
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute(f"PRAGMA cache_size = {cache_size}")
    return True
