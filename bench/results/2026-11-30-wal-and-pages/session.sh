#!/bin/bash
# The eighth session's engine (head: the WAL grown to its working size when the store opens a
# database, presize_wal) against the one it started from (base, 422fc2a, in a worktree:
# git worktree add /tmp/base 422fc2a), alternating workload by workload, three rounds; lines in
# session-before-after.jsonl. Then the targets in one invocation of the suite each.
R=/work/main/bench/results/2026-11-30-wal-and-pages
PY=/work/main/.venv/bin/python
for round in 1 2 3; do
  for w in "seq {\"N\":1000} 0 full" "latency {\"K\":200} 0 full" "fanout {\"R\":500,\"S\":10} 2 full" \
           "event {\"R\":10000} 2 full" "sleep {\"R\":10000,\"D\":2} 2 full" "seq {\"N\":1000} 0 full"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
      line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 --durability $4 2>/dev/null | tail -1)
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", \"runners\": $3, \"durability\": \"$4\", ${line:1}}" >> $R/session-before-after.jsonl
    done
  done
done
cd /work/main
$PY -m bench seq latency fanout --repeat 2 --out $R/targets-seq-latency-fanout.jsonl
$PY -m bench event --R 10000 --runners 2 --runner-procs --repeat 2 --out $R/targets-event.jsonl
# the seq floor against the store-WAL raw loop, three more invocations
for i in 1 2 3; do $PY -m bench seq --out $R/seq-floors.jsonl; done
# Then eight more rounds of seq alone (seq-more.jsonl), and four more of event (event-more.txt).
for round in 1 2 3 4 5 6 7 8; do
  for v in base head; do
    if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
    line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker seq 2>/dev/null | tail -1)
    echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"seq\", \"runners\": 0, \"durability\": \"full\", ${line:1}}" >> $R/seq-more.jsonl
  done
done
for round in 1 2 3 4; do
  for v in base head; do
    if [ $v = base ]; then d=/tmp/base; else d=/work/main; fi
    echo -n "$v " >> $R/event-more.txt
    (cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker event --params '{"R":10000}' --runners 2 2>/dev/null | tail -1) >> $R/event-more.txt
  done
done
