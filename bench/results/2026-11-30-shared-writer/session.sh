#!/bin/bash
# The sixth session's engine (head: a run's end handed to its waiter with the commit's notice;
# a client beside a runner writing through the runner's SQLite connection) against the one it
# started from (base, 84811a9, in a worktree: git worktree add /tmp/base 84811a9), alternating
# workload by workload, four rounds; lines in session-before-after.jsonl. Then the targets that
# these changes touch, each in one invocation of the suite, and the trace of a round trip.
R=/work/main/bench/results/2026-11-30-shared-writer
PY=/work/main/.venv/bin/python
for round in 1 2 3 4; do
  for w in "latency {\"K\":200} 0 full" "latency {\"K\":200} 0 process" "seq {\"N\":1000} 0 full" \
           "fanout {\"R\":500,\"S\":10} 0 full"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
      line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 --durability $4 2>/dev/null | tail -1)
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", \"durability\": \"$4\", ${line:1}}" >> $R/session-before-after.jsonl
    done
  done
done
cd /work/main
$PY -m bench seq latency --repeat 3 --out $R/targets-seq-latency.jsonl
$PY -m bench.trace_latency > $R/trace-latency.txt
# the event target, each run followed by its floor (the engine's own transactions alone)
$PY -m bench event --R 10000 --runners 2 --runner-procs --repeat 3 --out $R/targets-event.jsonl
