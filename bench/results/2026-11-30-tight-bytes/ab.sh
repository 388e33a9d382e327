#!/usr/bin/env bash
# Before/after for "Encoded values that own only their length" (ninth session of 2026-11-30):
# the two engines of lib.sh, alternating, each line one `python -m bench.worker` run.
# The last four lines of ab.jsonl are two more alternating rounds of parked R=100,000
# (`bench.worker parked --params '{"R": 100000}'`), run after the three rounds.
# Usage: bash bench/results/2026-11-30-tight-bytes/ab.sh ROUNDS OUT.jsonl
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-3}
out=${2:-ab.jsonl}
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        labelled_run "$1" "$2" seq '{"N": 1000}' >>"$out"
        labelled_run "$1" "$2" seq '{"N": 20000}' --durability process >>"$out"
        labelled_run "$1" "$2" fanout '{"R": 500, "S": 10}' >>"$out"
        labelled_run "$1" "$2" sleep '{"R": 10000, "D": 2}' --runners 2 >>"$out"
        labelled_run "$1" "$2" event '{"R": 10000}' --runners 2 >>"$out"
    done
done
