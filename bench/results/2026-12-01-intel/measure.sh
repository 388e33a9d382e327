#!/usr/bin/env bash
# Every issue 5 target on the machine of 2026-12-01 (an Intel Xeon KVM guest, where the earlier
# sessions had an AMD EPYC one), the engine as committed, nothing else running.
# Usage: bash bench/results/2026-12-01-intel/measure.sh   (from the repository root)
set -euo pipefail
R=bench/results/2026-12-01-intel
PY=.venv/bin/python
git rev-parse --short HEAD >$R/commit.txt
{ nproc; grep -m1 "model name" /proc/cpuinfo; uname -r; } >$R/machine.txt
$PY -m bench --vs dbos --durability full --dbos-param parked.R=10000 --out $R/full.jsonl >$R/full.txt 2>&1
$PY -m bench seq latency --repeat 5 --out $R/seq-latency.jsonl >$R/seq-latency.txt 2>&1
$PY -m bench seq --durability process --N 20000 --repeat 3 --out $R/seq-process.jsonl >$R/seq-process.txt 2>&1
$PY -m bench fanout --runners 1 2 --runner-procs --repeat 3 --out $R/fanout.jsonl >$R/fanout.txt 2>&1
$PY -m bench event --R 10000 --runners 1 2 --runner-procs --repeat 3 --out $R/event.jsonl >$R/event.txt 2>&1
$PY -m bench sleep --R 10000 --D 2 --runners 1 2 --runner-procs --repeat 3 --out $R/sleep.jsonl >$R/sleep.txt 2>&1
$PY -m bench parked resume --repeat 3 --out $R/parked-resume.jsonl >$R/parked-resume.txt 2>&1
# ten more rounds of seq and latency, then the throughput sweep and the plot of docs/performance.md
$PY -m bench seq latency --repeat 10 --out $R/seq-latency-10.jsonl >$R/seq-latency-10.txt 2>&1
$PY -m bench sweep --durability full process --vs dbos --out $R/sweep.jsonl \
    --plot docs/images/throughput.png >$R/sweep.txt 2>&1
# six more, after seq's client was changed to await the run's result (58d2820)
$PY -m bench seq latency --repeat 6 --out $R/seq-latency-result.jsonl >$R/seq-latency-result.txt 2>&1
echo done >$R/DONE
# PostgreSQL (the local server of scripts/postgres), one and two runner processes, against DBOS
$PY -m bench --backend postgres --vs dbos --runners 1 2 --runner-procs --skip parked \
    --out $R/postgres.jsonl >$R/postgres.txt 2>&1
