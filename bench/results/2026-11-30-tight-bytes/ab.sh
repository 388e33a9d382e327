#!/usr/bin/env bash
# Before/after for "Encoded values that own only their length" (ninth session of 2026-11-30):
# the engine of f087513 in a worktree at /tmp/base (git worktree add /tmp/base f087513) and
# this checkout, alternating, each line one `python -m bench.worker` run.
# The last four lines of ab.jsonl are two more alternating rounds of parked R=100,000
# (`bench.worker parked --params '{"R": 100000}'`), run after the three rounds.
# Usage: bash bench/results/2026-11-30-tight-bytes/ab.sh ROUNDS OUT.jsonl
set -euo pipefail
rounds=${1:-3}
out=${2:-ab.jsonl}
py=/work/main/.venv/bin/python
run() {  # label dir workload params [extra args]
    local label=$1 dir=$2 workload=$3 params=$4
    shift 4
    (cd "$dir" && PYTHONPATH="$dir/src:$dir" $py -m bench.worker "$workload" --params "$params" "$@") |
        $py -c "import json,sys; d=json.load(sys.stdin); d['engine']='$label'; d['workload']='$workload'; print(json.dumps(d))" >>"$out"
}
for _ in $(seq "$rounds"); do
    for side in "before /tmp/base" "after /work/main"; do
        set -- $side
        run "$1" "$2" seq '{"N": 1000}'
        run "$1" "$2" seq '{"N": 20000}' --durability process
        run "$1" "$2" fanout '{"R": 500, "S": 10}'
        run "$1" "$2" sleep '{"R": 10000, "D": 2}' --runners 2
        run "$1" "$2" event '{"R": 10000}' --runners 2
    done
done
