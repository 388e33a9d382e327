#!/bin/bash
# The fifth session's engine (head: runs handed to the runner of the client's loop, SQLite
# schema version 2) against the one it started from (base, 31fb02c, in a worktree:
# git worktree add /tmp/base 31fb02c), alternating workload by workload, three rounds; lines in
# session-before-after.jsonl. Then the targets, each in one invocation of the suite.
R=/work/main/bench/results/2026-11-30-handoff
PY=/work/main/.venv/bin/python
for round in 1 2 3; do
  for w in "latency {\"K\":200} 0 full" "latency {\"K\":200} 0 process" "seq {\"N\":1000} 0 full" \
           "fanout {\"R\":500,\"S\":10} 0 full" "fanout {\"R\":500,\"S\":10} 2 full" \
           "event {\"R\":10000} 2 full" "sleep {\"R\":10000,\"D\":2} 2 full"; do
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
$PY -m bench event --R 10000 --runners 2 --runner-procs --repeat 3 --out $R/targets-event.jsonl
$PY -m bench.trace_latency > $R/trace-latency.txt
