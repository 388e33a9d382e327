"""``durablex``: run runners, send events, start and inspect runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click
import orjson

from durablex.app import App
from durablex.cli.format import format_run, format_runs
from durablex.cli.loader import TargetError, load_apps
from durablex.client import Client
from durablex.errors import DurablexError
from durablex.runner import Runner
from durablex.store.base import StoreError
from durablex.store.url import default_url

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = "Database URL (default: $DURABLEX_DB or sqlite:///.durablex/durablex.db)."


def db_option(fn: F) -> F:
    return click.option("--db", "db", default=None, metavar="URL", help=DB_HELP)(fn)


def parse_json(value: str | None, *, option: str = "--data") -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON ({exc}): {value[:80]!r}", param_hint=option
        ) from None


def _client(db: str | None) -> Client:
    try:
        return Client(db)
    except (ValueError, TypeError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc


def _run_client(db: str | None, action: Callable[[Client], Any]) -> Any:
    client = _client(db)
    try:
        return action(client)
    except (DurablexError, StoreError, ValueError, TypeError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()


@click.group()
@click.version_option(package_name="durablex")
@click.option("-v", "--verbose", is_flag=True, help="Log what runners do.")
def main(verbose: bool) -> None:
    """Durablex: durable workflows for Python."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _load_all(targets: tuple[str, ...]) -> list[App]:
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


@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="FILE_OR_MODULE...")
@db_option
@click.option("--name", default=None, help="Runner name (default: host-pid-random).")
def dev(targets: tuple[str, ...], db: str | None, name: str | None) -> None:
    """Run every app found in FILE_OR_MODULE... on the embedded SQLite default."""
    apps = _load_all(targets)
    runner = _make_runner(apps, db, name, 1000, "30s")
    click.echo(
        f"durablex dev: {len(apps)} app(s) "
        f"({', '.join(sorted(app.name for app in apps))}) on {runner.store.url}",
        err=True,
    )
    for app in apps:
        for spec in app.workflows.values():
            trigger = f"  on {', '.join(spec.triggers)}" if spec.triggers else ""
            click.echo(f"  {app.name}/{spec.name}{trigger}", err=True)
    click.echo("press Ctrl+C to stop", err=True)
    _serve(runner)


@main.command()
@click.argument("target", metavar="TARGET")
@db_option
@click.option("--name", default=None, help="Runner name, for pinning with runner=.")
@click.option("--concurrency", default=1000, show_default=True, help="Runs in flight at once.")
@click.option("--lease", default="30s", show_default=True, help="Lease duration.")
def runner(target: str, db: str | None, name: str | None, concurrency: int, lease: str) -> None:
    """Run the app(s) of TARGET (path/file.py:app or package.module:app)."""
    apps = _load_all((target,))
    instance = _make_runner(apps, db, name, concurrency, lease)
    click.echo(f"durablex runner {instance.name} on {instance.store.url}", err=True)
    _serve(instance)


def _make_runner(
    apps: list[App], db: str | None, name: str | None, concurrency: int, lease: str
) -> Runner:
    try:
        return Runner(*apps, db=db, name=name, concurrency=concurrency, lease=lease)
    except (ValueError, TypeError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc


def _serve(instance: Runner) -> None:
    try:
        instance.run()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass


@main.command()
@click.argument("name")
@click.option("--data", default=None, metavar="JSON", help="Event data as JSON.")
@click.option("--app", default=None, help="Deliver only to this app.")
@click.option("--id", "event_id", default=None, help="Idempotency key: accepted once.")
@db_option
def send(
    name: str, data: str | None, app: str | None, event_id: str | None, db: str | None
) -> None:
    """Send the event NAME."""
    payload = parse_json(data)
    result = _run_client(db, lambda c: c.send(name, payload, app=app, id=event_id))
    click.echo(f"event {result.event_id}")
    for run_id in result.run_ids:
        click.echo(f"started {run_id}")
    click.echo(f"resumed {result.resumed}")


@main.command()
@click.argument("workflow")
@click.option("--data", default=None, metavar="JSON", help="Run input as JSON.")
@click.option("--app", default=None, help="The app defining WORKFLOW.")
@click.option("--wait", is_flag=True, help="Wait for the run to end and print its output.")
@click.option("--timeout", default=None, type=float, help="Seconds to wait with --wait.")
@db_option
def start(
    workflow: str,
    data: str | None,
    app: str | None,
    wait: bool,
    timeout: float | None,
    db: str | None,
) -> None:
    """Start a run of WORKFLOW."""
    payload = parse_json(data)

    def act(client: Client) -> None:
        handle = client.start(workflow, payload, app=app)
        click.echo(handle.run_id)
        if wait:
            output = handle.result(timeout=timeout)
            click.echo(orjson.dumps(output, option=orjson.OPT_INDENT_2).decode())

    _run_client(db, act)


@main.command()
@click.option("--status", default=None, help="Only runs with this status.")
@click.option("--workflow", default=None, help="Only runs of this workflow.")
@click.option("--app", default=None, help="Only runs of this app.")
@click.option("--limit", default=50, show_default=True, help="How many runs.")
@db_option
def runs(
    status: str | None, workflow: str | None, app: str | None, limit: int, db: str | None
) -> None:
    """List runs, newest first."""
    found = _run_client(
        db, lambda c: c.list_runs(status=status, workflow=workflow, app=app, limit=limit)
    )
    click.echo(format_runs(found))


@main.command()
@click.argument("run_id")
@db_option
def show(run_id: str, db: str | None) -> None:
    """Show a run with its steps and graph."""
    run = _run_client(db, lambda c: c.get_run(run_id))
    click.echo(format_run(run))


@main.command()
@click.argument("run_id")
@db_option
def cancel(run_id: str, db: str | None) -> None:
    """Cancel a run (and its children)."""
    changed = _run_client(db, lambda c: c.cancel(run_id))
    click.echo(f"cancelled {run_id}" if changed else f"{run_id} had already ended")


@main.command()
@click.argument("run_id")
@db_option
def rerun(run_id: str, db: str | None) -> None:
    """Start a new run with the same input."""
    handle = _run_client(db, lambda c: c.rerun(run_id))
    click.echo(handle.run_id)


@main.command()
@click.argument("run_id")
@db_option
def resume(run_id: str, db: str | None) -> None:
    """Continue a failed run from its failed step."""
    handle = _run_client(db, lambda c: c.resume(run_id))
    click.echo(f"resumed {handle.run_id}")


@main.command(name="db-url", hidden=True)
def db_url() -> None:
    """Print the database URL in effect."""
    click.echo(default_url())
