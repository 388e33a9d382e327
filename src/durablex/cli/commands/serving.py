"""Long-running commands: ``dev`` (runner + server), ``runner`` and ``server``."""

from __future__ import annotations

import asyncio
import sys

import click

from durablex.app import App
from durablex.cli.common import db_option, load_all, token_option
from durablex.cli.output import bold, echo
from durablex.cli.supervise import child_command, supervise
from durablex.runner import Runner
from durablex.server.serve import UnsafeBindError, check_bind, serve
from durablex.store.base import StoreError

DEFAULT_PORT = 8233


def make_runner(
    apps: list[App],
    db: str | None,
    name: str | None,
    concurrency: int = 1000,
    lease: str = "30s",
    hold: str = "5s",
) -> Runner:
    try:
        return Runner(*apps, db=db, name=name, concurrency=concurrency, lease=lease, hold=hold)
    except (ValueError, TypeError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc


def refuse_unsafe_bind(host: str, token: str | None) -> str | None:
    token = token or None
    try:
        check_bind(host, token)
    except UnsafeBindError as exc:
        raise click.ClickException(str(exc)) from exc
    return token


def serve_forever(
    *, db: str | None, host: str, port: int, token: str | None, runner: Runner | None
) -> None:
    """Serve in one event loop until Ctrl+C or SIGTERM; both the runner and the server stop."""

    def ready(url: str) -> None:
        echo(f"console: {bold(url)}", err=True)
        echo("press Ctrl+C to stop", err=True)

    try:
        asyncio.run(serve(db=db, host=host, port=port, token=token, runner=runner, on_ready=ready))
    except (StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="FILE_OR_MODULE...")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@token_option
@click.option("--name", default=None, help="Runner name (default: host-pid-random).")
def dev(
    targets: tuple[str, ...],
    db: str | None,
    host: str,
    port: int,
    token: str | None,
    name: str | None,
) -> None:
    """Run every app in FILE_OR_MODULE... with the HTTP API and the console, in one process."""
    token = refuse_unsafe_bind(host, token)
    apps = load_all(targets)
    runner = make_runner(apps, db, name)
    names = ", ".join(sorted(app.name for app in apps))
    echo(f"durablex dev: {len(apps)} app(s) ({names}) on {runner.store.url}", err=True)
    for app in apps:
        for spec in app.workflows.values():
            trigger = f"  on {', '.join(spec.triggers)}" if spec.triggers else ""
            echo(f"  {app.name}/{spec.name}{trigger}", err=True)
    serve_forever(db=db, host=host, port=port, token=token, runner=runner)


@click.command()
@click.argument("target", metavar="TARGET")
@db_option
@click.option("--name", default=None, help="Runner name, for pinning with runner=.")
@click.option("--concurrency", default=1000, show_default=True, help="Runs in flight at once.")
@click.option("--lease", default="30s", show_default=True, help="Lease duration.")
@click.option(
    "--hold",
    default="5s",
    show_default=True,
    help="Keep runs in memory through sleeps due within this long (0s: park at every pause).",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Runner processes to start, sharing the queue (one per core uses every core); "
    "with --name, each is named NAME-0, NAME-1, ...",
)
def runner(
    target: str,
    db: str | None,
    name: str | None,
    concurrency: int,
    lease: str,
    hold: str,
    processes: int,
) -> None:
    """Run the app(s) of TARGET (path/file.py:app or package.module:app)."""
    apps = load_all((target,))
    instance = make_runner(apps, db, name, concurrency, lease, hold)
    if processes > 1:
        # the options were checked above, in this process: a child cannot fail on them
        params = click.get_current_context().params
        commands = [child_command(params, index) for index in range(processes)]
        sys.exit(supervise(commands))
    echo(f"durablex runner {instance.name} on {instance.store.url}", err=True)
    try:
        instance.run()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@token_option
def server(db: str | None, host: str, port: int, token: str | None) -> None:
    """Serve the HTTP API and the console (no runner: run those with `durablex runner`)."""
    token = refuse_unsafe_bind(host, token)
    serve_forever(db=db, host=host, port=port, token=token, runner=None)
