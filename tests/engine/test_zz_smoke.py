import asyncio, durablex

async def test_basic(tmp_path):
    app = durablex.App("a")
    @app.workflow("wf", retries=0)
    async def wf(ctx):
        x = await ctx.step.run("one", lambda: (1, 2))
        await ctx.step.sleep("nap", 10)
        y = await ctx.step.run("two", x, lambda i: i + [3])
        return {"x": x, "y": y}
    db = f"sqlite:///{tmp_path}/x.db"
    async with durablex.Runner(app, db=db) as r, durablex.AsyncClient(db) as c:
        h = await c.start("wf", {"a": 1})
        out = await h.result(timeout=10)
        print(out)
        run = await c.get_run(h.run_id)
        print(run)
