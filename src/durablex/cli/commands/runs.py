"""Commands that talk to the database through a ``Client``: send, start, runs, show, ..."""

from __future__ import annotations

from typing import Any

import click
import orjson

from durablex.cli.common import db_option, parse_json, with_client
from durablex.cli.format import format_run, format_runs
from durablex.cli.output import echo, status
from durablex.cli.progress import wait_with_spinner
from durablex.client import Client
from durablex.store.url import default_url


@click.command()
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
    result = with_client(db, lambda c: c.send(name, payload, app=app, id=event_id))
    echo(f"event {result.event_id}")
    for run_id in result.run_ids:
        echo(f"started {run_id}")
    echo(f"resumed {result.resumed}")


@click.command()
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
        echo(handle.run_id)
        if wait:
            output = wait_with_spinner(handle, timeout)
            echo(orjson.dumps(output, option=orjson.OPT_INDENT_2).decode())

    with_client(db, act)


@click.command()
@click.option("--status", "status_", default=None, help="Only runs with this status.")
@click.option("--workflow", default=None, help="Only runs of this workflow.")
@click.option("--app", default=None, help="Only runs of this app.")
@click.option("--limit", default=50, show_default=True, help="How many runs.")
@db_option
def runs(
    status_: str | None, workflow: str | None, app: str | None, limit: int, db: str | None
) -> None:
    """List runs, newest first."""
    found = with_client(
        db, lambda c: c.list_runs(status=status_, workflow=workflow, app=app, limit=limit)
    )
    echo(format_runs(found))


@click.command()
@click.argument("run_id")
@db_option
def show(run_id: str, db: str | None) -> None:
    """Show a run: its header, its steps as a table, and its graph as a tree."""
    run = with_client(db, lambda c: c.get_run(run_id))
    echo(format_run(run))


@click.command()
@click.argument("run_id")
@db_option
def cancel(run_id: str, db: str | None) -> None:
    """Cancel a run (and its children)."""
    changed = with_client(db, lambda c: c.cancel(run_id))
    echo(
        f"{status('cancelled', 'cancelled')} {run_id}" if changed else f"{run_id} had already ended"
    )


@click.command()
@click.argument("run_id")
@db_option
def rerun(run_id: str, db: str | None) -> None:
    """Start a new run with the same input."""
    handle: Any = with_client(db, lambda c: c.rerun(run_id))
    echo(handle.run_id)


@click.command()
@click.argument("run_id")
@db_option
def resume(run_id: str, db: str | None) -> None:
    """Continue a failed run from its failed step."""
    handle: Any = with_client(db, lambda c: c.resume(run_id))
    echo(f"resumed {handle.run_id}")


@click.command(name="db-url", hidden=True)
def db_url() -> None:
    """Print the database URL in effect."""
    echo(default_url())


COMMANDS = [send, start, runs, show, cancel, rerun, resume, db_url]
