#!/bin/bash
# Wake-up datagrams between processes: this engine (head) against c1761c6 (base, in a worktree:
# git worktree add /tmp/base c1761c6), alternating, three rounds; lines in wakeups-before-after.jsonl (the first version, which told work at every commit: wakeups-before-after-uncoalesced.jsonl).
R=/work/main/bench/results/2026-11-30-brief-commits
PY=/work/main/.venv/bin/python
for round in 1 2 3; do
  for w in "latency {\"K\":200} 1" "latency {\"K\":200} 0" "fanout {\"R\":500,\"S\":10} 2" \
           "event {\"R\":10000} 2" "sleep {\"R\":10000,\"D\":2} 2" "sleep {\"R\":1000,\"D\":2} 1"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
      line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 --durability full 2>/dev/null | tail -1)
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", ${line:1}}" >> $R/wakeups-before-after.jsonl
    done
  done
done
