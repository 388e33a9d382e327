"""Serving: uvicorn in the current event loop, alone (``durablex server``) or beside a runner
(``durablex dev``), stopped together on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from collections.abc import Callable, Iterator

import uvicorn

from durablex.runner import Runner
from durablex.server.app import create_app

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class UnsafeBindError(Exception):
    """A non-loopback address without a token: anyone on the network could drive the engine."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if token is None and not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to listen on {host!r} without a token: anyone who can reach it could "
            "send events and cancel runs. Set DURABLEX_TOKEN or pass --token, or listen on "
            "127.0.0.1."
        )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` stops the runner and the server
    together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def console_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def serve(
    *,
    db: object,
    host: str,
    port: int,
    token: str | None,
    runner: Runner | None = None,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the API and console (and run ``runner``) until SIGINT/SIGTERM or ``stop``."""
    check_bind(host, token)
    hosts = None if token is not None or not is_loopback(host) else _local_hosts(host)
    app = create_app(db, token=token, allowed_hosts=hosts)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    server = _Server(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)

    async def stopper() -> None:
        await stop.wait()
        server.should_exit = True

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        bound = port
        for listener in server.servers:
            for sock in listener.sockets or ():
                bound = sock.getsockname()[1]
        if on_ready is not None:
            on_ready(console_url(host, bound))

    tasks = [asyncio.create_task(stopper()), asyncio.create_task(announce())]
    try:
        async with contextlib.AsyncExitStack() as stack:
            if runner is not None:
                await stack.enter_async_context(runner)
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
                await server.serve()
            if not server.started:
                raise OSError(f"the server did not start on {host}:{port} (see the error above)")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in installed:
            loop.remove_signal_handler(sig)


def _local_hosts(host: str) -> frozenset[str]:
    """Host headers a loopback server without a token accepts: a DNS-rebinding page, whose
    Host is its own name, is refused."""
    return frozenset({"localhost", "127.0.0.1", "::1", host.lower().strip("[]")})
