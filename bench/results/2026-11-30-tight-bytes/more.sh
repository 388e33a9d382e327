#!/usr/bin/env bash
# More alternating rounds after ab.sh: sleep R=10,000 with two runner processes (its p99 is
# the noisiest figure), with one runner in the measuring process (whose peak RSS then includes
# the 10,000 held runs), and fanout with one runner. Same worktree as ab.sh.
# Usage: bash bench/results/2026-11-30-tight-bytes/more.sh ROUNDS OUT.jsonl
set -euo pipefail
rounds=${1:-4}
out=${2:-more.jsonl}
py=/work/main/.venv/bin/python
run() {  # label dir workload params [extra args]
    local label=$1 dir=$2 workload=$3 params=$4
    shift 4
    (cd "$dir" && PYTHONPATH="$dir/src:$dir" $py -m bench.worker "$workload" --params "$params" "$@") |
        $py -c "import json,sys; d=json.load(sys.stdin); d['engine']='$label'; d['workload']='$workload'; d['args']='$*'; print(json.dumps(d))" >>"$out"
}
for _ in $(seq "$rounds"); do
    for side in "before /tmp/base" "after /work/main"; do
        set -- $side
        run "$1" "$2" sleep '{"R": 10000, "D": 2}' --runners 2
        run "$1" "$2" sleep '{"R": 10000, "D": 2}'
        run "$1" "$2" fanout '{"R": 500, "S": 10}'
    done
done
