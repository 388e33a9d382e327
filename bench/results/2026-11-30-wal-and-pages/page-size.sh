#!/bin/bash
# Page size 4096 (SQLite's default) against 2048 for a new database, alternating, three rounds.
# Needs a temporary switch not kept in the code: connection.connect ran
# "PRAGMA page_size = $DX_PS" before switching a new file to WAL (not kept: see
# docs/performance.md, "A WAL of its full size from the start").
OUT=/work/main/bench/results/2026-11-30-wal-and-pages/page-size.jsonl
PY=/work/main/.venv/bin/python
cd /work/main
for round in 1 2 3; do
  for w in "parked {\"R\":100000} 0" "resume {\"N\":1000} 0" "sleep {\"R\":1000,\"D\":2} 0" "seq {\"N\":1000} 0" "fanout {\"R\":500,\"S\":10} 2" "latency {\"K\":200} 0" "parallel {\"P\":200} 0"; do
    set -- $w
    for ps in 4096 2048; do
      line=$(DX_PS=$ps timeout 900 $PY -m bench.worker $1 --params "$2" --runners $3 2>/dev/null | tail -1)
      echo "{\"ps\": $ps, \"round\": $round, \"workload\": \"$1\", \"line\": $line}" >> $OUT
    done
  done
done

