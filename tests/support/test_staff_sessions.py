"""Staff sessions end sooner than customers': STAFF_SESSION_MAX_AGE_MINUTES after they began and after
STAFF_SESSION_IDLE_MINUTES without a request; the person signs in again (with MFA)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from support.middleware import SEEN_KEY, SINCE_KEY

pytestmark = pytest.mark.django_db


def shift(client, **seconds_ago) -> None:
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[{"since": SINCE_KEY, "seen": SEEN_KEY}[key]] = now - ago
    session.save()


def test_an_active_staff_session_continues(support_client, settings):
    assert support_client.get(reverse("admin:index")).status_code == 200
    shift(support_client, since=7 * 3600, seen=20 * 60)
    assert support_client.get(reverse("admin:index")).status_code == 200
    assert support_client.session.get_expiry_age() == settings.STAFF_SESSION_IDLE_MINUTES * 60


def test_idle_staff_sessions_end(support_client):
    support_client.get(reverse("admin:index"))
    shift(support_client, seen=31 * 60)
    response = support_client.get(reverse("admin:support_search"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in support_client.session


def test_staff_sessions_end_after_eight_hours_however_active(support_client):
    support_client.get(reverse("admin:index"))
    shift(support_client, since=8 * 3600 + 60, seen=10)
    response = support_client.get(reverse("home"))  # any page, not only the admin
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in support_client.session


def test_the_limits_are_settings(support_client, settings):
    settings.STAFF_SESSION_IDLE_MINUTES = 5
    support_client.get(reverse("admin:index"))
    shift(support_client, seen=6 * 60)
    assert support_client.get(reverse("admin:index")).status_code == 302


def test_customer_sessions_are_not_cut(logged_in):
    logged_in.get(reverse("home"))
    session = logged_in.session
    assert SINCE_KEY not in session
    session[SEEN_KEY] = time.time() - 10 * 3600
    session.save()
    assert SESSION_KEY in logged_in.session and logged_in.get(reverse("home")).status_code in (200, 302)
    assert SESSION_KEY in logged_in.session
