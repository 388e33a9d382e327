#!/usr/bin/env bash
# The extra alternating rounds of the two workloads whose clients start runs off the runners'
# loops (event R=10,000 and fanout with two runner processes), after session.sh: before
# (/tmp/base, aa8be57) against after (this checkout). Usage: bash more.sh ROUNDS OUT.jsonl
set -euo pipefail
source "$(dirname "$0")/../2026-11-30-tight-bytes/lib.sh"
rounds=${1:-3}
out=${2:-more.jsonl}
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        labelled_run "$1" "$2" event '{"R": 10000}' --runners 2 >>"$out"
        labelled_run "$1" "$2" fanout '{"R": 500, "S": 10}' --runners 2 >>"$out"
    done
done
