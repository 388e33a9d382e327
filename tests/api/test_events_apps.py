"""Events (one or a list, idempotency keys, the log, one event) and the apps registry."""

from __future__ import annotations

import httpx

from .support import assert_error, run_with_status


async def test_send_one_event_and_read_it_back(api: httpx.AsyncClient) -> None:
    sent = await api.post(
        "/api/v1/events", json={"name": "order.created", "data": {"prices": [4]}, "id": "evt-1"}
    )
    assert sent.status_code == 202
    result = sent.json()
    assert result["event_id"] == "evt-1" and len(result["run_ids"]) == 1
    assert result["resumed"] == 0
    run_id = result["run_ids"][0]
    await run_with_status(api, run_id, "waiting")

    approve = await api.post("/api/v1/events", json={"name": "order.approved", "id": "evt-2"})
    assert approve.json() == {"event_id": "evt-2", "run_ids": [], "resumed": 1}

    event = (await api.get("/api/v1/events/evt-1")).json()
    assert event["name"] == "order.created" and event["data"] == {"prices": [4]}
    assert event["started_run_ids"] == [run_id] and event["resumed_run_ids"] == []
    assert event["ts"].endswith("Z")
    approval = (await api.get("/api/v1/events/evt-2")).json()
    assert approval["resumed"] == 1 and approval["resumed_run_ids"] == [run_id]

    log = (await api.get("/api/v1/events")).json()
    assert [e["id"] for e in log["events"]][:2] == ["evt-2", "evt-1"]
    assert log["events"][1]["started_run_ids"] == [run_id]
    assert "resumed_run_ids" not in log["events"][0]
    named = (await api.get("/api/v1/events", params={"name": "order.approved"})).json()
    assert [e["id"] for e in named["events"]] == ["evt-2"]
    searched = (await api.get("/api/v1/events", params={"search": "evt-1"})).json()
    assert [e["id"] for e in searched["events"]] == ["evt-1"]


async def test_send_a_list_of_events_and_page_the_log(api: httpx.AsyncClient) -> None:
    batch = [{"name": "tick", "data": n, "id": f"tick-{n}"} for n in range(5)]
    sent = await api.post("/api/v1/events", json=batch)
    assert sent.status_code == 202
    assert [r["event_id"] for r in sent.json()] == [f"tick-{n}" for n in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"name": "tick", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/events", params=params)).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"tick-{n}" for n in reversed(range(5))]


async def test_a_repeated_event_id_is_accepted_once(api: httpx.AsyncClient) -> None:
    event = {"name": "order.created", "data": {"prices": [1]}, "id": "once"}
    first = (await api.post("/api/v1/events", json=event)).json()
    second = await api.post("/api/v1/events", json=event)
    assert second.status_code == 202
    assert second.json()["event_id"] == "once"
    runs = (await api.get("/api/v1/runs", params={"search": "once"})).json()["runs"]
    assert [run["id"] for run in runs] == first["run_ids"]


async def test_event_errors(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/api/v1/events/missing"), 404, "not_found")
    assert_error(await api.get("/api/v1/events", params={"cursor": "@@"}), 400, "bad_request")
    assert_error(await api.get("/api/v1/events", params={"limit": "5000"}), 400, "bad_request")
    bad_bodies: list[object] = [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 5},
        {"name": "x" * 256},
        {"name": "x", "app": 3},
        {"name": "x", "id": ""},
        {"name": "x", "colour": "red"},
        [],
        [{"name": "ok"}, {"nom": "typo"}],
        "order.created",
        42,
        [{"name": "x"}] * 1001,
    ]
    for body in bad_bodies:
        assert_error(await api.post("/api/v1/events", json=body), 400, "bad_request")
    null = await api.post(
        "/api/v1/events", content=b"null", headers={"content-type": "application/json"}
    )
    assert_error(null, 400, "bad_request")
    # a rejected batch writes nothing
    assert (await api.get("/api/v1/events", params={"name": "ok"})).json()["events"] == []


async def test_apps_lists_workflows_triggers_counts_and_runners(api: httpx.AsyncClient) -> None:
    started = await api.post("/api/v1/runs", json={"workflow": "fails"})
    await run_with_status(api, started.json()["run_id"], "failed")
    apps = {app["name"]: app for app in (await api.get("/api/v1/apps")).json()["apps"]}
    assert set(apps) == {"api-shop", "api-other"}
    workflows = {w["name"]: w for w in apps["api-shop"]["workflows"]}
    assert workflows["order"]["triggers"] == ["order.created"]
    assert workflows["echo"]["triggers"] == []
    assert workflows["fails"]["counts"] == {"failed": 1}
    (runner,) = apps["api-shop"]["runners"]
    assert runner["name"] == "api-runner" and runner["alive"] is True
    assert runner["heartbeat_at"].endswith("Z") and runner["stopped_at"] is None
    assert sorted(runner["apps"]) == ["api-other", "api-shop"]
