#!/usr/bin/env bash
# sleep R=10,000 with two runner processes only, more alternating rounds (its p99 is the
# noisiest figure). Same worktree as ab.sh. sleep-more.txt: eight more rounds of the same loop,
# printing "engine p99_ms p50_ms" instead of JSON lines.
# Usage: bash bench/results/2026-11-30-tight-bytes/sleep.sh ROUNDS OUT.jsonl
set -euo pipefail
rounds=${1:-6}
out=${2:-sleep.jsonl}
py=/work/main/.venv/bin/python
for _ in $(seq "$rounds"); do
    for side in "before /tmp/base" "after /work/main"; do
        set -- $side
        (cd "$2" && PYTHONPATH="$2/src:$2" $py -m bench.worker sleep --params '{"R": 10000, "D": 2}' --runners 2) |
            $py -c "import json,sys; d=json.load(sys.stdin); d['engine']='$1'; print(json.dumps(d))" >>"$out"
    done
done
