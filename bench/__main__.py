"""``python -m bench [WORKLOAD...] --backend sqlite|postgres --durability full|process
[--vs dbos] [--out FILE]``, and ``python -m bench sweep ...`` (see bench/sweep.py).

Measures the physical limits (raw commits) first, then runs each workload in its own fresh
process on a fresh database, prints one JSON line per figure set, and ends with a short table.
With ``--vs dbos`` each workload is run by DBOS Transact right after Durablex (alternating),
followed by a ratio line. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import raw, report, vs
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
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    p.add_argument(
        "--pg-url",
        default=os.environ.get("DURABLEX_TEST_PG_URL"),
        help="server for --backend postgres (default $DURABLEX_TEST_PG_URL); each workload "
        "gets a fresh database on it",
    )
    p.add_argument("--durability", default="full", choices=["full", "process"])
    p.add_argument("--vs", choices=["dbos"], help="also run each workload on DBOS Transact")
    p.add_argument(
        "--dbos-param",
        action="append",
        default=[],
        metavar="WORKLOAD.KEY=VALUE",
        help="a param for DBOS only, e.g. parked.R=20000 (the ratio line then says so)",
    )
    p.add_argument("--out", help="also append the JSON lines to this file")
    p.add_argument(
        "--sync-steps",
        action="store_true",
        help="plain-function step bodies (run in a worker thread) instead of async def",
    )
    p.add_argument("--skip", action="append", default=[], help="leave out a workload")
    p.add_argument("--repeat", type=int, default=1, help="run the workload list this many times")
    p.add_argument("--concurrency", type=int, default=1000, help="Runner(concurrency=...)")
    p.add_argument(
        "--runners",
        type=int,
        nargs="+",
        default=[1],
        metavar="N",
        help="runner processes per workload (default 1: the Runner in the measuring process); "
        "N > 1: N runner subprocesses on the same database, the measuring process only submits "
        "and measures; several values (e.g. --runners 1 2) run each workload once per value, "
        "back to back, and add a scaling line (parked keeps its own single runner subprocess)",
    )
    p.add_argument(
        "--runner-procs",
        action="store_true",
        help="run the runner in a subprocess at --runners 1 too (the same setup as N > 1)",
    )
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
    if any(n < 1 for n in args.runners):
        p.error("--runners takes counts >= 1")
    unknown = [w for w in args.workloads if w not in DEFAULTS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {ORDER}")
    return args


def check_backend(args: argparse.Namespace) -> None:
    """For postgres: exit non-zero, saying why, unless a server answers at --pg-url."""
    if args.backend != "postgres":
        return
    if not args.pg_url:
        sys.exit("bench: --backend postgres needs --pg-url or $DURABLEX_TEST_PG_URL")
    try:
        raw.pg_connect(args.pg_url).close()
    except Exception as exc:
        sys.exit(f"bench: no PostgreSQL server reachable at {args.pg_url}: {exc}")


def params_for(args: argparse.Namespace, workload: str) -> dict[str, Any]:
    params = dict(DEFAULTS[workload])
    for key in OVERRIDES:
        value = getattr(args, key, None)
        if value is not None and key in params:
            params[key] = value
    return params


def dbos_params(args: argparse.Namespace, workload: str, params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for item in args.dbos_param:
        name, _, value = item.partition("=")
        w, _, key = name.partition(".")
        if w == workload:
            out[key] = float(value) if "." in value else int(value)
    return out


def runner_procs(args: argparse.Namespace, runners: int) -> int:
    """The worker's --runners: 0 = in-process Runner, else that many subprocesses."""
    return runners if runners > 1 or args.runner_procs else 0


def run_worker(
    args: argparse.Namespace,
    workload: str,
    params: dict[str, Any],
    durability: str | None = None,
    runners: int = 0,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.worker",
        workload,
        "--params",
        json.dumps(params),
        "--durability",
        durability or args.durability,
        "--concurrency",
        str(args.concurrency),
        "--timeout",
        str(args.timeout),
    ]
    if args.sync_steps:
        cmd.append("--sync-steps")
    if runners:
        cmd += ["--runners", str(runners)]
    if args.tmpdir:
        cmd += ["--tmpdir", args.tmpdir]
    if args.backend == "postgres":
        cmd += ["--pg-url", args.pg_url]
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


def event_floor(args: argparse.Namespace, runs: int) -> dict[str, Any]:
    """The engine's own transactions of the event workload with ``runs`` parked runs, right
    after the workload, on a fresh store file (``bench.event_floor``)."""
    from bench.event_floor import event_floor as measure

    tmp = Path(tempfile.mkdtemp(prefix="dxbench-event-floor-", dir=args.tmpdir))
    try:
        return measure(tmp / "floor.db", runs=runs, batch=500)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    if sys.argv[1:2] == ["sweep"]:
        from bench import sweep

        sweep.main(sys.argv[2:])
        return
    args = parse()
    check_backend(args)
    if args.vs:
        vs.ensure_venv()
    chosen = [w for w in (args.workloads or ORDER) if w not in args.skip]
    out_fh = open(args.out, "a") if args.out else None  # noqa: SIM115

    def emit(obj: dict[str, Any]) -> None:
        text = report.dumps(obj)
        print(text, flush=True)
        if out_fh:
            out_fh.write(text + "\n")
            out_fh.flush()

    lines: list[dict[str, Any]] = []
    ratios: list[dict[str, Any]] = []
    scalings: list[dict[str, Any]] = []
    raws: dict[str, dict[str, Any]] = {}
    if not args.no_raw:
        tmp = Path(tempfile.mkdtemp(prefix="dxbench-raw-", dir=args.tmpdir))
        try:
            measured = raw.measure_all(tmp, args.raw_rows, args.raw_batch_rows)
            if args.backend == "postgres":
                measured += raw.measure_pg(args.pg_url, args.raw_rows, args.raw_batch_rows)
            for name, figures in measured:
                raws[name] = figures
                obj = report.raw_line(args.backend, args.durability, name, figures)
                lines.append(obj)
                emit(obj)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def adjacent(obj: dict[str, Any], durability: str, before: float | None) -> None:
        if raws and not obj.get("error"):
            report.add_ratios(obj, raws, durability)
            if before is not None:
                report.add_adjacent_ratio(obj, (before + adjacent_raw(args)) / 2)

    for _ in range(args.repeat):
        for workload in chosen:
            params = params_for(args, workload)
            ours: list[dict[str, Any]] = []
            counts = args.runners if workload != "parked" else args.runners[:1]
            for runners in counts:
                t = time.perf_counter()
                before = adjacent_raw(args) if raws else None
                procs = runner_procs(args, runners)
                figures = run_worker(args, workload, params, runners=procs)
                obj = report.line(args.backend, args.durability, workload, figures)
                obj["step_bodies"] = "sync" if args.sync_steps else "async"
                # the worker's own line says it; a failed worker's does not
                obj.setdefault("runners", f"{procs} process(es)" if procs else "in-process")
                if workload != "parked":
                    obj["runner_count"] = runners
                adjacent(obj, args.durability, before)
                if (
                    workload == "event"
                    and raws
                    and args.backend == "sqlite"
                    and args.durability == "full"
                    and not obj.get("error")
                ):
                    report.add_event_floor(obj, event_floor(args, int(params["R"])))
                obj["bench_s"] = round(time.perf_counter() - t, 2)
                lines.append(obj)
                ours.append(obj)
                emit(obj)
            for obj in ours[1:]:
                scalings.append(vs.scaling_line(ours[0], obj))
                emit(scalings[-1])
            if args.vs == "dbos":
                t = time.perf_counter()
                before = adjacent_raw(args) if raws else None
                pg = args.pg_url if args.backend == "postgres" else None
                peer_params = dbos_params(args, workload, params)
                figures = vs.run_dbos(workload, peer_params, args.timeout, args.tmpdir, pg)
                peer = report.line(args.backend, "dbos-default", workload, figures, "dbos")
                adjacent(peer, "full", before)
                peer["bench_s"] = round(time.perf_counter() - t, 2)
                lines.append(peer)
                emit(peer)
                for obj in ours:
                    ratios.append(vs.ratio_line(obj, peer))
                    emit(ratios[-1])
    print(file=sys.stderr)
    print(report.table(lines), file=sys.stderr)
    if scalings:
        print(file=sys.stderr)
        print(report.scaling_table(scalings), file=sys.stderr)
    if ratios:
        print(file=sys.stderr)
        print(report.ratio_table(ratios), file=sys.stderr)
    if out_fh:
        out_fh.close()
    if any(o.get("error") for o in lines):
        sys.exit(1)


if __name__ == "__main__":
    main()
