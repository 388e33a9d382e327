#!/usr/bin/env bash
# Every issue 5 target with the engine as the fourteenth session left it (steps that give the
# loop a turn when it has not turned, the step-path trims, the client's watch on its runner's
# writer), on the Intel Xeon KVM guest of 2026-12-01, nothing else running; then PostgreSQL
# against DBOS.
# Usage: bash bench/results/2026-12-01-final/measure.sh   (from the repository root)
# Summary: python -m bench.targets bench/results/2026-12-01-final
set -euo pipefail
R=bench/results/2026-12-01-final
PY=.venv/bin/python
git rev-parse --short HEAD >$R/commit.txt
{ nproc; grep -m1 "model name" /proc/cpuinfo; uname -r; cat /sys/module/haltpoll/parameters/guest_halt_poll_ns; } >$R/machine.txt
$PY -m bench seq latency --repeat 10 --out $R/seq-latency.jsonl >$R/seq-latency.txt 2>&1
$PY -m bench seq --durability process --N 20000 --repeat 3 --out $R/seq-process.jsonl >$R/seq-process.txt 2>&1
$PY -m bench fanout --runners 1 2 --runner-procs --repeat 3 --out $R/fanout.jsonl >$R/fanout.txt 2>&1
$PY -m bench fanout --vs dbos --out $R/fanout-dbos.jsonl >$R/fanout-dbos.txt 2>&1
$PY -m bench event --R 10000 --runners 1 2 --runner-procs --repeat 3 --out $R/event.jsonl >$R/event.txt 2>&1
$PY -m bench sleep --R 10000 --D 2 --runners 1 2 --runner-procs --repeat 3 --out $R/sleep.jsonl >$R/sleep.txt 2>&1
$PY -m bench parked resume --repeat 3 --out $R/parked-resume.jsonl >$R/parked-resume.txt 2>&1
$PY -m bench seq latency --repeat 10 --out $R/seq-latency-2.jsonl >$R/seq-latency-2.txt 2>&1
$PY -m bench seq latency --repeat 10 --out $R/seq-latency-3.jsonl >$R/seq-latency-3.txt 2>&1
# PostgreSQL (the local server of scripts/postgres), one and two runner processes, against DBOS
$PY -m bench --backend postgres --vs dbos --runners 1 2 --runner-procs --skip parked \
    --out $R/postgres.jsonl >$R/postgres.txt 2>&1
echo done >$R/DONE
