"""Opening a new SQLite file while another process holds it (runners started together)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from durablex.store.base import StoreError
from durablex.store.sqlite.connection import connect


def hold(path: Path) -> sqlite3.Connection:
    """Another connection in a write transaction on the new file, still in rollback-journal
    mode: no one can switch it to WAL until it lets go."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_opening_waits_while_another_connection_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    other = hold(path)
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    conn = connect(path, durability="full")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
        other.close()


def test_a_file_held_past_the_busy_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    other = hold(path)
    try:
        with pytest.raises(StoreError, match="database is locked"):
            connect(path, durability="full", busy_timeout_ms=200)
    finally:
        other.close()
