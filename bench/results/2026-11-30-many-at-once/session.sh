#!/bin/bash
# The seventh session's engine (head: step records and run ends of many runs made a statement
# for many at a time; pass-through sqlite3 adapters for None and bytes) against the one it
# started from (base, d46dd38, in a worktree: git worktree add /tmp/base d46dd38), alternating
# workload by workload, three rounds; lines in session-before-after.jsonl. Then the targets
# that these changes touch, each in one invocation of the suite, and the event floor alone.
R=/work/main/bench/results/2026-11-30-many-at-once
PY=/work/main/.venv/bin/python
for round in 1 2 3; do
  for w in "event {\"R\":10000} 2 full" "fanout {\"R\":500,\"S\":10} 0 full" \
           "fanout {\"R\":500,\"S\":10} 2 full" "latency {\"K\":200} 0 full" "seq {\"N\":1000} 0 full"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
      line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 --durability $4 2>/dev/null | tail -1)
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", \"runners\": $3, \"durability\": \"$4\", ${line:1}}" >> $R/session-before-after.jsonl
    done
  done
done
cd /work/main
$PY -m bench event --R 10000 --runners 2 --runner-procs --repeat 3 --out $R/targets-event.jsonl
$PY -m bench seq latency fanout --repeat 2 --out $R/targets-seq-latency-fanout.jsonl
for v in base head; do
  if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
  (cd $d && PYTHONPATH=$d/src:$d $PY -m bench.event_floor --R 10000 --repeat 3) | sed "s/^{/{\"ver\": \"$v\", /" >> $R/event-floor.jsonl
done
