#!/usr/bin/env bash
# Kept workflows (eleventh session of 2026-11-30), measured and not kept: the engine of 5d76902
# ("before") against the same with kept-workflows.patch applied ("kept"), alternating, on the
# CPU a runner spends per resumed run of the event workload and on the workload itself.
#   git worktree add /tmp/kept 5d76902 && git -C /tmp/kept apply kept-workflows.patch
# Usage: bash bench/results/2026-11-30-kept-workflows/ab.sh ROUNDS OUT.jsonl
set -euo pipefail
source "$(dirname "$0")/../2026-11-30-tight-bytes/lib.sh"
rounds=${1:-3}
out=${2:-ab.jsonl}
SIDES=("before /work/main" "kept /tmp/kept")
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        (cd "$2" && PYTHONPATH="$2/src:$2" $py /work/main/bench/results/2026-11-30-set-sends/resume_cpu.py --R 10000 --repeat 1) |
            label "$1" workload=resume_cpu >>"$out"
        labelled_run "$1" "$2" event '{"R": 10000}' --runners 2 >>"$out"
    done
done
