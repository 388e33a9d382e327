"""Durablex registers pass-through ``sqlite3`` adapters for ``None`` and ``bytes`` (binding is
faster with one): a program's own use of ``sqlite3`` binds the same values as without it, and
an adapter the program registered first is kept."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import durablex.store.sqlite.connection  # noqa: F401  (registers the adapters)


def test_none_and_bytes_bind_as_null_and_blob_beside_durablex() -> None:
    conn = sqlite3.connect(":memory:")
    payload = bytes(range(256))
    row = conn.execute("SELECT ?, typeof(?), ?, typeof(?)", (None, None, payload, payload))
    assert row.fetchone() == (None, "null", payload, "blob")

    class Tagged(bytes):
        pass

    assert conn.execute("SELECT typeof(?)", (Tagged(b"x"),)).fetchone() == ("blob",)


def test_an_adapter_the_program_registered_first_is_kept() -> None:
    script = (
        "import sqlite3\n"
        "sqlite3.register_adapter(bytes, lambda b: b.hex())\n"
        "import durablex.store.sqlite.connection\n"
        "print(sqlite3.connect(':memory:').execute('SELECT ?', (b'\\x01\\xff',)).fetchone()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "01ff"
