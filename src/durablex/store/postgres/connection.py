"""Reaching a PostgreSQL database: URL options, sessions, and versioned migrations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from durablex.store.base import StoreError

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installation
    psycopg = None  # type: ignore[assignment]

# Options of a postgresql:// URL that Durablex reads itself; libpq reads the others.
OWN_OPTIONS = ("durability", "schema", "pool_size")
LIBPQ_OPTIONS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
    "passfile",
    "host",
    "port",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
)
DEFAULT_POOL_SIZE = 10
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# pg_advisory_xact_lock key that serializes migrations of one schema
MIGRATION_LOCK = "durablex-migrate"


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("durablex.store.postgres") / "migrations"
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


MIGRATIONS = _migrations()
SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True, slots=True)
class PgConfig:
    """What a postgresql:// URL says, split into libpq's part and Durablex's."""

    url: str
    conninfo: str
    schema: str
    pool_size: int
    durability: str
    identity: str  # host:port/database/schema: keys the in-process notice hub

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel of this Durablex database (one per schema)."""
        return f"durablex_{self.schema}"


def parse_url(url: str, durability: str) -> PgConfig:
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - set(OWN_OPTIONS) - set(LIBPQ_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown database URL option(s) {', '.join(sorted(unknown))} in {url!r}; "
            f"accepted: {', '.join(OWN_OPTIONS + LIBPQ_OPTIONS)}"
        )
    schema = (query.get("schema") or ["public"])[0]
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(
            f"invalid schema {schema!r} in {url!r}: use lower-case letters, digits and _"
        )
    raw_pool = (query.get("pool_size") or [str(DEFAULT_POOL_SIZE)])[0]
    if not raw_pool.isdigit() or not 1 <= int(raw_pool) <= 1000:
        raise ValueError(f"invalid pool_size {raw_pool!r} in {url!r}: expected 1..1000")
    if not parts.path.strip("/") and not parts.hostname:
        raise ValueError(
            f"invalid PostgreSQL URL {url!r}: expected postgresql://user:pass@host:port/db"
        )
    libpq = [(k, v) for k, values in query.items() if k in LIBPQ_OPTIONS for v in values]
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(libpq), ""))
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise ValueError(f"invalid port in PostgreSQL URL {url!r}") from exc
    identity = f"postgres:{parts.hostname or 'local'}:{port}{parts.path or '/'}/{schema}"
    return PgConfig(
        url=url,
        conninfo=conninfo,
        schema=schema,
        pool_size=int(raw_pool),
        durability=durability,
        identity=identity,
    )


def require_driver() -> None:
    if psycopg is None:
        raise StoreError(
            "the PostgreSQL store needs psycopg 3: pip install 'durablex[postgres]' "
            "(psycopg[binary] and psycopg-pool)"
        )


async def configure(conn: Any, config: PgConfig) -> None:
    """Session settings of every connection: the schema, and the durability mode."""
    await conn.execute("SELECT set_config('search_path', %s, false)", (config.schema,))
    # process: a commit returns before its WAL reaches the disk; survives a runner's crash,
    # and a crash of the server loses at most the last few hundred milliseconds of commits
    sync = "on" if config.durability == "full" else "off"
    await conn.execute("SELECT set_config('synchronous_commit', %s, false)", (sync,))


async def connect(config: PgConfig) -> Any:
    """A new autocommit connection with Durablex's session settings."""
    require_driver()
    try:
        conn = await psycopg.AsyncConnection.connect(config.conninfo, autocommit=True)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect to {redact(config.url)}: {exc}") from exc
    try:
        await configure(conn, config)
    except BaseException:
        await conn.close()
        raise
    return conn


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def migrate(conn: Any, config: PgConfig) -> None:
    """Bring the schema to SCHEMA_VERSION under an advisory lock; refuse foreign or newer ones.

    Migrations only add (tables, columns, indexes), so runners of the previous version keep
    working while a newer one migrates; a runner refuses a schema newer than it knows.
    """
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{MIGRATION_LOCK}:{config.schema}",)
        )
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{config.schema}"')
        cur = await conn.execute(
            "SELECT to_regclass(%s), to_regclass(%s)",
            (f'"{config.schema}".durablex_migrations', f'"{config.schema}".runs'),
        )
        row = await cur.fetchone()
        assert row is not None
        if row[0] is None:
            if row[1] is not None:
                raise StoreError(
                    f"schema {config.schema!r} of {redact(config.url)} holds a 'runs' table of "
                    "another application; Durablex will not change it (use ?schema=NAME)"
                )
            await conn.execute(
                "CREATE TABLE durablex_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM durablex_migrations")
        version_row = await cur.fetchone()
        version = int(version_row[0]) if version_row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{redact(config.url)} has schema version {version}, newer than this Durablex "
                f"({SCHEMA_VERSION}); upgrade durablex"
            )
        for number, script in MIGRATIONS:
            if number > version:
                await conn.execute(script)
                await conn.execute(
                    "INSERT INTO durablex_migrations (version, name) VALUES (%s, %s)",
                    (number, f"{number:04d}"),
                )
