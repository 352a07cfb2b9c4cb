"""What a new person is told in their first hour: emails say "Cloustral" and the real address, confirming
the address in the same browser signs in, an invitation's address needs no second proof, and messages tell
the truth around the second factor."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.messages import get_messages
from django.contrib.sites.models import Site
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from cloustral import sites
from orgs.models import Membership
from tests.accounts.helpers import enable_mfa, login, totp_code
from tests.accounts.test_signup import SIGNUP, signup
from tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db


def test_the_site_row_names_cloustral_and_the_real_address(settings):
    site = Site.objects.get_current()
    assert site.name == "Cloustral" and site.domain == sites.site_domain()
    settings.SITE_URL = "https://app.cloustral.example"
    sites.sync_site()
    site = Site.objects.get_current()
    assert (site.name, site.domain) == ("Cloustral", "app.cloustral.example")


def test_the_verification_email_says_cloustral_never_example_com(client):
    signup(client)
    message = mail.outbox[-1]
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "example.com" not in body.replace(SIGNUP["email"].lower(), "")
    assert "Hello from Cloustral!" in message.body and sites.site_domain() in message.body


def test_confirming_in_the_same_browser_signs_in(client):
    signup(client)
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    response = client.post(link)
    assert response.status_code == 302
    assert client.get(reverse("profile")).status_code == 200  # signed in, no second login
    # Another browser confirms but is not signed in by it.
    other = Client()
    signup(other, email="linus@example.com")
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    stranger = Client()
    stranger.post(link)
    assert EmailAddress.objects.get(email="linus@example.com").verified
    assert stranger.get(reverse("profile")).status_code == 302


def test_an_invited_person_signing_up_with_the_invited_address_skips_verification(client, org, owner):
    invitation = InvitationFactory(org=org, invited_by=owner, email="invitee@example.com")
    token = invitation.token  # the raw token of the link (the factory keeps it; only its hash is stored)
    client.get(reverse("orgs:invitation", args=[token]))
    mail.outbox.clear()
    response = signup(client, email="Invitee@Example.com", organization_name="")
    assert response.status_code == 302 and "confirm-email" not in response["Location"]
    user = User.objects.get(email="invitee@example.com")
    assert EmailAddress.objects.get(user=user).verified
    assert not [m for m in mail.outbox if "confirm" in m.subject.lower()]
    assert Membership.objects.for_user(user).filter(org=org).exists()
    # Someone else's address in the same browser still has to be verified.
    other = Client()
    other.get(reverse("orgs:invitation", args=[token]))
    signup(other, email="someone-else@example.com", organization_name="Else")
    assert not EmailAddress.objects.get(email="someone-else@example.com").verified


def test_no_signed_in_message_before_the_second_factor(client, user):
    device = enable_mfa(user)
    response = login(client, user.email, "correct-horse-battery-9")
    assert response.status_code == 302
    page = client.get(response["Location"], follow=True)
    texts = [str(m) for m in get_messages(page.wsgi_request)]
    assert not [t for t in texts if "signed in" in t.lower()], texts
    response = client.post(reverse("mfa_verify"), {"code": totp_code(device.bin_key())}, follow=True)
    assert f"Signed in as {user.email}." in [str(m) for m in get_messages(response.wsgi_request)]


def test_a_throttled_code_is_refused_as_throttled_not_as_wrong(client, user):
    device = enable_mfa(user)
    login(client, user.email, "correct-horse-battery-9")
    device.throttling_failure_count = 5
    device.throttling_failure_timestamp = timezone.now() - timedelta(seconds=1)
    device.save()
    response = client.post(reverse("mfa_verify"), {"code": totp_code(device.bin_key())})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Too many wrong codes in a row" in body and "even a correct one" in body
    assert "That code is not valid" not in body


# --- small things ------------------------------------------------------------------------------------------


def test_a_403_is_logged_as_one_line_without_a_traceback(org, client_for):
    import logging

    from cloustral.logging import ClientErrorTracebackFilter
    from orgs.roles import Role
    from tests.factories import MembershipFactory, UserFactory

    viewer = UserFactory()
    MembershipFactory(user=viewer, org=org, role=Role.VIEWER)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep = Keep()
    logging.getLogger("django.request").addHandler(keep)
    try:
        response = client_for(viewer).get(reverse("connections:choose", args=[org.slug]))
    finally:
        logging.getLogger("django.request").removeHandler(keep)
    assert response.status_code == 403
    record = next(r for r in records if getattr(r, "status_code", None) == 403)
    console = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, ClientErrorTracebackFilter) for f in h.filters)
    )
    assert console.filter(record)
    line = console.format(record)
    assert "Forbidden" in line and "Traceback" not in line and "\n" not in line.strip()
    # A server error keeps its traceback.
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        error = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), sys.exc_info()
        )
    error.status_code = 500
    assert console.filter(error) and "Traceback" in console.format(error)


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_the_google_button_shows_when_and_only_when_google_is_configured(client, settings, path):
    google = settings.SOCIALACCOUNT_PROVIDERS["google"]
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {**google, "APPS": []}}
    assert "/accounts/google/login/" not in client.get(path).content.decode()
    app = {"client_id": "cid.apps.googleusercontent.com", "secret": "gsecret", "key": ""}
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {**google, "APPS": [app]}}
    assert "/accounts/google/login/" in client.get(path).content.decode()


def test_the_favicon_is_linked_and_served(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
