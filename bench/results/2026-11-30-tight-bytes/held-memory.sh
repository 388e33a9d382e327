#!/usr/bin/env bash
# What a held run costs: sleep D=2 with one runner in the measuring process, R=1,000 and
# R=10,000, at the engine of f087513 (worktree /tmp/base) and this checkout; prints
# "engine R peak_rss_mb p99_ms" (held-memory.txt). Per held run: the RSS difference / 9,000.
set -euo pipefail
py=/work/main/.venv/bin/python
for side in "before /tmp/base" "after /work/main"; do
    set -- $side
    for r in 1000 10000; do
        (cd "$2" && PYTHONPATH="$2/src:$2" $py -m bench.worker sleep --params "{\"R\": $r, \"D\": 2}") |
            $py -c "import json,sys; d=json.load(sys.stdin); print('$1', $r, d['peak_rss_mb'], d['p99_ms'])"
    done
done
