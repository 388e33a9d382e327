"""The CPU one runner spends per resumed run of the event workload, in this process.

    PYTHONPATH=src:. python bench/results/2026-11-30-set-sends/resume_cpu.py [--R N] [--repeat K]

R runs of the benchmark's ``event`` workflow park on one event (one runner and the client on
one event loop, a fresh SQLite file); then one send, and the process's CPU time (user + system)
from the send's return to the last run ended, read every 0.1 s so that the poll costs little.
``--no-gc``: the runner turns the garbage collector off instead of raising its thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from pathlib import Path

from bench.apps import GO_EVENT
from bench.workloads import Ctx, Db, start_many


async def measure(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dxbench-resume-cpu-") as tmp:
        path = Path(tmp) / "event.db"
        c = Ctx(f"sqlite:///{path}", path, False, 1000, 120, runners=0)
        async with c.runner(), c.client() as client:
            db = Db(path)
            await start_many(client, "event", None, runs)
            await db.wait_status("waiting", runs, 120)
            await asyncio.sleep(0.3)
            t_send = time.time_ns() // 1000
            cpu_0 = time.process_time()
            await client.send(GO_EVENT, {"go": 1})
            cpu_1 = time.process_time()
            await db.wait_status("completed", runs, 120, poll=0.1)
            cpu_2 = time.process_time()
            wall = (db.max_ended() - t_send) / 1e6
    return {
        "wall_s": round(wall, 3),
        "send_cpu_s": round(cpu_1 - cpu_0, 3),
        "resume_cpu_s": round(cpu_2 - cpu_1, 3),
        "resume_cpu_per_run_us": round((cpu_2 - cpu_1) / runs * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--R", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-gc", action="store_true")
    args = parser.parse_args()
    if args.no_gc:
        from durablex.runner import collector

        collector.acquire = gc.disable
    for _ in range(args.repeat):
        gc_mode = "off" if args.no_gc else "runner's thresholds"
        line = {"gc": gc_mode, **asyncio.run(measure(args.R))}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
