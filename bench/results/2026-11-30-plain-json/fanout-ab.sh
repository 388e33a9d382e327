#!/usr/bin/env bash
# Fanout R=500 S=10 with one runner, the engine of 11e6c0c (/tmp/base) and this checkout
# alternating (lib.sh of the ninth session), after the plain-JSON encode: twelve rounds.
# Usage: bash bench/results/2026-11-30-plain-json/fanout-ab.sh ROUNDS OUT.jsonl
set -euo pipefail
source "$(dirname "$0")/../2026-11-30-tight-bytes/lib.sh"
rounds=${1:-12}
out=${2:-fanout-ab.jsonl}
for _ in $(seq "$rounds"); do
    for side in "${SIDES[@]}"; do
        set -- $side
        labelled_run "$1" "$2" fanout '{"R": 500, "S": 10}' >>"$out"
    done
done
