"""``durablex runner --processes N``: N runner processes of one app, kept alive together.

One Python process drives one event loop on one core. A runner process per core is how a
machine's cores all serve the queue (runners share it through the database, each claiming its
share of a burst). The supervisor starts them, starts a child again when it dies without
being asked to stop, and on SIGTERM or SIGINT asks every child to stop gracefully and waits.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

from durablex.cli.output import echo

RESTART_DELAY = 1.0
POLL = 0.2


def child_command(params: Mapping[str, Any], index: int) -> list[str]:
    """``durablex runner`` with the parent's own options (``params`` as click parsed them), as
    one process: every option is passed on, and ``--name NAME`` becomes ``NAME-<index>``."""
    cmd = [sys.executable, "-m", "durablex", "runner", str(params["target"])]
    for option, value in params.items():
        if option in ("target", "processes") or value is None:
            continue
        if option == "name":
            value = f"{value}-{index}"
        cmd += [f"--{option.replace('_', '-')}", str(value)]
    return cmd


def supervise(commands: Sequence[list[str]]) -> int:
    """Run one child per command until SIGTERM/SIGINT; return the worst exit status."""
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen[bytes]] = []
    try:
        children = [subprocess.Popen(cmd) for cmd in commands]
        echo(f"durablex runner: {len(children)} processes", err=True)
        while not stopping:
            time.sleep(POLL)
            for index, child in enumerate(children):
                code = child.poll()
                if code is None or stopping:
                    continue
                echo(
                    f"durablex runner: process {index} (pid {child.pid}) exited with {code};"
                    " starting it again",
                    err=True,
                )
                time.sleep(RESTART_DELAY)
                children[index] = subprocess.Popen(commands[index])
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        codes = [child.wait() for child in children]
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return max((abs(code) for code in codes), default=0)
