#!/bin/bash
# The 2026-11-30 measurements of docs/performance.md; expects the engine to compare with in a
# worktree at /tmp/base (git worktree add /tmp/base a78a008).
set -x
R=/work/main/bench/results/2026-11-30
PY=/work/main/.venv/bin/python
cd /work/main
git rev-parse --short HEAD > $R/commit.txt
$PY -m bench --vs dbos --durability full --dbos-param parked.R=10000 --out $R/full.jsonl > $R/full.txt 2>&1
$PY -m bench seq fanout latency --durability process --out $R/process.jsonl > $R/process.txt 2>&1
$PY -m bench fanout --runners 1 2 --repeat 3 --out $R/fanout-runners.jsonl > $R/fanout-runners.txt 2>&1
$PY -m bench event sleep --R 10000 --runners 1 2 --out $R/targets.jsonl > $R/targets.txt 2>&1
$PY -m bench seq latency --repeat 3 --out $R/seq-latency-repeat.jsonl > $R/seq-latency-repeat.txt 2>&1
# before (a78a008, the start of the session) / after, alternating, in-process runner
for round in 1 2 3; do
  for w in "latency {\"K\":200}" "fanout {\"R\":500,\"S\":10}" "sleep {\"R\":1000,\"D\":2}" "sleep {\"R\":10000,\"D\":2}" "event {\"R\":10000}"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
      out=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --durability full 2>/dev/null | tail -1)
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", ${out:1}}" >> $R/before-after.jsonl
    done
  done
done
# three more seq runs in process durability (run after the rest on 2026-11-30)
$PY -m bench seq --durability process --repeat 3 --out $R/seq-process-repeat.jsonl > $R/seq-process-repeat.txt 2>&1
echo done > $R/DONE
