"""Every console page in-process (httpx ASGI transport), with hostile values as data."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import httpx
import pytest

import durablex

from .conftest import run_to_end
from .hostile_app import HOSTILE_IDS, IMG, LARGE_STEP, SCRIPT
from .htmlcheck import Page, assert_safe

VIEWS = ("list", "graph", "timeline")
TABS = ("input", "output", "error", "attempts")


async def csrf_of(http: httpx.AsyncClient, url: str) -> str:
    page = Page((await http.get(url)).text)
    tokens = [a.get("value") for tag, a in page.tags if a.get("name") == "csrf_token"]
    assert tokens and tokens[0]
    return str(tokens[0])


@pytest.fixture
async def failed_run(db: str) -> str:
    return await run_to_end(db, "xss.go", {"fail": True})


async def test_pages_render(http: httpx.AsyncClient, failed_run: str) -> None:
    for url in ("/", "/events", "/apps", f"/runs/{failed_run}"):
        response = await http.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/html")
        assert_safe(response.text)
    assert (await http.get("/static/console.css")).status_code == 200
    assert (await http.get("/static/console.js")).status_code == 200


async def test_runs_page_lists_filters_and_searches(
    http: httpx.AsyncClient, client: durablex.AsyncClient, failed_run: str
) -> None:
    page = assert_safe((await http.get("/")).text)
    assert failed_run in page.values("data-run-id")
    failed = assert_safe((await http.get("/?status=failed")).text)
    assert failed.values("data-run-id") == [failed_run]
    assert Page((await http.get("/?status=completed")).text).values("data-run-id") == []
    searched = Page((await http.get(f"/?q={failed_run}")).text)
    assert searched.values("data-run-id") == [failed_run]
    run = await client.get_run(failed_run, with_steps=False)
    by_event = Page((await http.get(f"/?q={run.event_id}")).text)
    assert by_event.values("data-run-id") == [failed_run]
    assert failed_run in Page((await http.get("/?since=1h&app=hostile&workflow=xss")).text).values(
        "data-run-id"
    )
    assert Page((await http.get("/?to=2000-01-01T00:00")).text).values("data-run-id") == []
    for bad in ("/?status=bogus", "/?since=forever", "/?from=yesterday", "/?cursor=nope"):
        response = await http.get(bad)
        assert response.status_code == 400, bad
        assert 'class="flash error"' in response.text


async def test_runs_page_pages_with_a_cursor(
    http: httpx.AsyncClient, client: durablex.AsyncClient, failed_run: str
) -> None:
    for _ in range(60):
        await client.start("xss", {"n": 1})
    first = Page((await http.get("/")).text)
    assert len(first.values("data-run-id")) == 50
    older = [h for h in first.values("href") if "cursor=" in h]
    assert len(older) == 1
    second = Page((await http.get("/" + older[0])).text)
    ids = second.values("data-run-id")
    assert len(ids) == 11 and failed_run in ids
    assert not set(ids) & set(first.values("data-run-id"))


async def test_fragment_is_the_live_part_only(http: httpx.AsyncClient, failed_run: str) -> None:
    response = await http.get("/", headers={"x-durablex-fragment": "1"})
    assert "<html" not in response.text and failed_run in response.text
    run = await http.get(f"/runs/{failed_run}?view=graph", headers={"x-durablex-fragment": "1"})
    assert "<html" not in run.text and 'data-alive="false"' in run.text


async def test_run_inspector_views_escape_hostile_steps(
    http: httpx.AsyncClient, client: durablex.AsyncClient, failed_run: str
) -> None:
    run = await client.get_run(failed_run)
    step_ids = {s.id for s in run.steps}
    assert set(HOSTILE_IDS) <= step_ids
    for view in VIEWS:
        response = await http.get(f"/runs/{failed_run}?view={view}")
        assert response.status_code == 200
        page = assert_safe(response.text)
        assert page.values("data-run-status") == ["failed"]
        assert set(page.values("data-step-id")) == step_ids, view
        assert SCRIPT in page.all_text and IMG in page.all_text
        # the run's error, its traceback and the repeated-id warning are text
        assert f"bad {SCRIPT} {IMG}" in page.all_text
        assert f"step id 'dup{IMG}' was used more than once" in page.all_text
        tabs = [h for h in page.values("href") if f"view={view}" in h or "view=" in h]
        assert tabs
    graph = Page((await http.get(f"/runs/{failed_run}?view=graph")).text)
    shapes = {c for c in graph.values("class") if c.startswith("node ")}
    assert any("kind-sleep" in c for c in shapes) and any("st-failed" in c for c in shapes)
    timeline = (await http.get(f"/runs/{failed_run}?view=timeline")).text
    assert "<svg" in timeline and 'class="seg' in timeline


async def test_step_panel_tabs_without_js(http: httpx.AsyncClient, failed_run: str) -> None:
    for step_id in (*HOSTILE_IDS, "plain", "boom", "nap" + SCRIPT):
        for tab in TABS:
            url = f"/runs/{failed_run}?view=graph&step={quote(step_id, safe='')}&tab={tab}"
            response = await http.get(url)
            assert response.status_code == 200
            page = assert_safe(response.text)
            panels = [a for t, a in page.tags if a.get("id") == "panel"]
            assert panels and panels[0]["data-step-id"] == step_id
            assert page.values("data-tab-body") == [tab]
    plain_input = Page((await http.get(f"/runs/{failed_run}?step=plain&tab=input")).text)
    assert f'"payload": "{SCRIPT}"' in plain_input.all_text
    output = Page((await http.get(f"/runs/{failed_run}?step={quote(SCRIPT)}&tab=output")).text)
    assert json.dumps(IMG) in output.all_text
    error = Page((await http.get(f"/runs/{failed_run}?step=boom&tab=error")).text)
    assert f"ValueError: bad {SCRIPT} {IMG}" in error.all_text
    attempts = Page((await http.get(f"/runs/{failed_run}?step=boom&tab=attempts")).text)
    assert "ValueError" in attempts.all_text
    missing = await http.get(f"/runs/{failed_run}?step={quote(IMG + 'x')}&tab=output")
    assert "no step with this id" in assert_safe(missing.text).all_text


async def test_large_payloads_are_cut_with_a_way_to_see_them_whole(
    http: httpx.AsyncClient, failed_run: str
) -> None:
    cut = assert_safe((await http.get(f"/runs/{failed_run}?step={LARGE_STEP}&tab=output")).text)
    assert "Showing the first 10000 of" in cut.all_text
    tail = f'"tail": {json.dumps(SCRIPT)}'
    assert tail not in cut.all_text  # the end of the payload is not shown
    full_links = [h for h in cut.values("href") if "full=1" in h]
    assert full_links and any(h.startswith("/api/v1/runs/") for h in cut.values("href"))
    whole = assert_safe((await http.get(f"/runs/{failed_run}" + full_links[0])).text)
    assert tail in whole.all_text and "Showing the first" not in whole.all_text


async def test_unknown_run_and_event_are_404(http: httpx.AsyncClient) -> None:
    for url in (f"/runs/{quote(IMG)}", f"/events/{quote(SCRIPT)}", "/runs/x?view=nope"):
        response = await http.get(url)
        assert response.status_code == 404
        assert_safe(response.text)


async def test_events_page_and_event_detail(
    http: httpx.AsyncClient, client: durablex.AsyncClient, failed_run: str
) -> None:
    await client.send("hostile.data", {"html": SCRIPT, "attr": IMG}, id="evt" + IMG)
    page = assert_safe((await http.get("/events")).text)
    assert "evt" + IMG in page.values("data-event-id")
    assert SCRIPT in page.all_text
    filtered = Page((await http.get("/events?name=xss.go")).text)
    assert len(filtered.values("data-event-id")) == 1
    detail = await http.get(f"/events/{quote('evt' + IMG, safe='')}")
    assert detail.status_code == 200
    assert IMG in assert_safe(detail.text).all_text
    run = await client.get_run(failed_run, with_steps=False)
    assert run.event_id is not None
    started = Page((await http.get(f"/events/{run.event_id}")).text)
    assert f"/runs/{failed_run}" in started.values("href")


async def test_send_event_form(
    http: httpx.AsyncClient, client: durablex.AsyncClient, failed_run: str
) -> None:
    token = await csrf_of(http, "/events")
    bad = await http.post("/events", data={"csrf_token": token, "name": "x.y", "data": "{not json"})
    assert bad.status_code == 400
    page = assert_safe(bad.text)
    assert "not valid JSON" in page.all_text
    assert "{not json" in page.all_text  # the form keeps what was typed
    hostile = await http.post("/events", data={"csrf_token": token, "name": "", "data": SCRIPT})
    assert (
        hostile.status_code == 400 and "Give the event a name" in assert_safe(hostile.text).all_text
    )
    refused = await http.post("/events", data={"name": "x.y", "data": "{}"})
    assert refused.status_code == 403
    foreign = await http.post(
        "/events",
        data={"csrf_token": token, "name": "x.y"},
        headers={"origin": "http://evil.example"},
    )
    assert foreign.status_code == 403
    sent = await http.post(
        "/events", data={"csrf_token": token, "name": "xss.go", "data": '{"fail": false}'}
    )
    assert sent.status_code == 303
    event_id = sent.headers["location"].split("/events/")[1].split("?")[0]
    event = await client.get_event(event_id)
    assert event is not None and event.data == {"fail": False} and len(event.started_run_ids) == 1
    shown = await http.get(sent.headers["location"])
    assert "Event sent" in shown.text


async def test_actions_confirm_then_act(
    http: httpx.AsyncClient, client: durablex.AsyncClient, failed_run: str
) -> None:
    queued = (await client.start("xss", {})).run_id
    token = await csrf_of(http, f"/runs/{queued}")
    # without JS: the first post asks for confirmation, changing nothing
    confirm = await http.post(f"/runs/{queued}/cancel", data={"csrf_token": token})
    assert confirm.status_code == 200
    form = Page(confirm.text)
    assert ("confirmed", "1") in [(a.get("name"), a.get("value")) for _, a in form.tags]
    assert (await client.get_run(queued, with_steps=False)).status == "queued"
    done = await http.post(f"/runs/{queued}/cancel", data={"csrf_token": token, "confirmed": "1"})
    assert done.status_code == 303
    assert (await client.get_run(queued, with_steps=False)).status == "cancelled"
    assert "The run was cancelled." in (await http.get(done.headers["location"])).text

    rerun = await http.post(
        f"/runs/{failed_run}/rerun", data={"csrf_token": token, "confirmed": "1"}
    )
    assert rerun.status_code == 303
    new_id = rerun.headers["location"].split("/runs/")[1].split("?")[0]
    assert new_id != failed_run
    assert (await client.get_run(new_id, with_steps=False)).input == {"fail": True}

    resumed = await http.post(
        f"/runs/{failed_run}/resume", data={"csrf_token": token, "confirmed": "1"}
    )
    assert resumed.status_code == 303
    assert (await client.get_run(failed_run, with_steps=False)).status != "failed"

    forged = await http.post(
        f"/runs/{new_id}/cancel", data={"csrf_token": "x" * 40, "confirmed": "1"}
    )
    assert forged.status_code == 403
    assert (await client.get_run(new_id, with_steps=False)).status == "queued"
    unknown = await http.post(f"/runs/{new_id}/explode", data={"csrf_token": token})
    assert unknown.status_code == 404
    again = await http.get(f"/runs/{new_id}/cancel")
    assert again.status_code == 303


async def test_apps_page(http: httpx.AsyncClient, failed_run: str) -> None:
    page = assert_safe((await http.get("/apps")).text)
    assert "hostile" in page.values("data-app")
    assert "xss.go" in page.all_text and "many.go" in page.all_text
    assert re.search(r"failed\s*1", page.all_text)
    assert len(page.values("data-runner")) == 1
    assert "stopped" in page.all_text  # the test runner has stopped


async def test_a_2000_step_run_stays_usable(
    http: httpx.AsyncClient, client: durablex.AsyncClient, db: str
) -> None:
    run_id = await run_to_end(db, "many.go", {"chain": 900, "wide": 800, "tail": 300})
    run = await client.get_run(run_id)
    assert len(run.steps) == 2000 and run.status == "completed"
    for view in VIEWS:
        started = time.perf_counter()
        response = await http.get(f"/runs/{run_id}?view={view}")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        assert elapsed < 3, f"{view} took {elapsed:.2f}s"
        assert len(response.text) < 400_000, view
        page = Page(response.text)
        if view == "graph":
            assert len(page.values("data-step-id")) < 40
            assert len(page.values("data-step-group")) >= 2
        else:
            assert len(page.values("data-step-id")) == 200
            assert "Page 1 of 10" in page.all_text
    last = Page((await http.get(f"/runs/{run_id}?view=list&page=10")).text)
    assert "tail-299" in last.values("data-step-id")
    group_links = [
        h
        for h in Page((await http.get(f"/runs/{run_id}?view=graph")).text).values("href")
        if "view=list" in h and "#s-" in h
    ]
    assert group_links
