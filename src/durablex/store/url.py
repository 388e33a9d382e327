"""Database URLs: which store a ``db=`` argument, ``--db`` or ``DURABLEX_DB`` names."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

from durablex.core.clock import Clock
from durablex.store.base import Store
from durablex.store.sqlite.connection import DURABILITY_MODES, check_durability
from durablex.store.sqlite.store import SqliteStore

DEFAULT_URL = "sqlite:///.durablex/durablex.db"
ACCEPTED = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "or postgresql://user:pass@host:port/db"
)


def default_url() -> str:
    return os.environ.get("DURABLEX_DB") or DEFAULT_URL


def resolve_url(db: object) -> str:
    if db is None:
        return default_url()
    if isinstance(db, os.PathLike):
        return f"sqlite:///{os.fspath(db)}"
    if not isinstance(db, str):
        raise TypeError(f"db must be a database URL string, got {type(db).__name__} {db!r}")
    if not db.strip():
        raise ValueError(f"db must be a database URL ({ACCEPTED}), got {db!r}")
    return db


def open_store(
    db: object = None,
    *,
    clock: Clock | None = None,
    inline: bool | None = True,
    durability: str | None = None,
) -> Store:
    """Build the store a URL names (not yet opened)."""
    url = resolve_url(db)
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        return _open_postgres(url, clock=clock, durability=durability)
    query = parse_qs(parts.query)
    unknown = set(query) - {"durability"}
    if unknown:
        raise ValueError(
            f"unknown database URL option(s) {', '.join(sorted(unknown))} in {url!r}; "
            f"accepted: durability={'|'.join(DURABILITY_MODES)}"
        )
    mode = durability or (query.get("durability") or ["full"])[0]
    check_durability(mode)
    if parts.scheme == "sqlite":
        if parts.netloc:
            raise ValueError(
                f"invalid SQLite URL {url!r}: use three slashes for a relative path "
                "(sqlite:///data/app.db) or four for an absolute one (sqlite:////var/app.db)"
            )
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path:
            raise ValueError(f"invalid SQLite URL {url!r}: no file path ({ACCEPTED})")
        return SqliteStore(path, durability=mode, clock=clock, inline=inline, url=url)
    raise ValueError(f"unsupported database URL {url!r}: expected {ACCEPTED}")


def _open_postgres(url: str, *, clock: Clock | None, durability: str | None) -> Store:
    # imported here: a SQLite-only installation needs no PostgreSQL driver
    from durablex.store.postgres.connection import parse_url, require_driver

    query = parse_qs(urlsplit(url).query)
    mode = check_durability(durability or (query.get("durability") or ["full"])[0])
    config = parse_url(url, mode)
    require_driver()
    from durablex.store.postgres.store import PostgresStore

    return PostgresStore(config, clock=clock)
