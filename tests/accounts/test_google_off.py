"""Google sign-in without GOOGLE_CLIENT_ID/SECRET is off: its routes are a 404, not a 500."""

from __future__ import annotations

import pytest


@pytest.fixture
def google_unconfigured(settings, db):
    settings.GOOGLE_CLIENT_ID = settings.GOOGLE_CLIENT_SECRET = ""
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {**settings.SOCIALACCOUNT_PROVIDERS["google"], "APPS": []}}


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/accounts/google/login/"),
        ("post", "/accounts/google/login/"),
        ("get", "/accounts/google/login/callback/?code=c0de&state=s"),
    ],
)
def test_google_routes_are_404_when_unconfigured(client, google_unconfigured, method, path):
    client.raise_request_exception = False  # a 500 is a response to assert on, not an error in the test
    assert getattr(client, method)(path).status_code == 404


def test_login_page_offers_no_google_button_when_unconfigured(client, google_unconfigured):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"/accounts/google/login/" not in page.content


def test_google_still_starts_when_configured(client, settings, db):
    app = {"client_id": "cid.apps.googleusercontent.com", "secret": "gsecret", "key": ""}
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {**settings.SOCIALACCOUNT_PROVIDERS["google"], "APPS": [app]}}
    start = client.post("/accounts/google/login/")
    assert start.status_code == 302 and start["Location"].startswith("https://accounts.google.com/")
