"""A runner in its own process (for the parked workload): prints "ready" once registered,
then serves until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import durablex
from bench.apps import make_app


async def main(db: str, concurrency: int, sync_steps: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with durablex.Runner(make_app(sync_steps), db=db, concurrency=concurrency):
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--sync-steps", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.db, args.concurrency, args.sync_steps))
    sys.exit(0)
