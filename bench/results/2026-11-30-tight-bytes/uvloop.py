"""A bench.worker run on uvloop's event loop (``uv``) or asyncio's own (``std``), for the
"Measured and not kept: uvloop" paragraph of docs/performance.md. Needs ``pip install uvloop``
in the venv (not a project dependency; uninstalled after the check). From the repository root:

    PYTHONPATH=. .venv/bin/python bench/results/2026-11-30-tight-bytes/uvloop.py uv latency \\
        --params '{"K": 200}'

The figures of the paragraph, three alternating rounds (std, uv), are in uvloop.txt.
"""

import asyncio
import runpy
import sys

if sys.argv[1] == "uv":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
sys.argv = ["bench.worker", *sys.argv[2:]]
runpy.run_module("bench.worker", run_name="__main__")
