#!/usr/bin/env bash
# seq and latency with the guest's halt polling off (guest_halt_poll_ns = 0, as the machine came)
# and at 200 µs, alternating, three rounds; puts the setting back to 0. As root, on a KVM guest
# whose cpuidle driver is haltpoll. Usage: bash bench/results/2026-12-01-intel/haltpoll.sh
set -euo pipefail
R=bench/results/2026-12-01-intel
knob=/sys/module/haltpoll/parameters/guest_halt_poll_ns
trap 'echo 0 >$knob' EXIT
for _ in 1 2 3; do
    for ns in 0 200000; do
        echo $ns >$knob
        .venv/bin/python -m bench seq latency --out $R/haltpoll-$ns.jsonl >/dev/null 2>&1
    done
done
