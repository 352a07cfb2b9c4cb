import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, User
from tests.accounts.helpers import login

SIGNUP = {
    "email": "Grace@Example.com",
    "first_name": "Grace",
    "last_name": "Hopper",
    "organization_name": "Navy Cloud",
    "password1": "a-long-enough-passphrase-1",
    "password2": "a-long-enough-passphrase-1",
    "timezone": "Europe/Paris",
    "confirm_age": "on",
}


def signup(client, **overrides):
    data = {**SIGNUP, **overrides}
    return client.post(reverse("account_signup"), {k: v for k, v in data.items() if v is not None})


@pytest.mark.django_db
def test_signup_keeps_profile_and_org_name_and_sends_verification(client):
    response = signup(client)
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "grace@example.com"
    assert (user.first_name, user.last_name, user.timezone) == ("Grace", "Hopper", "Europe/Paris")
    assert user.signup_org_name == "Navy Cloud"
    assert user.age_confirmed_at is not None
    assert AuditEvent.objects.filter(actor=user, action="signup").exists()
    message = mail.outbox[-1]
    assert "Confirm" in message.subject or "confirm" in message.body.lower()
    html = dict((mime, body) for body, mime in [(a[0], a[1]) for a in message.alternatives])["text/html"]
    assert "Cloustral" in html and "<html" in html


@pytest.mark.django_db
def test_signup_requires_age_confirmation_and_org_name(client):
    response = signup(client, confirm_age=None, organization_name="  ")
    assert response.status_code == 200
    assert b"You must be 18 or older" in response.content
    assert b"organization" in response.content.lower()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_unverified_email_cannot_log_in_until_the_link_is_followed(client):
    signup(client)
    client.logout()
    response = login(client, SIGNUP["email"], SIGNUP["password1"])
    assert response.status_code == 302 and "confirm-email" in response["Location"]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    assert client.get(link).status_code == 200
    client.post(link)
    assert EmailAddress.objects.get(email="grace@example.com").verified
    response = login(client, SIGNUP["email"], SIGNUP["password1"])
    assert response.status_code == 302 and "confirm-email" not in response["Location"]
    assert client.get(reverse("profile")).status_code == 200


@pytest.mark.django_db
def test_duplicate_email_does_not_reveal_the_account(client, user):
    fresh = signup(Client(), email="someone-new@example.com")
    mail.outbox.clear()
    response = signup(client, email=user.email.upper())
    # Enumeration prevention: the same "verify your email" answer as a fresh sign-up...
    assert response.status_code == 302 and response["Location"] == fresh["Location"]
    assert User.objects.filter(email__iexact=user.email).count() == 1
    # ...and the notice goes to the address's owner, not to whoever typed it.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    assert "already" in mail.outbox[0].body.lower()


@pytest.mark.django_db
def test_profile_update_changes_timezone_shown_in_pages(client, user):
    login(client, user.email, "correct-horse-battery-9")
    AuditEvent.objects.create(actor=user, action="login", created_at="2026-01-15T12:00:00Z")
    response = client.post(reverse("profile"), {"first_name": "Ada", "last_name": "L", "timezone": "Asia/Tokyo"})
    assert response.status_code == 302
    page = client.get(reverse("security")).content.decode()
    assert "2026-01-15 21:00 JST" in page  # 12:00 UTC shown in the user's timezone


@pytest.mark.django_db
def test_profile_rejects_unknown_timezone(logged_in):
    response = logged_in.post(reverse("profile"), {"first_name": "", "last_name": "", "timezone": "Mars/Olympus"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
