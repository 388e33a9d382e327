"""``python -m bench sweep [--durability full process] [--vs dbos] [--plot PNG]``: throughput
against concurrency.

Runs fanout (S sequential steps per run) with R runs started at once, for R in 1 10 50 100 500
1000, on Durablex at each durability given and, with ``--vs dbos``, on DBOS, alternating the
systems at each R; prints one JSON line per point (the shape of ``python -m bench``, with
``"sweep": true``) and, with ``--plot``, draws steps/s against R (bench/plot.py, run by the
bench venv's python, which has matplotlib).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import report, vs
from bench.__main__ import adjacent_raw, check_backend, run_worker


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench sweep", description=__doc__)
    p.add_argument("--durability", nargs="+", default=["full"], choices=["full", "process"])
    p.add_argument("--vs", choices=["dbos"])
    p.add_argument("--R", nargs="+", type=int, default=[1, 10, 50, 100, 500, 1000])
    p.add_argument("--S", type=int, default=10)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    p.add_argument("--pg-url", default=os.environ.get("DURABLEX_TEST_PG_URL"))
    p.add_argument("--concurrency", type=int, default=1000, help="Runner(concurrency=...)")
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--tmpdir", default=None)
    p.add_argument("--raw-rows", type=int, default=2000)
    p.add_argument("--out", help="also append the JSON lines to this file")
    p.add_argument("--plot", help="write the PNG here (from the lines of this invocation)")
    args = p.parse_args(argv)
    args.sync_steps = False
    return args


def main(argv: list[str]) -> None:
    args = parse(argv)
    check_backend(args)
    if args.vs or args.plot:
        vs.ensure_venv()
    out_fh = open(args.out, "a") if args.out else None  # noqa: SIM115
    lines: list[dict[str, Any]] = []

    def emit(obj: dict[str, Any]) -> None:
        obj["sweep"] = True
        text = report.dumps(obj)
        print(text, flush=True)
        lines.append(obj)
        if out_fh:
            out_fh.write(text + "\n")
            out_fh.flush()

    for _ in range(args.repeat):
        for r in args.R:
            params = {"R": r, "S": args.S}
            for durability in args.durability:
                raw = adjacent_raw(args)
                figures = run_worker(args, "fanout", params, durability)
                obj = report.line(args.backend, durability, "fanout", figures)
                report.add_adjacent_ratio(obj, (raw + adjacent_raw(args)) / 2)
                emit(obj)
            if args.vs == "dbos":
                raw = adjacent_raw(args)
                pg = args.pg_url if args.backend == "postgres" else None
                figures = vs.run_dbos("fanout", params, args.timeout, args.tmpdir, pg)
                obj = report.line(args.backend, "dbos-default", "fanout", figures, "dbos")
                report.add_adjacent_ratio(obj, (raw + adjacent_raw(args)) / 2)
                emit(obj)
    if out_fh:
        out_fh.close()
    print(file=sys.stderr)
    print(report.table(lines), file=sys.stderr)
    if args.plot:
        # the points go to a file of their own: one beside the PNG could be the --out file
        with tempfile.TemporaryDirectory(prefix="dxbench-plot-", dir=args.tmpdir) as tmp:
            points = Path(tmp) / "points.jsonl"
            points.write_text("".join(report.dumps(o) + "\n" for o in lines))
            plot = Path(__file__).with_name("plot.py")
            subprocess.run([str(vs.python()), str(plot), str(points), args.plot], check=True)
    if any(o.get("error") for o in lines):
        sys.exit(1)
