#!/usr/bin/env bash
# Before/after for "A send that resolves its waiters in one statement each" (tenth session of
# 2026-11-30): the engine of 11e6c0c in a worktree (git worktree add /tmp/base 11e6c0c) and
# this checkout, alternating, each line one `python -m bench.worker` run (lib.sh of the ninth
# session), then the SQL floor of the event workload on each.
# Usage: bash bench/results/2026-11-30-set-sends/ab.sh ROUNDS OUT.jsonl FLOOR.jsonl
set -euo pipefail
source "$(dirname "$0")/../2026-11-30-tight-bytes/lib.sh"
rounds=${1:-3}
out=${2:-ab.jsonl}
floor=${3:-event-floor.jsonl}
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        labelled_run "$1" "$2" event '{"R": 10000}' --runners 2 >>"$out"
        labelled_run "$1" "$2" event '{"R": 1000}' >>"$out"
        (cd "$2" && PYTHONPATH="$2/src:$2" $py -m bench.event_floor --R 10000) |
            label "$1" >>"$floor"
    done
done
