#!/usr/bin/env bash
# What a held run costs: sleep D=2 with one runner in the measuring process, R=1,000 and
# R=10,000, on the two engines of lib.sh; prints "engine R peak_rss_mb p99_ms"
# (held-memory.txt). Per held run: the RSS difference / 9,000.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
for side in "${SIDES[@]}"; do
    set -- $side
    for r in 1000 10000; do
        labelled_run "$1" "$2" sleep "{\"R\": $r, \"D\": 2}" |
            $py -c "import json,sys; d=json.load(sys.stdin); print(d['engine'], $r, d['peak_rss_mb'], d['p99_ms'])"
    done
done
