"""The console in a real browser: Debian's Chromium driven by Playwright.

Skips, saying why, when Playwright or /usr/bin/chromium is missing.  Plan and
apply run against a network namespace of their own when root can make one.
Screenshots of every page go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.netns import Namespaces, skip_reason
from tests.web.conftest import PASSWORD, add_account

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


@pytest.fixture
def server(engine):
    """The console served by uvicorn on a free local port; yields its base URL."""
    import uvicorn

    from app.main import create_app

    if getattr(engine.dialect, "name", "") != "sqlite":
        pytest.skip("the browser tests run on SQLite only")
    with Namespaces() as spaces:
        app = create_app(engine)
        if skip_reason() is None:
            app.state.netns = spaces.add("console")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        srv = uvicorn.Server(config)
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not srv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", app
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page, base: str, name: str) -> None:
    page.goto(f"{base}/")
    page.fill("#f-name", name)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def create(page, base: str, collection: str, fields: dict) -> None:
    page.goto(f"{base}/{collection}/new")
    for name, value in fields.items():
        selector = f'[name="{name}"]'
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{base}/{collection}?notice=*")


def test_admin_builds_freeswan_reviews_applies_traces_and_logs_out(
    server, chromium, engine
):
    base, app = server
    add_account(engine, "ana", "admin")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login")
    shot(page, "login")
    login(page, base, "ana")

    # A bad address and a bad CIDR: the error sits under its own field.
    page.goto(f"{base}/gateways/new")
    page.fill('[name="name"]', "x")
    page.fill('[name="address"]', "192.0.2.300")
    page.click("form.stack button[type=submit]")
    assert "is not an IPv4 or IPv6 address" in page.inner_text(".field.invalid .error")
    assert page.locator(".field.invalid input").get_attribute("name") == "address"
    shot(page, "gateway-field-error")

    create(page, base, "gateways", {"name": "x", "address": "192.0.2.1"})
    create(page, base, "gateways", {"name": "y", "address": "192.0.2.2"})
    page.goto(f"{base}/subnets/new")
    page.fill('[name="name"]', "s")
    page.fill('[name="cidr"]', "10.1.0.0/33")
    page.select_option('[name="gateway"]', "x")
    page.click("form.stack button[type=submit]")
    assert "10.1.0.0/33" in page.inner_text("#error-cidr")
    shot(page, "subnet-field-error")
    for name, cidr, gw in (
        ("s", "10.1.0.0/24", "x"),
        ("t", "10.2.0.0/24", "y"),
        ("u", "10.3.0.0/24", "y"),
    ):
        create(page, base, "subnets", {"name": name, "cidr": cidr, "gateway": gw})
    create(
        page,
        base,
        "policies",
        {"name": "s-u", "between[0]": "s", "between[1]": "u", "action": "protect"},
    )
    create(
        page,
        base,
        "policies",
        {"name": "s-t", "between[0]": "s", "between[1]": "t", "action": "bypass"},
    )
    create(
        page,
        base,
        "policies",
        {
            "name": "s-u-ssh",
            "between[0]": "10.1.0.0/25",
            "between[1]": "u",
            "action": "bypass",
            "protocol": "tcp",
            "ports": "22",
        },
    )
    assert page.locator("tr.exception[data-policy=s-u-ssh]").count() == 1
    shot(page, "policies")
    for name in ("gateways", "subnets"):
        page.goto(f"{base}/{name}")
        shot(page, name)
    page.goto(f"{base}/topology")
    assert page.locator("svg path.policy.protect").count() == 1
    shot(page, "topology")

    page.goto(f"{base}/review/x")
    if getattr(app.state, "netns", None) is None:
        assert (
            "could not be read" in page.inner_text("main")
            or page.locator("#plan").count()
        )
    else:
        assert page.locator("#plan tr").count() > 1
        assert "s-u" in page.inner_text("#plan")
        # The counts above the plan are numbers that add up to its steps.
        counts = [
            int(page.locator(".grid .stat .n").nth(n).inner_text()) for n in range(3)
        ]
        assert sum(counts) == page.locator("#plan tbody tr").count()
        shot(page, "review")
        page.click("#apply-form button")
        page.wait_for_selector("#job[data-finished=yes]", timeout=30000)
        assert "Done." in page.inner_text("#job"), page.inner_text("#job")
        shot(page, "apply-result")
        page.goto(f"{base}/review/x")
        assert "already matches the intent" in page.inner_text("main")

    page.goto(f"{base}/trace")
    page.select_option('[name="gateway"]', "x")
    page.fill('[name="src"]', "10.1.0.5")
    page.fill('[name="dst"]', "10.3.0.9")
    if getattr(app.state, "netns", None) is not None:
        page.check('[name="kernel"]')
    page.click("form.stack button[type=submit]")
    assert page.inner_text("#decided-by") == "s-u"
    if getattr(app.state, "netns", None) is not None:
        assert "The kernel agrees" in page.inner_text("#kernel-verdict")
    shot(page, "tracer")

    page.goto(f"{base}/")
    assert page.locator("text=gateways").count() >= 1
    shot(page, "dashboard")
    for name in ("audit", "users", "tokens"):
        page.goto(f"{base}/{name}")
        shot(page, name)
    page.click("header.top button")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/gateways/new")
    assert page.url.startswith(f"{base}/login")


def test_viewer_cannot_reach_edit_forms(server, chromium, engine):
    base, _ = server
    add_account(engine, "vic", "viewer")
    page = chromium.new_page()
    login(page, base, "vic")
    assert page.locator("nav a[href='/users']").count() == 0
    response = page.goto(f"{base}/gateways/new")
    assert response.status == 403
    assert "this page needs admin" in page.inner_text(".alert")
    shot(page, "viewer-refused")


def test_form_post_without_csrf_token_is_refused(server, chromium, engine):
    base, _ = server
    add_account(engine, "ana", "admin")
    page = chromium.new_page()
    login(page, base, "ana")
    page.goto(f"{base}/gateways/new")
    page.evaluate("document.querySelector('form.stack [name=csrf]').remove()")
    page.fill('[name="name"]', "x")
    page.fill('[name="address"]', "192.0.2.1")
    page.click("form.stack button[type=submit]")
    assert "without a valid CSRF token" in page.inner_text(".alert")
    page.goto(f"{base}/gateways")
    assert page.locator("text=192.0.2.1").count() == 0
