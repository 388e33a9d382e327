"""``python -m tests.chaos --backend sqlite|postgres --runners N --minutes M --seed S``

Runs the chaos driver (``tests/chaos/driver.py``) for as long as asked, then prints the kills
survived, the runs, steps and step executions, and the violations (exit status 1 if any).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .driver import Config, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runners", type=int, default=None, help="2 on SQLite, 3 on PostgreSQL")
    parser.add_argument("--minutes", type=float, default=1.0, help="how long the load runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--in-flight", type=int, default=24, help="open runs kept started")
    parser.add_argument("--kill-every", type=float, default=2.5, help="mean seconds between kills")
    parser.add_argument("--out", type=Path, default=None, help="keep the database and logs here")
    parser.add_argument("--pg-url", default=os.environ.get("DURABLEX_TEST_PG_URL"))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    root = args.out or Path(tempfile.mkdtemp(prefix="durablex-chaos-"))
    config = Config(
        backend=args.backend,
        runners=args.runners or (2 if args.backend == "sqlite" else 3),
        seconds=args.minutes * 60,
        seed=args.seed,
        root=root,
        pg_url=args.pg_url,
        in_flight=args.in_flight,
        kill_every=args.kill_every,
        verbose=args.verbose,
    )
    print(
        f"chaos: {config.backend}, {config.runners} runners, {args.minutes} min, "
        f"seed {config.seed}, files in {root}",
        flush=True,
    )
    report = run(config)
    if args.out is None and not report.violations:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
