"""Runs: start, list with filters and cursors, read with steps, cancel, rerun, resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from .support import assert_error, run_with_status


async def start(api: httpx.AsyncClient, workflow: str, data: object = None) -> str:
    response = await api.post("/api/v1/runs", json={"workflow": workflow, "data": data})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/runs/{body['run_id']}"
    assert body["workflow"] == workflow and body["app"] == "api-shop"
    run_id: str = body["run_id"]
    return run_id


async def test_start_and_read_a_run_with_its_steps(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/events", json={"name": "order.created", "data": {"prices": [2, 3]}}
    )
    assert response.status_code == 202
    (run_id,) = response.json()["run_ids"]
    run = await run_with_status(api, run_id, "waiting")
    assert run["input"] == {"prices": [2, 3]}
    assert run["event_name"] == "order.created"
    assert run["runner"] == "api-runner"
    steps = {step["id"]: step for step in run["steps"]}
    assert list(steps) == ["total", "left", "right", "approve"]
    assert steps["total"]["input"] == {"prices": [2, 3]} and steps["total"]["output"] == 5
    assert steps["total"]["after"] == []
    assert steps["left"]["after"] == ["total"] and steps["right"]["after"] == ["total"]
    assert sorted(steps["approve"]["after"]) == ["left", "right"]
    assert steps["approve"]["kind"] == "wait_for_event" and steps["approve"]["status"] == "waiting"
    assert steps["approve"]["input"]["event"] == "order.approved"
    total = steps["total"]
    assert total["attempts"] == 1 and len(total["attempt_log"]) == 1
    assert total["attempt_log"][0]["number"] == 1
    assert total["started_at"].endswith("Z") and total["duration_ms"] >= 0
    assert run["created_at"].endswith("Z")

    sent = await api.post("/api/v1/events", json={"name": "order.approved", "data": {"by": "al"}})
    assert sent.json()["resumed"] == 1
    done = await run_with_status(api, run_id, "completed")
    assert done["output"] == {"total": 5, "parts": "LR", "approval": {"by": "al"}}
    assert done["ended_at"].endswith("Z")


async def test_run_errors_and_tracebacks(api: httpx.AsyncClient) -> None:
    run_id = await start(api, "fails")
    run = await run_with_status(api, run_id, "failed")
    assert run["error"]["type"] in {"StepFailedError", "ZeroDivisionError"}
    (boom,) = run["steps"]
    assert boom["status"] == "failed" and boom["error"]["type"] == "ZeroDivisionError"
    assert "Traceback" in boom["error"]["traceback"]
    assert boom["attempt_log"][0]["error"]["type"] == "ZeroDivisionError"


async def test_list_runs_filters_pages_and_shapes(api: httpx.AsyncClient) -> None:
    ids = [await start(api, "echo", {"n": n}) for n in range(5)]
    for run_id in ids:
        await run_with_status(api, run_id, "completed")
    failed = await start(api, "fails")
    await run_with_status(api, failed, "failed")

    listing = (await api.get("/api/v1/runs", params={"workflow": "echo"})).json()
    assert [run["id"] for run in listing["runs"]] == ids[::-1]
    assert listing["next_cursor"] is None
    assert "steps" not in listing["runs"][0]
    assert listing["runs"][0]["output"] == {"n": 4}

    seen: list[str] = []
    cursor = None
    while True:
        params = {"workflow": "echo", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/runs", params=params)).json()
        assert len(page["runs"]) <= 2
        seen += [run["id"] for run in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]

    by_status = (await api.get("/api/v1/runs", params={"status": "failed"})).json()["runs"]
    assert [run["id"] for run in by_status] == [failed]
    by_app = (await api.get("/api/v1/runs", params={"app": "api-other"})).json()["runs"]
    assert by_app == []
    found = (await api.get("/api/v1/runs", params={"search": ids[2]})).json()["runs"]
    assert [run["id"] for run in found] == [ids[2]]

    event = await api.post(
        "/api/v1/events", json={"name": "order.created", "data": {"prices": [1]}}
    )
    by_event = (await api.get("/api/v1/runs", params={"search": event.json()["event_id"]})).json()
    assert [run["id"] for run in by_event["runs"]] == event.json()["run_ids"]

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    past = "2000-01-01T00:00:00Z"
    assert (await api.get("/api/v1/runs", params={"created_after": future})).json()["runs"] == []
    assert (await api.get("/api/v1/runs", params={"created_before": past})).json()["runs"] == []
    window = {"created_after": past, "created_before": future, "workflow": "echo"}
    assert len((await api.get("/api/v1/runs", params=window)).json()["runs"]) == 5
    naive = {"created_after": "2000-01-01T00:00:00", "workflow": "echo"}
    assert len((await api.get("/api/v1/runs", params=naive)).json()["runs"]) == 5


async def test_cancel_rerun_resume(api: httpx.AsyncClient) -> None:
    napping = await start(api, "nap")
    await run_with_status(api, napping, "sleeping")
    cancelled = await api.post(f"/api/v1/runs/{napping}/cancel")
    assert cancelled.json() == {"run_id": napping, "cancelled": True, "status": "cancelled"}
    again = await api.post(f"/api/v1/runs/{napping}/cancel")
    assert again.json()["cancelled"] is False

    echoed = await start(api, "echo", {"x": [1, 2]})
    await run_with_status(api, echoed, "completed")
    rerun = await api.post(f"/api/v1/runs/{echoed}/rerun")
    assert rerun.status_code == 201
    body = rerun.json()
    assert body["rerun_of"] == echoed and body["run_id"] != echoed
    new_run = await run_with_status(api, body["run_id"], "completed")
    assert new_run["input"] == {"x": [1, 2]} and new_run["output"] == {"x": [1, 2]}

    message = assert_error(await api.post(f"/api/v1/runs/{echoed}/resume"), 409, "conflict")
    assert "only a failed run can be resumed" in message

    failing = await start(api, "fails")
    await run_with_status(api, failing, "failed")
    resumed = await api.post(f"/api/v1/runs/{failing}/resume")
    assert resumed.status_code == 200 and resumed.json()["run_id"] == failing
    await run_with_status(api, failing, "failed")


async def test_unknown_runs_are_404(api: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/runs/nope"),
        ("POST", "/api/v1/runs/nope/cancel"),
        ("POST", "/api/v1/runs/nope/rerun"),
        ("POST", "/api/v1/runs/nope/resume"),
        ("GET", "/api/v1/runs/" + "x" * 300),
    ]:
        message = assert_error(await api.request(method, path), 404, "not_found")
        assert "no run with id" in message


async def test_workflow_resolution_errors(api: httpx.AsyncClient) -> None:
    message = assert_error(
        await api.post("/api/v1/runs", json={"workflow": "ghost"}), 404, "not_found"
    )
    assert message == "no registered workflow named 'ghost'"
    missing_app = await api.post("/api/v1/runs", json={"workflow": "echo", "app": "api-other"})
    assert_error(missing_app, 404, "not_found")
    message = assert_error(
        await api.post("/api/v1/runs", json={"workflow": "shared"}), 409, "conflict"
    )
    assert "api-other, api-shop" in message
    chosen = await api.post("/api/v1/runs", json={"workflow": "shared", "app": "api-other"})
    assert chosen.status_code == 201 and chosen.json()["app"] == "api-other"


async def test_list_runs_rejects_bad_queries(api: httpx.AsyncClient) -> None:
    cases = [
        {"status": "done"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"limit": "1_0"},
        {"cursor": "not-a-cursor"},
        {"cursor": "W3siYSI6MX0sMl0"},  # [{"a":1},2]: decodes, wrong types
        {"cursor": "WzE4NDQ2NzQ0MDczNzA5NTUxNjE1LCJ4Il0"},  # an int past 64 bits
        {"created_after": "yesterday"},
        {"created_before": "2026-13-01"},
        {"workflow": "w" * 300},
    ]
    for params in cases:
        assert_error(await api.get("/api/v1/runs", params=params), 400, "bad_request")
    assert "unknown run status 'done'" in assert_error(
        await api.get("/api/v1/runs", params={"status": "done"}), 400, "bad_request"
    )
    # empty values mean "no filter"; unknown parameters are ignored
    ok = await api.get("/api/v1/runs", params={"status": "", "limit": "", "colour": "red"})
    assert ok.status_code == 200
