"""``durablex``: run runners and the server, send events, start and inspect runs."""

from __future__ import annotations

import logging

import click

from durablex.cli.commands.runs import COMMANDS
from durablex.cli.commands.serving import dev, runner, server


@click.group()
@click.version_option(package_name="durablex")
@click.option("-v", "--verbose", is_flag=True, help="Log what runners do.")
def main(verbose: bool) -> None:
    """Durablex: durable workflows for Python."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for command in (dev, runner, server, *COMMANDS):
    main.add_command(command)
