"""What the commands share: the --db option, JSON arguments, clients and app loading."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
import orjson

from durablex.app import App
from durablex.cli.loader import TargetError, load_apps
from durablex.client import Client
from durablex.errors import DurablexError
from durablex.store.base import StoreError

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = "Database URL (default: $DURABLEX_DB or sqlite:///.durablex/durablex.db)."
TOKEN_HELP = "Bearer token required by the API and console (default: $DURABLEX_TOKEN)."


def db_option(fn: F) -> F:
    return click.option("--db", "db", default=None, metavar="URL", help=DB_HELP)(fn)


def token_option(fn: F) -> F:
    return click.option(
        "--token", envvar="DURABLEX_TOKEN", default=None, metavar="TOKEN", help=TOKEN_HELP
    )(fn)


def parse_json(value: str | None, *, option: str = "--data") -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON ({exc}): {value[:80]!r}", param_hint=option
        ) from None


def open_client(db: str | None) -> Client:
    try:
        return Client(db)
    except (ValueError, TypeError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc


def with_client(db: str | None, action: Callable[[Client], Any]) -> Any:
    client = open_client(db)
    try:
        return action(client)
    except (DurablexError, StoreError, ValueError, TypeError, LookupError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()


def load_all(targets: tuple[str, ...]) -> list[App]:
    apps: list[App] = []
    for target in targets:
        try:
            apps.extend(load_apps(target))
        except TargetError as exc:
            raise click.ClickException(str(exc)) from exc
    names = [app.name for app in apps]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise click.ClickException(f"several apps are named {', '.join(duplicates)}")
    return apps
