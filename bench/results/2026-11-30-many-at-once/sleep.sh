#!/bin/bash
# The sleep target with the session's last engine (after eacaa69: segments in proportion to the
# time budget), two runner processes, three runs in one invocation of the suite; then the
# alternating rounds of the three engines (d46dd38 at /tmp/base, eacaa69^ at /tmp/head7, this
# checkout) behind the table of change 3.
R=/work/main/bench/results/2026-11-30-many-at-once
PY=/work/main/.venv/bin/python
cd /work/main
$PY -m bench sleep --R 10000 --runners 2 --runner-procs --repeat 3 --out $R/targets-sleep.jsonl
