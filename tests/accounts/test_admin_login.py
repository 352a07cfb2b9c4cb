"""Staff log in to the admin through allauth's login (rate limits, MFA second step), never through the
admin's own password form, and reach no admin page without MFA."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.accounts.helpers import enable_mfa, login, login_with_mfa, totp_code
from tests.conftest import PASSWORD

RAW = b"0123456789abcdefghij"
ADMIN = f"/{settings.ADMIN_URL}"
ADMIN_LOGIN = f"/{settings.ADMIN_URL}login/"


@pytest.fixture
def staff(make_user):
    return make_user("root@example.com", is_staff=True, is_superuser=True)


def test_admin_login_form_is_not_a_way_around_allauth(client, staff):
    # Forty wrong passwords, then the right one, at the admin's own form: none is even checked.
    for _ in range(40):
        response = client.post(ADMIN_LOGIN, {"username": staff.email, "password": "wrong-password-1"})
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    response = client.post(ADMIN_LOGIN, {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in client.session


def test_wrong_passwords_on_the_way_to_the_admin_hit_the_login_rate_limit(client, staff):
    login_url = client.get(ADMIN_LOGIN)["Location"]
    statuses = [
        client.post(login_url, {"login": staff.email, "password": "wrong-password-1"}).status_code for _ in range(12)
    ]
    assert statuses[0] == 200 and statuses[-1] == 429
    assert client.post(login_url, {"login": staff.email, "password": PASSWORD}).status_code == 429
    assert SESSION_KEY not in client.session


def test_staff_without_mfa_reach_no_admin_page(client, staff):
    login(client, staff.email, PASSWORD)
    for path in (ADMIN, ADMIN_LOGIN, reverse("admin:accounts_user_changelist"), reverse("admin:password_change")):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == reverse("mfa_setup"), path
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Staff accounts must use two-factor authentication" in m for m in shown)


def test_staff_with_mfa_pass_the_second_step_then_the_admin_works(client, staff):
    enable_mfa(staff, RAW)
    start = client.get(ADMIN)  # anonymous: the admin login, which is allauth's
    assert start["Location"].startswith(ADMIN_LOGIN)
    to_login = client.get(start["Location"])
    assert to_login["Location"].startswith(reverse("account_login"))
    response = client.post(to_login["Location"], {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    second = client.get(ADMIN)
    assert second.status_code == 302 and second["Location"].startswith(reverse("mfa_verify"))
    response = client.post(reverse("mfa_verify"), {"code": totp_code(RAW), "next": ADMIN})
    assert response["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200


def test_verified_staff_client_reaches_the_admin(client, staff):
    login_with_mfa(client, staff)
    assert client.get(ADMIN).status_code == 200


def test_logged_in_non_staff_are_refused_at_the_admin_login(logged_in):
    assert logged_in.get(ADMIN_LOGIN).status_code == 403
