#!/bin/bash
# The measurements of docs/performance.md, "Wake-ups on time under load" (2026-11-30, second
# session): this engine against the one before the change, in a worktree at /tmp/base
# (git worktree add /tmp/base f552086), alternating workload by workload, three rounds.
set -x
R=/work/main/bench/results/2026-11-30-wakeups
PY=/work/main/.venv/bin/python
cd /work/main
git rev-parse --short HEAD > $R/commit.txt
for round in 1 2 3; do
  for w in "sleep {\"R\":10000,\"D\":2} 0" "sleep {\"R\":10000,\"D\":2} 1" "sleep {\"R\":10000,\"D\":2} 2" "sleep {\"R\":1000,\"D\":2} 0" "fanout {\"R\":500,\"S\":10} 0" "event {\"R\":10000} 0" "latency {\"K\":200} 0"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
      out=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 --durability full 2>/dev/null | tail -1)
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", ${out:1}}" >> $R/before-after.jsonl
    done
  done
done
# before-after-count-cap-0587d9a.jsonl: the same at commit 0587d9a, whose cap of 256 writes a
# transaction (replaced by the 10 ms budget) cost fanout 28 %
echo done > $R/DONE
