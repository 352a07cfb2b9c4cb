"""The MFA step's ``next`` is a path on this site or nothing: never another host, a scheme, or a word
that Django would try to reverse as a URL name (it raised NoReverseMatch, a 500)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.accounts.helpers import enable_mfa, login, totp_code
from tests.conftest import PASSWORD

RAW = b"0123456789abcdefghij"
BAD = ["abc", "//evil.com", "https://evil.com/", "javascript:alert(1)", "/\\evil.com", "http://testserver/o/x/"]


def verify_url(next_url: str) -> str:
    return f"{reverse('mfa_verify')}?next={quote(next_url, safe='')}"


@pytest.mark.parametrize("next_url", BAD)
def test_bad_next_falls_back_to_home_when_already_verified(logged_in, next_url):
    response = logged_in.get(verify_url(next_url))
    assert response.status_code == 302 and response["Location"] == reverse("home")


@pytest.mark.parametrize("next_url", BAD)
def test_bad_next_is_dropped_at_the_second_step(client, user, next_url):
    enable_mfa(user, RAW)
    login(client, user.email, PASSWORD)
    page = client.get(verify_url(next_url))
    assert page.status_code == 200 and b'name="next" value=""' in page.content
    response = client.post(verify_url(next_url), {"code": totp_code(RAW), "next": next_url})
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_a_path_on_this_site_is_followed(client, user, logged_in):
    assert logged_in.get(verify_url("/o/x/"))["Location"] == "/o/x/"
    logged_in.logout()
    enable_mfa(user, RAW)
    login(client, user.email, PASSWORD)
    response = client.post(reverse("mfa_verify"), {"code": totp_code(RAW), "next": "/o/x/?tab=1"})
    assert response.status_code == 302 and response["Location"] == "/o/x/?tab=1"
