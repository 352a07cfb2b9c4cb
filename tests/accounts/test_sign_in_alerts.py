"""Sign-in history and the "new sign-in" security alert (accounts/devices.py): every sign-in is recorded;
one from a browser or an IP network the account never used emails the person, with a "this wasn't me"
link to the security page's sign-in history; the first sign-in of an account alerts no one."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.devices import describe_browser, network_of
from accounts.models import AuditEvent, KnownDevice, SignInEvent
from tests.conftest import PASSWORD

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)
EDGE_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
    "Safari/537.36 Edg/126.0"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)


def sign_in(email: str, ip: str, user_agent: str):
    client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
    response = client.post(reverse("account_login"), {"login": email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def alerts() -> list:
    return [m for m in mail.outbox if "New sign-in" in m.subject]


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (CHROME_WINDOWS, "Chrome on Windows"),
        (EDGE_MAC, "Edge on macOS"),
        (SAFARI_IPHONE, "Safari on iOS"),
        ("curl/8.5", "Unknown browser"),
        ("", "Unknown browser"),
    ],
)
def test_browsers_are_described_by_family_and_system(ua, expected):
    assert describe_browser(ua) == expected


def test_networks():
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert network_of("not an ip") == network_of(None) == ""


@pytest.mark.django_db
def test_new_browser_or_network_sends_an_alert(make_user):
    user = make_user(email="dana@example.com")

    sign_in(user.email, "203.0.113.5", FIREFOX_LINUX)  # the first sign-in: the baseline
    sign_in(user.email, "203.0.113.77", FIREFOX_LINUX)  # same browser, same /24
    assert alerts() == []
    assert SignInEvent.objects.filter(user=user).count() == 2
    assert not SignInEvent.objects.filter(user=user, new_browser=True).exists()

    sign_in(user.email, "203.0.113.9", CHROME_WINDOWS)  # another browser
    [alert] = alerts()
    assert alert.to == [user.email]
    assert "Chrome on Windows" in alert.body and "203.0.113.9" in alert.body and "a browser" in alert.body
    assert "This wasn't me: " in alert.body and reverse("security") + "#sign-ins" in alert.body
    assert alert.alternatives and alert.alternatives[0][1] == "text/html"
    event = SignInEvent.objects.filter(user=user).first()
    assert (event.new_browser, event.new_network, event.alerted) == (True, False, True)
    assert AuditEvent.objects.filter(actor=user, action="new_sign_in_alert").count() == 1

    sign_in(user.email, "198.51.100.20", FIREFOX_LINUX)  # a known browser from another network
    assert len(alerts()) == 2 and "a network" in alerts()[-1].body
    sign_in(user.email, "198.51.100.21", FIREFOX_LINUX)  # now known
    assert len(alerts()) == 2
    assert KnownDevice.objects.filter(user=user).count() == 3


@pytest.mark.django_db
def test_sessions_opened_without_a_client_record_nothing(user, client):
    client.force_login(user)
    client.force_login(user)
    assert not SignInEvent.objects.exists() and alerts() == []


@pytest.mark.django_db
def test_the_security_page_lists_sign_ins(make_user):
    user = make_user(email="eve@example.com")
    sign_in(user.email, "203.0.113.5", FIREFOX_LINUX)
    client = sign_in(user.email, "192.0.2.10", SAFARI_IPHONE)
    page = client.get(reverse("security"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="sign-ins"' in html and "Safari on iOS" in html and "192.0.2.0/24" in html
    assert "New browser and network" in html
    # Only one's own sign-ins.
    other = make_user(email="frank@example.com")
    sign_in(other.email, "192.0.2.99", EDGE_MAC)
    assert "Edge on macOS" not in client.get(reverse("security")).content.decode()


@pytest.mark.django_db
def test_support_staff_see_sign_in_history(staff_client, make_user):
    user = make_user(email="gail@example.com")
    sign_in(user.email, "203.0.113.5", FIREFOX_LINUX)
    response = staff_client.get(reverse("admin:accounts_signinevent_changelist"))
    assert (
        response.status_code == 200
        and b"gail@example.com" in response.content
        and b"203.0.113.0/24" in response.content
    )
