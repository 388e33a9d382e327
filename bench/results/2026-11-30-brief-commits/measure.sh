#!/bin/bash
# The measurements of docs/performance.md, "Brief commits near wake-ups": this engine (head)
# against the one before the change (base, 80c4c00, in a worktree: git worktree add /tmp/base
# 80c4c00), alternating workload by workload.
# budget-2-4-10ms.jsonl came first: the transaction budget (then read from an environment
# variable DX_TXB for this run only) at 10, 4 and 2 ms for every writer, four rounds.
R=/work/main/bench/results/2026-11-30-brief-commits
PY=/work/main/.venv/bin/python
ab() {  # ab OUT ROUNDS "workload params runners"...
  out=$1; rounds=$2; shift 2
  for round in $(seq $rounds); do
    for w in "$@"; do
      set -- $w
      for v in base head; do
        if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
        line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 --durability full 2>/dev/null | tail -1)
        echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", ${line:1}}" >> $out
      done
    done
  done
}
ab $R/before-after-sleep.jsonl 4 "sleep {\"R\":10000,\"D\":2} 2" "sleep {\"R\":10000,\"D\":2} 1" \
  "sleep {\"R\":10000,\"D\":2} 0" "fanout {\"R\":500,\"S\":10} 2"
ab $R/before-after-others.jsonl 5 "fanout {\"R\":500,\"S\":10} 2" "fanout {\"R\":500,\"S\":10} 0" \
  "event {\"R\":10000} 0" "sleep {\"R\":1000,\"D\":2} 0"
