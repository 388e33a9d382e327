"""A real server (uvicorn + a Runner, as `durablex dev` runs them) on a free port, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import durablex
from durablex.server.serve import serve


@contextmanager
def live_server(db: str, *apps: durablex.App, token: str | None = None) -> Iterator[str]:
    """Yield the server's base URL; stop the server and the runner on exit."""
    ready = threading.Event()
    box: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["loop"] = asyncio.get_running_loop()
        box["stop"] = stop

        def on_ready(url: str) -> None:
            box["url"] = url.rstrip("/")
            ready.set()

        runner = durablex.Runner(*apps, db=db, name="live-runner") if apps else None
        try:
            await serve(
                db=db,
                host="127.0.0.1",
                port=0,
                token=token,
                runner=runner,
                on_ready=on_ready,
                stop=stop,
            )
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            raise

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(30), "the server did not start"
    if "error" in box:
        raise AssertionError(f"the server failed: {box['error']!r}")
    try:
        yield str(box["url"])
    finally:
        loop = box["loop"]
        stop = box["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        assert not thread.is_alive(), "the server did not stop"
