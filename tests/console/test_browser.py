"""The console in Debian's Chromium, driven by Playwright, against ``durablex dev``.

Chromium must be installed (``apt-get install chromium``): without it these tests fail, they
never skip. Screenshots land in ``test-artifacts/``; with ``DURABLEX_DOCS_IMAGES=1`` they are
also written to ``docs/images/`` for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from .hostile_app import IMG, SCRIPT

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
DOCS_IMAGES = ROOT / "docs" / "images"
README_IMAGES = frozenset(
    {"runs.png", "run-list.png", "run-graph.png", "run-timeline.png", "events.png", "apps.png"}
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.timeout(240)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def durablex_command() -> list[str]:
    script = Path(sys.executable).parent / "durablex"
    if script.exists():
        return [str(script)]
    found = shutil.which("durablex")
    assert found, "the durablex command is not installed (pip install -e .)"
    return [found]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("browser") / "console.db"
    port = free_port()
    log = (tmp_path_factory.getbasetemp() / "dev.log").open("w")
    proc = subprocess.Popen(
        [
            *durablex_command(),
            "dev",
            str(ROOT / "examples" / "shop.py"),
            str(Path(__file__).with_name("hostile_app.py")),
            "--port",
            str(port),
            "--db",
            f"sqlite:///{db}",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "durablex dev exited early; see dev.log"
            assert time.monotonic() < deadline, "durablex dev did not come up in 30 s"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is required for the console's browser tests and {CHROMIUM} is missing: "
            "install it with `apt-get install -y chromium`",
            pytrace=False,
        )
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Dialogs:
    """Every dialog the page opens: confirms are accepted, anything else is an alarm."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, dialog: Dialog) -> None:
        self.seen.append((dialog.type, dialog.message))
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    @property
    def alerts(self) -> list[tuple[str, str]]:
        return [d for d in self.seen if d[0] != "confirm"]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    dialogs = Dialogs()
    tab.on("dialog", dialogs)
    tab.dialogs = dialogs  # type: ignore[attr-defined]
    yield tab
    assert dialogs.alerts == [], f"a dialog fired: {dialogs.alerts}"
    context.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)
    if name in README_IMAGES and os.environ.get("DURABLEX_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS_IMAGES / name)


def send_event(page: Page, base: str, name: str, data: object) -> None:
    page.goto(f"{base}/events")
    page.fill("input[name=name]", name)
    page.fill("textarea[name=data]", json.dumps(data))
    page.click("form.send-form button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text("Event sent")


def open_started_run(page: Page) -> str:
    link = page.locator(".run-list a").first
    run_id = link.inner_text().strip()
    link.click()
    expect(page.locator("[data-run-status]")).to_be_visible()
    return run_id


def test_event_run_views_tabs_actions(server: str, page: Page) -> None:
    send_event(
        page, server, "order.created", {"order_id": 42, "amount": 250, "items": ["book", "pen"]}
    )
    run_id = open_started_run(page)
    expect(page.locator("[data-run-status]")).to_have_attribute("data-run-status", "waiting")

    # a bad JSON payload is refused with a clear message
    page.goto(f"{server}/events")
    page.fill("input[name=name]", "order.approved")
    page.fill("textarea[name=data]", "{order_id: 42}")
    page.click("form.send-form button[type=submit]")
    expect(page.locator("[data-error=data]")).to_contain_text("not valid JSON")

    send_event(page, server, "order.approved", {"order_id": 42, "by": "alice"})
    page.goto(f"{server}/runs/{run_id}")
    # the page refreshes itself until the run ends (sleeps of about 5 s in total)
    expect(page.locator("[data-run-status]")).to_have_attribute(
        "data-run-status", "completed", timeout=30_000
    )
    expect(page.locator("tr[data-step-id=charge]")).to_be_visible()
    shot(page, "run-list.png")

    page.click("a[data-view=graph]")
    expect(page.locator("svg.graph")).to_be_visible()
    expect(page.locator("svg.graph [data-step-id=await-approval]")).to_be_visible()
    assert "view=graph" in page.url
    page.locator("svg.graph [data-step-id=charge]").click()
    panel = page.locator("#panel")
    expect(panel).to_have_attribute("data-step-id", "charge")
    for tab in ("input", "output", "error", "attempts"):
        panel.locator(f"a[data-tab={tab}]").click()
        expect(page.locator(f"[data-tab-body={tab}]")).to_be_visible()
    panel.locator("a[data-tab=output]").click()
    expect(page.locator("[data-tab-body=output]")).to_contain_text("charge_id")
    shot(page, "run-graph.png")

    page.click("a[data-view=timeline]")
    expect(page.locator("svg.timeline")).to_be_visible()
    expect(page.locator("svg.timeline [data-step-id=wait-for-settlement]")).to_be_visible()
    page.locator("#panel a.close").click()
    expect(page.locator("#panel")).to_have_count(0)
    shot(page, "run-timeline.png")

    page.click("a[data-view=list]")
    expect(page.locator("table.steps")).to_be_visible()

    # rerun the finished run: confirm, then the new run's page
    page.click("button[data-action=rerun]")
    page.wait_for_url(lambda url: run_id not in url)
    expect(page.locator(".flash.ok")).to_contain_text("rerun")
    assert ("confirm", f"Rerun run {run_id}?") in page.dialogs.seen  # type: ignore[attr-defined]

    # cancel a run that waits for its approval
    send_event(page, server, "order.created", {"order_id": 7, "amount": 500, "items": ["mug"]})
    waiting = open_started_run(page)
    expect(page.locator("[data-run-status]")).to_have_attribute(
        "data-run-status", "waiting", timeout=20_000
    )
    page.click("button[data-action=cancel]")
    page.wait_for_url(f"**/runs/{waiting}?done=cancelled")
    expect(page.locator("[data-run-status]")).to_have_attribute("data-run-status", "cancelled")

    page.goto(f"{server}/")
    expect(page.locator(f"tr[data-run-id='{waiting}']")).to_be_visible()
    shot(page, "runs.png")
    page.goto(f"{server}/events")
    shot(page, "events.png")
    page.goto(f"{server}/apps")
    expect(page.locator("[data-app=shop] .st-alive")).to_be_visible()
    shot(page, "apps.png")


def test_hostile_values_render_as_text_in_every_view(server: str, page: Page) -> None:
    send_event(page, server, "xss.go", {"fail": True, "note": SCRIPT})
    run_id = open_started_run(page)
    expect(page.locator("[data-run-status]")).to_have_attribute(
        "data-run-status", "failed", timeout=20_000
    )
    ids = {SCRIPT, IMG}
    for view in ("list", "graph", "timeline"):
        page.goto(f"{server}/runs/{run_id}?view={view}")
        found = set(
            page.eval_on_selector_all(
                "[data-step-id]", "els => els.map(e => e.getAttribute('data-step-id'))"
            )
        )
        assert ids <= found, view
        assert page.locator("img").count() == 0
        assert page.locator("script:not([src])").count() == 0
        # open the step whose id is a script tag and whose output is an img tag
        target = page.locator(f".view [data-step-id='{SCRIPT}']")
        (target.locator("a") if view == "list" else target).first.click()
        expect(page.locator("#panel")).to_have_attribute("data-step-id", SCRIPT)
        for tab in ("input", "output", "error", "attempts"):
            page.locator(f"#panel a[data-tab={tab}]").click()
            expect(page.locator(f"[data-tab-body={tab}]")).to_be_visible()
        page.locator("#panel a[data-tab=output]").click()
        expect(page.locator("[data-tab-body=output] pre")).to_have_text(json.dumps(IMG))
        expect(page.locator(".io .error-box")).to_contain_text(f"bad {SCRIPT} {IMG}")
        shot(page, f"hostile-{view}.png")
    page.goto(f"{server}/runs/{run_id}?step=boom&tab=error")
    expect(page.locator("[data-tab-body=error]")).to_contain_text(f"ValueError: bad {SCRIPT}")
    page.goto(f"{server}/runs/{run_id}?step=plain&tab=output")
    expect(page.locator("[data-tab-body=output] pre")).to_have_text(json.dumps(SCRIPT))
    page.goto(f"{server}/events")
    expect(page.locator("table.events")).to_contain_text(SCRIPT)
    # the event's own page shows its hostile data as text too
    page.locator("table.events a[href^='/events/']").first.click()
    expect(page.locator("main")).to_contain_text(SCRIPT)
    assert page.locator("img").count() == 0
    assert page.locator("script:not([src])").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs.alerts == []  # type: ignore[attr-defined]
