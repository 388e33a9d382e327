#!/usr/bin/env bash
# Runs begun before their start commits (twelfth session of 2026-11-30): the engine of aa8be57
# ("before", in a worktree: git worktree add /tmp/base aa8be57) against this checkout ("after"),
# alternating workload by workload. Usage: bash session.sh ROUNDS OUT.jsonl
set -euo pipefail
source "$(dirname "$0")/../2026-11-30-tight-bytes/lib.sh"
rounds=${1:-3}
out=${2:-session.jsonl}
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        labelled_run "$1" "$2" latency '{"K": 200}' >>"$out"
        labelled_run "$1" "$2" latency '{"K": 200}' --durability process >>"$out"
        labelled_run "$1" "$2" seq '{"N": 1000}' >>"$out"
        labelled_run "$1" "$2" fanout '{"R": 500, "S": 10}' >>"$out"
        labelled_run "$1" "$2" fanout '{"R": 500, "S": 10}' --runners 2 >>"$out"
        labelled_run "$1" "$2" sleep '{"R": 1000, "D": 2}' >>"$out"
        labelled_run "$1" "$2" event '{"R": 10000}' --runners 2 >>"$out"
    done
done
