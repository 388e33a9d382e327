#!/usr/bin/env bash
# More alternating rounds after ab.sh: sleep R=10,000 with two runner processes (its p99 is
# the noisiest figure), with one runner in the measuring process (whose peak RSS then includes
# the 10,000 held runs), and fanout with one runner. The two engines of lib.sh.
# Usage: bash bench/results/2026-11-30-tight-bytes/more.sh ROUNDS OUT.jsonl
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-4}
out=${2:-more.jsonl}
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        labelled_run "$1" "$2" sleep '{"R": 10000, "D": 2}' --runners 2 >>"$out"
        labelled_run "$1" "$2" sleep '{"R": 10000, "D": 2}' >>"$out"
        labelled_run "$1" "$2" fanout '{"R": 500, "S": 10}' >>"$out"
    done
done
