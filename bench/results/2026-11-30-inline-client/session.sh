#!/bin/bash
# The fourth session's engine (head) against the one it started from (base, f4bf6d2, in a
# worktree: git worktree add /tmp/base f4bf6d2), alternating workload by workload, three
# rounds; lines in session-before-after.jsonl.
R=/work/main/bench/results/2026-11-30-inline-client
PY=/work/main/.venv/bin/python
for round in 1 2 3; do
  for w in "seq {\"N\":1000} 0 full" "seq {\"N\":1000} 0 process" "latency {\"K\":200} 0 full" \
           "latency {\"K\":200} 1 full" "fanout {\"R\":500,\"S\":10} 0 full" \
           "fanout {\"R\":500,\"S\":10} 2 full" "event {\"R\":10000} 2 full" \
           "sleep {\"R\":10000,\"D\":2} 2 full"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
      line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 --durability $4 2>/dev/null | tail -1)
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", \"durability\": \"$4\", ${line:1}}" >> $R/session-before-after.jsonl
    done
  done
done
