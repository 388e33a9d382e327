#!/usr/bin/env bash
# sleep R=10,000 with two runner processes only, more alternating rounds (its p99 is the
# noisiest figure), the two engines of lib.sh. sleep-more.txt: eight more rounds of the same
# loop, printing "engine p99_ms p50_ms" instead of JSON lines.
# Usage: bash bench/results/2026-11-30-tight-bytes/sleep.sh ROUNDS OUT.jsonl
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-6}
out=${2:-sleep.jsonl}
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        labelled_run "$1" "$2" sleep '{"R": 10000, "D": 2}' --runners 2 >>"$out"
    done
done
