"""Browser fixtures: one Chromium per session, a fresh context (cookies, storage) per test.

The browser drives pytest-django's ``live_server`` (a real HTTP server in a thread of the test
process), so emails sent by the app land in ``django.core.mail.outbox`` and the database is shared
with the test through ``transactional_db``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml registers the marker; this keeps --strict-markers happy if it ever does not.
    config.addinivalue_line("markers", "browser: end-to-end test in a real browser (Playwright + Chromium)")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    # Keep each phase's report on the test item so the page fixture can tell a failed test apart.
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


def _test_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^\w.-]+", "_", request.node.name)


def _artifact_path(request: pytest.FixtureRequest, step: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{_test_name(request)}-{step}.png"


@pytest.fixture(scope="session")
def browser():
    # Fail loudly, never skip: a missing browser must turn CI red, not silently green.
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install the Debian 'chromium' package.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, live_server, transactional_db, request) -> Iterator:
    for stale in ARTIFACTS.glob(f"{_test_name(request)}-*.png"):  # screenshots of an earlier run
        stale.unlink()
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "_report_call", None)
        if report is not None and report.failed:
            try:  # the page as it was when the test failed, for the CI artifacts
                page.screenshot(path=str(_artifact_path(request, "FAILED")), full_page=True)
            except Exception:  # noqa: BLE001, S110 - a missing screenshot must not hide the real failure
                pass
        context.close()


@pytest.fixture
def shot(page, request) -> Callable[[str], Path]:
    """``shot("step")`` saves test-artifacts/browser/<test>-<step>.png (uploaded by CI)."""

    def _shot(step: str) -> Path:
        path = _artifact_path(request, step)
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


# --- helpers shared by the browser tests -----------------------------------------------------


def totp_code(secret_or_key: str | bytes, *, at: float | None = None) -> str:
    """The 6-digit TOTP code for a base32 secret (spaces allowed, as shown to users) or a raw key."""
    from django_otp.oath import TOTP

    if isinstance(secret_or_key, str):
        text = secret_or_key.replace(" ", "").upper()
        key = base64.b32decode(text + "=" * (-len(text) % 8))
    else:
        key = secret_or_key
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = time.time() if at is None else at
    return str(totp.token()).zfill(6)


def on_live_server(url: str, live_server_url: str) -> str:
    """Point an absolute link from an email at the live server (same path, query and fragment).

    allauth builds links from the request host, but with ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
    (DEBUG off) while the live server speaks plain HTTP; a Site domain would also differ.
    """
    parts = urlsplit(url)
    base = urlsplit(live_server_url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


LOGIN_BUTTON = re.compile(r"^\s*(sign in|log in)\s*$", re.I)
LOGOUT_BUTTON = re.compile(r"^\s*(log out|sign out)\s*$", re.I)


def password_field(page):
    """The "Password" field; on sign-up there is also "Password (again)", hence the exact pattern."""
    return page.get_by_label(re.compile(r"^\s*Password:?\s*$"))


def submit_login(page, email: str, password: str):
    """Fill and submit the login form (opening it first unless it is on screen); returns the HTTP
    response to the POST, before any redirect is followed."""
    if "/accounts/login/" not in page.url or not page.get_by_role("button", name=LOGIN_BUTTON).count():
        page.goto("/accounts/login/")
    page.get_by_label(re.compile(r"^\s*Email", re.I)).fill(email)
    password_field(page).fill(password)
    with page.expect_response(lambda r: r.request.method == "POST" and "/accounts/login/" in r.url) as info:
        page.get_by_role("button", name=LOGIN_BUTTON).click()
    page.wait_for_load_state()
    return info.value


def click_map_node(page, node_id: str) -> None:
    """A real mouse click on a node of the architecture map (``window.cloustralMap``): scroll the canvas
    into view and centre the node, let two frames pass so Cytoscape sees the scroll, click its spot."""
    point = page.evaluate(
        """async (nodeId) => {
            const cy = window.cloustralMap;
            const node = cy.$id(nodeId);
            document.getElementById('map-canvas').scrollIntoView({block: 'center'});
            cy.center(node);
            await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
            const box = document.getElementById('map-canvas').getBoundingClientRect();
            const at = node.renderedPosition();
            return {x: box.left + at.x, y: box.top + at.y};
        }""",
        node_id,
    )
    page.mouse.click(point["x"], point["y"])
