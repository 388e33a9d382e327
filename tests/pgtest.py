"""PostgreSQL for tests: the server named by DURABLEX_TEST_PG_URL, one fresh schema per test.

Tests parametrized over ``postgres`` FAIL (never skip) when no server is reachable: CI always
has one (``scripts/postgres`` starts it), and a silently skipped backend is an untested one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

DEFAULT_URL = "postgresql://durablex:durablex@127.0.0.1:5432/durablex"
_checked: dict[str, str] = {}


def server_url() -> str:
    """The test server's URL; fails the test with instructions when it is unreachable."""
    url = os.environ.get("DURABLEX_TEST_PG_URL") or DEFAULT_URL
    if url in _checked:
        if _checked[url]:
            pytest.fail(_checked[url], pytrace=False)
        return url
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        _checked[url] = ""
    except psycopg.Error as exc:
        source = "DURABLEX_TEST_PG_URL" if os.environ.get("DURABLEX_TEST_PG_URL") else "default"
        _checked[url] = (
            f"PostgreSQL tests need a server, and {url!r} ({source}) is unreachable: {exc}\n"
            "Start one with `bash scripts/postgres` (as root: installs and starts Debian's "
            "PostgreSQL) and export DURABLEX_TEST_PG_URL=<the URL it prints>."
        )
        pytest.fail(_checked[url], pytrace=False)
    return url


def with_schema(url: str, schema: str) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}schema={schema}"


@contextlib.contextmanager
def fresh_database(prefix: str = "t") -> Iterator[str]:
    """A URL naming a new, empty schema (Durablex creates its tables there); dropped after."""
    base = server_url()
    schema = f"{prefix}_{secrets.token_hex(6)}"
    try:
        yield with_schema(base, schema)
    finally:
        drop_schema(base, schema)


def drop_schema(base: str, schema: str) -> None:
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SET lock_timeout = '5s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.Error:
        pass  # a test that left a connection holding locks; the schema is unique anyway
