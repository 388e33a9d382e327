#!/usr/bin/env bash
# Every issue 5 target again on the Intel Xeon KVM guest of 2026-12-01 (fourteenth session),
# after a step began to give the event loop a turn every 5 ms (7621b3e); nothing else running.
# Usage: bash bench/results/2026-12-01-loop-turns/measure.sh   (from the repository root)
set -euo pipefail
R=bench/results/2026-12-01-loop-turns
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

# later the same session: ten more rounds of seq after the step-path trims (1d3a9b8), twenty of
# seq and latency with the session's last engine (5dc1f2d)
$PY -m bench seq --repeat 10 --out $R/seq-trims.jsonl >$R/seq-trims.txt 2>&1
$PY -m bench seq latency --repeat 10 --out $R/seq-latency-final.jsonl >$R/seq-latency-final.txt 2>&1
$PY -m bench seq latency --repeat 10 --out $R/seq-latency-final-2.jsonl >$R/seq-latency-final-2.txt 2>&1
echo done >$R/DONE
