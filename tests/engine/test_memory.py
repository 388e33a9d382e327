"""What an active run keeps in memory for each step it has completed."""

from __future__ import annotations

import tracemalloc

import durablex

STEPS = 600
FIRST_MEASURED = 100
# A completed step's record in its pass's journal (the row, its id, its JSON input and output)
# takes about 510-540 bytes. Before encoded values were trimmed, orjson 3.12 and later kept a
# 4 KB buffer behind each of the two, and such a step kept about 8.6 KB.
MAX_BYTES_PER_STEP = 1500


async def test_a_long_run_keeps_each_completed_step_in_a_few_hundred_bytes(
    db: str, client: durablex.AsyncClient
) -> None:
    app = durablex.App("memory")
    traced: dict[int, int] = {}

    async def measure(i: int) -> dict[str, int]:
        if i in (FIRST_MEASURED, STEPS - 1):
            traced[i] = tracemalloc.get_traced_memory()[0]
        return {"i": i}

    @app.workflow("long")
    async def long(ctx: durablex.Context) -> int:
        for i in range(STEPS):
            await ctx.step.run(f"step-{i}", i, measure)
        return STEPS

    tracemalloc.start()
    try:
        async with durablex.Runner(app, db=db):
            handle = await client.start("long")
            assert await handle.result(timeout=60) == STEPS
    finally:
        tracemalloc.stop()
    per_step = (traced[STEPS - 1] - traced[FIRST_MEASURED]) / (STEPS - 1 - FIRST_MEASURED)
    assert per_step < MAX_BYTES_PER_STEP, f"{per_step:.0f} bytes kept per completed step"
