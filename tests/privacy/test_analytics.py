"""Consent and analytics on the server: consent records, the first-party events endpoint (nothing stored
without consent, only catalogued events and values), product events raised where they happen and
handed to the browser, and the CSP that allows exactly the analytics host when one is configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.urls import reverse

from privacy.events import clean_event
from privacy.models import AnalyticsEvent, ConsentRecord
from tests.factories import CloudConnectionFactory

ROOT = Path(__file__).resolve().parents[2]
BROWSER = str(uuid.uuid4())


def _post(client, name: str, payload) -> object:
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(reverse(f"privacy:{name}"), body, content_type="application/json")


def _consent(client, analytics: bool, browser: str = BROWSER):
    return _post(client, "consent", {"browser_id": browser, "analytics": analytics})


def _events(client, events: list[dict], browser: str = BROWSER):
    return _post(client, "events", {"browser_id": browser, "events": events})


def test_consent_choices_are_recorded(client_for, member, client):
    assert _consent(client, True).status_code == 204
    assert _consent(client_for(member), False).status_code == 204
    first, second = ConsentRecord.objects.order_by("id")
    assert (first.analytics, first.user, first.policy_version) == (True, None, "2026-11-01")
    assert (second.analytics, second.user) == (False, member)


def test_no_event_is_stored_without_consent(client, db):
    assert _events(client, [{"name": "pageview", "page": "dashboard:home"}]).json() == {"stored": 0}
    _consent(client, True)
    assert _events(client, [{"name": "pageview", "page": "dashboard:home"}]).json() == {"stored": 1}
    _consent(client, False)  # withdrawn: nothing more, at once
    assert _events(client, [{"name": "pageview", "page": "dashboard:home"}]).json() == {"stored": 0}
    assert AnalyticsEvent.objects.count() == 1
    # Consent given by one browser does not count for another.
    assert _events(client, [{"name": "pageview"}], browser=str(uuid.uuid4())).json() == {"stored": 0}


def test_consent_under_an_older_policy_does_not_count(client, db, settings):
    _consent(client, True)
    settings.PRIVACY_POLICY_VERSION = "2027-01-01"
    assert _events(client, [{"name": "pageview"}]).json() == {"stored": 0}


def test_cloud_data_contents_never_reach_analytics(client_for, member):
    c = client_for(member)
    _consent(c, True)
    response = _events(
        c,
        [
            {"name": "scan_started", "page": "inventory:run_detail",
             "properties": {"provider": "aws", "trigger": "manual", "name": "prod-db", "arn": "arn:aws:rds:x"}},
            {"name": "rule_created", "properties": {"kind": "custom", "severity": "arn:aws:iam::1:role/x"}},
            {"name": "export", "page": "/o/acme/resources/?q=prod-db",
             "properties": {"what": "findings", "format": "csv"}},
            {"name": "resource_viewed", "properties": {"name": "prod-db"}},
        ],
    )  # fmt: skip
    assert response.json() == {"stored": 3}
    rows = {e.name: e for e in AnalyticsEvent.objects.all()}
    assert rows["scan_started"].properties == {"provider": "aws", "trigger": "manual"}
    assert rows["rule_created"].properties == {"kind": "custom"}  # a free-text value is dropped
    assert rows["export"].page == ""  # a URL is never a page name
    assert rows["scan_started"].user == member
    stored = json.dumps([(e.name, e.page, e.properties) for e in rows.values()])
    assert "prod-db" not in stored and "arn:" not in stored


def test_the_catalogue_refuses_unknown_events_and_values():
    assert clean_event("scan_started", {"provider": "aws", "tags": {"env": "prod"}}) == (
        "scan_started",
        {"provider": "aws"},
    )
    assert clean_event("scan_started", {"provider": "prod-account"}) == ("scan_started", {})
    assert clean_event("page_title", {}) is None and clean_event(None, None) is None


@pytest.mark.parametrize(
    "body",
    ["not json", b"\xff\xfe", json.dumps({"events": "x"}), json.dumps({"browser_id": "nope", "events": []}),
     json.dumps({"browser_id": BROWSER, "events": [{}] * 21}),
     json.dumps({"browser_id": BROWSER, "events": [{"name": "x" * 20000}]})],
)  # fmt: skip
def test_bad_payloads_are_400_not_500(client, db, body):
    assert _post(client, "events", body).status_code == 400


def test_bad_consent_payloads_are_400(client, db):
    assert _post(client, "consent", {"browser_id": BROWSER, "analytics": "yes"}).status_code == 400
    assert _post(client, "consent", "[]").status_code == 400
    assert client.get(reverse("privacy:consent")).status_code == 405


def test_beacons_need_the_csrf_token(db):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert _consent(strict, True).status_code == 403


def test_beacons_are_rate_limited(client, db, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "privacy_beacon": "3/m/ip"}
    codes = [_events(client, [{"name": "pageview"}]).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]


# --- product events, raised where they happen ----------------------------------------------------


def _pending(page: str) -> list[dict]:
    start = page.index('id="privacy-pending-events"')
    raw = page[page.index(">", start) + 1 : page.index("</script>", start)]
    return json.loads(raw)


def test_scan_started_is_handed_to_the_browser_without_cloud_data(client_for, member, org, monkeypatch):
    connection = CloudConnectionFactory(org=org, name="prod-payments-account")
    monkeypatch.setattr("inventory.actions.send_sync_task", lambda run: None)
    c = client_for(member)
    _consent(c, True)
    response = c.post(reverse("inventory:scan_now", args=[org.slug, connection.pk]), follow=True)
    pending = _pending(response.content.decode())
    assert pending == [{"name": "scan_started", "properties": {"provider": "aws", "trigger": "manual"}}]
    assert "prod-payments-account" not in json.dumps(pending)
    # Handed over once: the next page has none.
    assert _pending(c.get(reverse("profile")).content.decode()) == []


def test_rule_created_and_exports_are_product_events(client_for, member, org):
    c = client_for(member)
    _consent(c, True)
    c.post(
        reverse("findings:policy_new", args=[org.slug]),
        {"name": "Secret project tag", "kind": "required_tags", "values": "cost-center", "severity": "high"},
    )
    c.get(reverse("findings:export", args=[org.slug, "csv"]))
    pending = _pending(c.get(reverse("profile")).content.decode())
    names = [(e["name"], e["properties"]) for e in pending]
    assert ("export", {"what": "findings", "format": "csv"}) in names
    rule = [p for n, p in names if n == "rule_created"]
    assert rule and rule[0]["kind"] == "policy" and "Secret project" not in json.dumps(pending)


def test_without_consent_no_event_is_kept_even_in_the_session(client_for, member, org, monkeypatch):
    monkeypatch.setattr("inventory.actions.send_sync_task", lambda run: None)
    connection = CloudConnectionFactory(org=org, name="Prod")
    c = client_for(member)
    c.post(reverse("inventory:scan_now", args=[org.slug, connection.pk]))
    assert "privacy.pending_events" not in c.session
    # Accepted, then withdrawn: what was waiting goes too.
    _consent(c, True)
    c.get(reverse("findings:export", args=[org.slug, "json"]))
    assert c.session["privacy.pending_events"]
    _consent(c, False)
    assert "privacy.pending_events" not in c.session
    c.get(reverse("findings:export", args=[org.slug, "json"]))
    assert "privacy.pending_events" not in c.session


def test_the_events_endpoint_keeps_the_session_in_step_with_the_browser(client, db):
    _post(client, "consent", {"browser_id": BROWSER, "analytics": True})
    session = client.session
    session.pop("privacy.analytics")
    session.save()
    assert _events(client, [{"name": "pageview"}]).json() == {"stored": 1}
    assert client.session["privacy.analytics"] is True


def test_pages_carry_the_route_not_the_url(client_for, member, org):
    page = client_for(member).get(reverse("findings:list", args=[org.slug]) + "?q=prod-db").content.decode()
    assert 'data-page="findings:list"' in page and 'data-route="o/&lt;slug:org_slug&gt;/findings/"' in page
    config = page[page.index('id="privacy-config"') : page.index("></div>", page.index('id="privacy-config"'))]
    assert "prod-db" not in config and org.slug not in config


# --- what the page loads -----------------------------------------------------------------------


def test_no_analytics_script_in_the_page_itself(client, db, settings):
    settings.POSTHOG_KEY = "phc_test"
    settings.POSTHOG_HOST = "https://eu.i.posthog.com"
    page = client.get(reverse("account_login")).content.decode()
    # Only our consent script; the PostHog file is named as data for it, and loaded after consent.
    assert '<script src="/static/privacy/consent.js"' in page and '<script src="/static/vendor/posthog' not in page
    assert 'data-posthog-src="/static/vendor/posthog/array.no-external.js"' in page
    assert 'data-posthog-host="https://eu.i.posthog.com"' in page


def test_analytics_is_off_when_not_configured(client, db, settings):
    settings.POSTHOG_KEY = ""
    page = client.get(reverse("account_login")).content.decode()
    assert "data-posthog" not in page


def _csp_of_settings(**env: str) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.SECURE_CSP, default=str))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, "DJANGO_SETTINGS_MODULE": "cloustral.settings", **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_csp_allows_the_analytics_host_only_when_configured():
    off = _csp_of_settings()
    assert off["connect-src"] == ["'self'"]
    on = _csp_of_settings(POSTHOG_KEY="phc_test", POSTHOG_HOST="https://eu.i.posthog.com/")
    assert on["connect-src"] == ["'self'", "https://eu.i.posthog.com"]
    assert on["script-src"] == off["script-src"]  # the script is ours (static), loaded with the nonce
