"""Runs ONE workload in a fresh process (so peak RSS and engine state are its own) and prints
its figures as one JSON line on stdout. Used by ``python -m bench``; runnable by hand:

    python -m bench.worker seq --params '{"N": 1000}' --durability full [--profile pyinstrument]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.raw import pg_connect
from bench.workloads import DEFAULTS, WORKLOADS, Ctx, Db, rss_kb


def fresh_pg_database(server: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server of ``server`` (a postgresql:// URL), and its dropper."""
    name = f"dxbench_{uuid.uuid4().hex[:10]}"
    with pg_connect(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with pg_connect(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    parts = urlsplit(server)
    return urlunsplit(parts._replace(path="/" + name, query="")), drop


def runs_by_runner(path: Path | str) -> list[int]:
    """How many runs each runner process ended (``runs.last_runner``), largest first."""
    db = Db(path)
    try:
        rows = db.rows("SELECT last_runner, count(*) FROM runs GROUP BY last_runner")
    finally:
        db.conn.close()
    return sorted((int(n) for _, n in rows), reverse=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    params = dict(DEFAULTS[args.workload])
    params.update(json.loads(args.params or "{}"))
    tmp = Path(tempfile.mkdtemp(prefix=f"dxbench-{args.workload}-", dir=args.tmpdir))
    path: Path | str = tmp / "bench.db"
    url = f"sqlite:///{path}?durability={args.durability}"
    drop = None
    if args.pg_url:
        path, drop = fresh_pg_database(args.pg_url)
        url = f"{path}?durability={args.durability}"
    runners = args.runners if args.workload != "parked" else 0
    ctx = Ctx(url, path, args.sync_steps, args.concurrency, args.timeout, runners)
    profiler = None
    if args.profile == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
    elif args.profile == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        t = time.perf_counter()
        figures = asyncio.run(WORKLOADS[args.workload](ctx, params))
        figures["elapsed_total_s"] = round(time.perf_counter() - t, 3)
        if runners:
            figures.update(ctx.runner_figures)
            figures["runs_by_runner"] = runs_by_runner(path)
    finally:
        if profiler is not None:
            out = Path(args.profile_out or f"profile-{args.workload}-{args.durability}")
            if args.profile == "pyinstrument":
                profiler.stop()
                from pyinstrument.renderers import ConsoleRenderer

                out.with_suffix(".txt").write_text(
                    profiler.output(ConsoleRenderer(unicode=False, color=False, show_all=False))
                )
                out.with_suffix(".flat.txt").write_text(
                    profiler.output(ConsoleRenderer(unicode=False, color=False, flat=True))
                )
                out.with_suffix(".html").write_text(profiler.output_html())
            else:
                import pstats

                profiler.disable()
                profiler.dump_stats(str(out.with_suffix(".pstats")))
                with out.with_suffix(".cprofile.txt").open("w") as fh:
                    stats = pstats.Stats(profiler, stream=fh)
                    stats.sort_stats("tottime").print_stats(40)
                    stats.sort_stats("cumulative").print_stats(60)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            if drop:
                drop()
    own_mb = round((rss_kb() or 0) / 1024, 1)
    if runners and figures.get("runner_peak_rss_mb"):
        # the runners are the engine: report the largest, and the measuring process apart
        figures["peak_rss_mb"] = max(figures["runner_peak_rss_mb"])
        figures["client_peak_rss_mb"] = own_mb
    elif figures.get("peak_rss_mb") is None:
        figures["peak_rss_mb"] = own_mb
    # a workload that starts its own runner (parked) says so itself
    figures.setdefault("runners", f"{runners} process(es)" if runners else "in-process")
    figures["params"] = params
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("workload", choices=list(WORKLOADS))
    parser.add_argument("--params", default="{}")
    parser.add_argument("--durability", default="full", choices=["full", "process"])
    parser.add_argument("--sync-steps", action="store_true")
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument(
        "--runners",
        type=int,
        default=0,
        help="0: the Runner runs in this process (default); N: N runner subprocesses "
        "(bench/runner_proc.py) on the same database; parked always uses its own subprocess",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp database")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL server (a fresh database)")
    parser.add_argument("--profile", choices=["pyinstrument", "cprofile"], default=None)
    parser.add_argument("--profile-out", default=None, help="path prefix of the profile files")
    args = parser.parse_args()
    print(json.dumps(run(args)), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
