"""Round trip of a parent run that runs one child (one step each), runner and client in one
process: p50 of K trips."""
import asyncio, statistics, sys, tempfile, time
import durablex

app = durablex.App("pc")

@app.workflow("parent")
async def parent(ctx):
    return await ctx.step.run_workflow("kid", name="kid", data=1)

@app.workflow("kid")
async def kid(ctx):
    return await ctx.step.run("s", lambda: ctx.data)

async def main(k):
    url = f"sqlite:///{tempfile.mkdtemp()}/c.db"
    async with durablex.Runner(app, db=url), durablex.AsyncClient(url) as client:
        for _ in range(20):
            await (await client.start("parent")).result(timeout=30)
        times = []
        for _ in range(k):
            t = time.perf_counter()
            await (await client.start("parent")).result(timeout=30)
            times.append(time.perf_counter() - t)
    print(f"p50 {statistics.median(times)*1e3:.2f} ms  p99 {sorted(times)[int(len(times)*0.99)]*1e3:.2f} ms")

asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
