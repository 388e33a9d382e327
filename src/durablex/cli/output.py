"""Terminal output: colours only on a terminal and never with NO_COLOR set."""

from __future__ import annotations

import os
import sys
from typing import IO

import click

STATUS_COLOURS = {
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "running": "cyan",
    "queued": "white",
    "sleeping": "blue",
    "waiting": "yellow",
}


def colour_enabled(stream: IO[str] | None = None) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """click.echo strips the styles when the stream is not a terminal; NO_COLOR strips them too."""
    click.echo(text, err=err, nl=nl, color=False if os.environ.get("NO_COLOR") else None)


def status(text: str, value: str | None = None) -> str:
    colour = STATUS_COLOURS.get(value if value is not None else text.strip())
    return click.style(text, fg=colour, bold=colour == "red") if colour else text


def dim(text: str) -> str:
    return click.style(text, dim=True)


def bold(text: str) -> str:
    return click.style(text, bold=True)
