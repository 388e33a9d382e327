#!/bin/bash
# PostgreSQL round trips (sixth session): the engine after the three PostgreSQL changes (head)
# against the one before them (base, be05972, in a worktree: git worktree add /tmp/base3
# be05972), alternating, four rounds, one runner in the measuring process, a fresh database
# per run on the local server; lines in pg-before-after.jsonl.
R=/work/main/bench/results/2026-11-30-shared-writer
PY=/work/main/.venv/bin/python
PG=${DURABLEX_TEST_PG_URL:-postgresql://durablex:durablex@127.0.0.1:5432/durablex}
for round in 1 2 3 4; do
  for w in "latency {\"K\":200}" "seq {\"N\":500}" "fanout {\"R\":200,\"S\":10}"; do
    set -- $w
    for v in base head; do
      if [ $v = base ]; then d=/tmp/base3; else d=/work/main; fi
      line=$(cd $d && PYTHONPATH=$d/src:$d timeout 900 $PY -m bench.worker $1 --params "$2" --pg-url $PG 2>/tmp/pg-worker.err | tail -1)
      if [ -z "$line" ]; then cat /tmp/pg-worker.err >&2; continue; fi
      echo "{\"ver\": \"$v\", \"round\": $round, \"line\": {\"workload\": \"$1\", \"durability\": \"full\", ${line:1}}" >> $R/pg-before-after.jsonl
    done
  done
done
