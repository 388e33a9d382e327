"""``python -m bench [WORKLOAD...] --backend sqlite --durability full|process [--out FILE]``

Measures the physical limits (raw sqlite3 commits) first, then runs each workload in its own
fresh process on a fresh database file, prints one JSON line per figure set, and ends with a
short table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import raw, report
from bench.workloads import DEFAULTS, ORDER

OVERRIDES = ("N", "R", "S", "P", "K", "D")


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "workloads", nargs="*", metavar="WORKLOAD", help=f"any of {', '.join(ORDER)} (default: all)"
    )
    p.add_argument("--backend", default="sqlite", choices=["sqlite"])
    p.add_argument("--durability", default="full", choices=["full", "process"])
    p.add_argument("--out", help="also append the JSON lines to this file")
    p.add_argument(
        "--sync-steps",
        action="store_true",
        help="plain-function step bodies (run in a worker thread) instead of async def",
    )
    p.add_argument("--skip", action="append", default=[], help="leave out a workload")
    p.add_argument("--repeat", type=int, default=1, help="run the workload list this many times")
    p.add_argument("--concurrency", type=int, default=1000, help="Runner(concurrency=...)")
    p.add_argument("--timeout", type=float, default=900.0, help="per workload, seconds")
    p.add_argument("--tmpdir", default=None, help="where the temp databases go (default: $TMPDIR)")
    p.add_argument("--raw-rows", type=int, default=2000, help="rows for single-row raw commits")
    p.add_argument("--raw-batch-rows", type=int, default=20000, help="rows for batched raw commits")
    p.add_argument("--no-raw", action="store_true", help="skip the raw sqlite3 measurement")
    for key in OVERRIDES:
        p.add_argument(
            f"--{key}",
            type=float if key == "D" else int,
            default=None,
            help=f"override {key} in every workload that has it",
        )
    args = p.parse_args()
    unknown = [w for w in args.workloads if w not in DEFAULTS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {ORDER}")
    return args


def run_worker(args: argparse.Namespace, workload: str, params: dict[str, Any]) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.worker",
        workload,
        "--params",
        json.dumps(params),
        "--durability",
        args.durability,
        "--concurrency",
        str(args.concurrency),
        "--timeout",
        str(args.timeout),
    ]
    if args.sync_steps:
        cmd.append("--sync-steps")
    if args.tmpdir:
        cmd += ["--tmpdir", args.tmpdir]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout + 120)
    except subprocess.TimeoutExpired as exc:
        return {
            "params": params,
            "error": f"timed out after {exc.timeout}s",
            "stderr_tail": (exc.stderr or b"")[-3000:].decode(errors="replace")
            if isinstance(exc.stderr, bytes)
            else (exc.stderr or "")[-3000:],
        }
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return {
            "params": params,
            "error": f"worker exited {done.returncode}",
            "stderr_tail": done.stderr[-3000:],
        }
    figures = json.loads(lines[-1])
    if done.stderr.strip():
        figures["stderr_lines"] = len(done.stderr.splitlines())
    return figures


def adjacent_raw(args: argparse.Namespace) -> float:
    """The fsync'd single-row commit rate measured right before or after a workload, so that a
    ratio compares figures taken under the same load on a shared machine."""
    tmp = Path(tempfile.mkdtemp(prefix="dxbench-adj-", dir=args.tmpdir))
    try:
        figures = raw.raw_commit(
            tmp / "adjacent.db", synchronous="FULL", rows=args.raw_rows, batch=1
        )
        return float(figures["rows_per_s"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    args = parse()
    chosen = [w for w in (args.workloads or ORDER) if w not in args.skip]
    out_fh = open(args.out, "a") if args.out else None  # noqa: SIM115

    def emit(obj: dict[str, Any]) -> None:
        text = report.dumps(obj)
        print(text, flush=True)
        if out_fh:
            out_fh.write(text + "\n")
            out_fh.flush()

    lines: list[dict[str, Any]] = []
    raws: dict[str, dict[str, Any]] = {}
    if not args.no_raw:
        tmp = Path(tempfile.mkdtemp(prefix="dxbench-raw-", dir=args.tmpdir))
        try:
            for name, figures in raw.measure_all(tmp, args.raw_rows, args.raw_batch_rows):
                raws[name] = figures
                obj = report.raw_line(args.backend, args.durability, name, figures)
                lines.append(obj)
                emit(obj)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for _ in range(args.repeat):
        for workload in chosen:
            params = dict(DEFAULTS[workload])
            for key in OVERRIDES:
                value = getattr(args, key)
                if value is not None and key in params:
                    params[key] = value
            t = time.perf_counter()
            before = adjacent_raw(args) if raws else None
            figures = run_worker(args, workload, params)
            after = adjacent_raw(args) if raws else None
            obj = report.line(args.backend, args.durability, workload, figures)
            obj["step_bodies"] = "sync" if args.sync_steps else "async"
            if raws and not obj.get("error"):
                report.add_ratios(obj, raws, args.durability)
                if before is not None and after is not None:
                    report.add_adjacent_ratio(obj, (before + after) / 2)
            obj["bench_s"] = round(time.perf_counter() - t, 2)
            lines.append(obj)
            emit(obj)
    print(file=sys.stderr)
    print(report.table(lines), file=sys.stderr)
    if out_fh:
        out_fh.close()
    if any(o.get("error") for o in lines):
        sys.exit(1)


if __name__ == "__main__":
    main()
