"""The cookie banner in a real browser, every network request recorded: no analytics request before the
person accepts, some after, none again once they withdraw; and the legal links in the footer of the
login page, the sign-up page and a signed-in page.

"Analytics requests" are: the PostHog script, any request to the PostHog host (a local fake here) and
our own events endpoint. Recording the choice itself (/privacy/consent/) is the proof of consent, not
analytics, and is counted apart.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from orgs.roles import Role
from privacy.models import AnalyticsEvent, ConsentRecord
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, submit_login
from tests.conftest import PASSWORD
from tests.factories import CloudConnectionFactory, MembershipFactory, OrganizationFactory, ResourceFactory, UserFactory

pytestmark = pytest.mark.browser
# A real browser's identity: PostHog drops events from browsers that say they are automated.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
NOT_AUTOMATED = """
Object.defineProperty(navigator, 'webdriver', {get: () => false});
Object.defineProperty(navigator, 'userAgentData', {get: () => undefined});
"""
FOOTER_LINKS = ["Privacy policy", "Cookie policy", "Sub-processors", "Terms of service", "Contact"]


class FakePostHog(BaseHTTPRequestHandler):
    """Answers everything with 200 and CORS headers, and keeps what it was sent."""

    received: list[tuple[str, str, bytes]] = []

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": 1}')

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._answer()

    def do_GET(self) -> None:  # noqa: N802
        self.received.append(("GET", self.path, b""))
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if body[:2] == b"\x1f\x8b":  # PostHog gzips its events
            body = gzip.decompress(body)
        self.received.append(("POST", self.path, body))
        self._answer()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def posthog(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePostHog)
    FakePostHog.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"http://127.0.0.1:{server.server_address[1]}"
    settings.POSTHOG_KEY = "phc_test_project_key"
    settings.POSTHOG_HOST = host
    # What cloustral/settings.py does when POSTHOG_KEY is set.
    settings.SECURE_CSP = {**settings.SECURE_CSP, "connect-src": [*settings.SECURE_CSP["connect-src"], host]}
    yield host
    server.shutdown()
    server.server_close()


@pytest.fixture
def browsing(browser, live_server, transactional_db):
    """A browser tab like a person's (not flagged as automated), with every request it sends recorded."""
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="UTC", user_agent=USER_AGENT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.add_init_script(NOT_AUTOMATED)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    yield page
    context.close()


def _analytics(page, host: str) -> list[str]:
    return [u for u in page.requests if u.startswith(host) or "/static/vendor/posthog/" in u or "/privacy/events/" in u]


def _posthog_storage(page) -> list[str]:
    return page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('ph_') || k.startsWith('__ph'))"
        ".concat(document.cookie.split(';').map(c => c.trim()).filter(c => c.startsWith('ph_')))"
    )


def _people():
    user = UserFactory(email="olive@example.com", first_name="Olive")
    org = OrganizationFactory(name="Acme Cloud", slug="acme-cloud")
    MembershipFactory(user=user, org=org, role=Role.OWNER)
    conn = CloudConnectionFactory(org=org, name="Production")
    resource = ResourceFactory(connection=conn, name="payroll-db-secret-name", tags={"owner": "payroll-team"})
    return user, org, resource


def test_no_analytics_before_consent_some_after_none_after_withdrawal(browsing, posthog, live_server):
    page, host = browsing, posthog
    user, org, resource = _people()
    banner = page.locator("#cookie-banner")

    # --- before any choice: the banner, and not one analytics request, signed out or in -----------
    page.goto("/accounts/login/")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Essential cookies are always on")
    page.goto("/accounts/signup/")
    expect(banner).to_be_visible()
    submit_login(page, user.email, PASSWORD)
    page.goto(f"/o/{org.slug}/resources/{resource.pk}/")
    expect(banner).to_be_visible()
    page.wait_for_timeout(500)
    assert _analytics(page, host) == []
    assert page.evaluate("() => typeof window.posthog") == "undefined"
    assert _posthog_storage(page) == []
    assert FakePostHog.received == [] and not AnalyticsEvent.objects.exists()

    # --- accept: PostHog and our own endpoint receive the page view, without any cloud data ------
    with page.expect_request(lambda r: r.url.startswith(host) and r.method == "POST"):
        page.get_by_role("button", name="Accept analytics").click()
    expect(banner).to_be_hidden()
    page.wait_for_function("() => window.posthog && window.posthog.__loaded")
    with page.expect_request(lambda r: "/privacy/events/" in r.url):
        page.goto(f"/o/{org.slug}/findings/?q=payroll-db-secret-name")
    # A product event: the export happens on the server and reaches analytics with the next page.
    with page.expect_download():
        page.get_by_test_id("export-csv").click()
    with page.expect_request(lambda r: "/privacy/events/" in r.url):
        page.goto("/account/profile/")
    page.wait_for_timeout(800)
    assert AnalyticsEvent.objects.filter(name="export", properties={"what": "findings", "format": "csv"}).exists()
    accepted = _analytics(page, host)
    assert any(u.startswith(host) for u in accepted) and any("/static/vendor/posthog/" in u for u in accepted)
    assert any("/privacy/events/" in u for u in accepted)
    assert ConsentRecord.objects.filter(analytics=True).count() == 1
    assert {e.page for e in AnalyticsEvent.objects.filter(name="pageview")} >= {"dashboard:resource", "findings:list"}
    sent_to_posthog = (
        b" ".join(body for _, _, body in FakePostHog.received)
        + " ".join(path for _, path, _ in FakePostHog.received).encode()
    )
    assert b"$pageview" in sent_to_posthog and b"o/<slug:org_slug>/findings/" in sent_to_posthog
    assert b'"event":"export"' in sent_to_posthog
    for secret in (b"payroll-db-secret-name", b"payroll-team", f"/resources/{resource.pk}/".encode(), b"acme-cloud"):
        assert secret not in sent_to_posthog, secret
    assert json.loads(page.evaluate("() => localStorage.getItem('cloustral.consent')"))["analytics"] is True

    # --- withdraw from "Cookie settings" in the footer: analytics stops at once -------------------
    page.locator("footer").get_by_role("button", name="Cookie settings").click()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("analytics accepted")
    with page.expect_request(lambda r: "/privacy/consent/" in r.url):
        page.get_by_role("button", name="Essential cookies only").click()
    expect(banner).to_be_hidden()
    seen = len(page.requests)
    posthog_received = len(FakePostHog.received)
    assert _posthog_storage(page) == []
    page.goto(f"/o/{org.slug}/")
    page.goto(f"/o/{org.slug}/resources/{resource.pk}/")
    page.goto("/account/profile/")
    page.wait_for_timeout(1000)
    after = [u for u in page.requests[seen:] if u in _analytics(page, host)]
    assert after == []
    assert len(FakePostHog.received) == posthog_received
    assert ConsentRecord.objects.filter(analytics=False).count() == 1
    expect(banner).to_be_hidden()  # the choice is remembered
    assert not [e for e in page.console_errors if "Content Security Policy" in e]


def test_footer_links_on_login_signup_and_a_signed_in_page(browsing, live_server):
    page = browsing
    user, org, _ = _people()
    pages = ["/accounts/login/", "/accounts/signup/"]
    for url in pages:
        page.goto(url)
        _check_footer(page)
    submit_login(page, user.email, PASSWORD)
    page.goto(f"/o/{org.slug}/")
    _check_footer(page)
    # The links lead to real pages.
    page.locator("footer").get_by_role("link", name="Sub-processors").click()
    expect(page.get_by_role("heading", name="Sub-processors")).to_be_visible()
    page.locator("footer").get_by_role("link", name="Contact").click()
    expect(page.get_by_role("heading", name="Contact us")).to_be_visible()


def _check_footer(page) -> None:
    footer = page.locator("footer")
    for name in FOOTER_LINKS:
        expect(footer.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(footer.get_by_role("button", name="Cookie settings")).to_be_visible()
    assert re.search(
        r"/legal/privacy/#cookies$", footer.get_by_role("link", name="Cookie policy").get_attribute("href")
    )
