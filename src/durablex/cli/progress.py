"""A spinner on stderr while ``start --wait`` waits (a single line when not on a terminal)."""

from __future__ import annotations

import itertools
import sys
import time
from typing import Any

from durablex.cli.output import colour_enabled, echo
from durablex.client import RunHandle

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK = 0.1


def wait_with_spinner(handle: RunHandle, timeout: float | None) -> Any:
    """The run's output; raises like ``RunHandle.result``."""
    live = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not live:
        echo(f"waiting for run {handle.run_id}...", err=True)
        return handle.result(timeout=timeout)
    began = time.monotonic()
    frames = itertools.cycle(FRAMES if colour_enabled(sys.stderr) else "|/-\\")
    try:
        while True:
            elapsed = time.monotonic() - began
            if timeout is not None and elapsed >= timeout:
                return handle.result(timeout=0)
            step = TICK if timeout is None else min(TICK, timeout - elapsed)
            try:
                return handle.result(timeout=step)
            except TimeoutError:
                state = handle.status()
                echo(
                    f"\r{next(frames)} {handle.run_id} {state} {elapsed:5.1f}s", err=True, nl=False
                )
    finally:
        echo("\r\033[K", err=True, nl=False)
