"""Turning MFA off takes a current second factor, not the password alone, and logs out every other
session of the user (this one stays), with the usual alert email and audit event."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.mfa import new_recovery_codes
from accounts.models import AuditEvent, TOTPDevice
from tests.accounts.helpers import enable_mfa, login, login_with_mfa, totp_code
from tests.conftest import PASSWORD

RAW = b"0123456789abcdefghij"


@pytest.fixture
def signed_in(client, user):
    """MFA on; logged in with the password just now (a fresh re-authentication) and the second step done."""
    enable_mfa(user, RAW)
    login(client, user.email, PASSWORD)
    assert client.post(reverse("mfa_verify"), {"code": totp_code(RAW)}).status_code == 302
    assert client.get(reverse("mfa_disable")).status_code == 200
    return client


def next_code() -> str:
    # The login spent this time step's code (replay guard); the server accepts the next step's too.
    return totp_code(RAW, offset_steps=1)


def test_the_password_alone_does_not_turn_mfa_off(signed_in, user):
    page = signed_in.get(reverse("mfa_disable"))
    assert page.status_code == 200 and b'name="code"' in page.content
    assert signed_in.post(reverse("mfa_disable")).status_code == 200
    response = signed_in.post(reverse("mfa_disable"), {"code": "000000" if next_code() != "000000" else "111111"})
    assert response.status_code == 200 and b"That code is not valid" in response.content
    assert user.has_mfa
    assert not AuditEvent.objects.filter(actor=user, action="mfa_disabled").exists()
    assert AuditEvent.objects.filter(actor=user, action="mfa_failed").exists()


def test_a_current_code_turns_it_off_with_alert_and_audit(signed_in, user):
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=None)
    response = signed_in.post(reverse("mfa_disable"), {"code": next_code()})
    assert response.status_code == 302 and response["Location"] == reverse("security")
    assert not user.has_mfa
    assert "Two-factor authentication disabled" in mail.outbox[-1].subject
    assert AuditEvent.objects.filter(actor=user, action="mfa_disabled").exists()


def test_a_recovery_code_also_works(signed_in, user):
    codes = new_recovery_codes(user)
    assert signed_in.post(reverse("mfa_disable"), {"code": codes[3]}).status_code == 302
    assert not user.has_mfa
    event = AuditEvent.objects.get(actor=user, action="mfa_disabled")
    assert event.metadata["proof"] == "recovery_code"


def test_other_sessions_end_and_this_one_stays(signed_in, user, make_user):
    laptop = login_with_mfa(Client(), user)
    someone_else = login_with_mfa(Client(), make_user("bob@example.com"), b"b" * 20)
    assert laptop.get(reverse("profile")).status_code == 200

    assert signed_in.post(reverse("mfa_disable"), {"code": next_code()}).status_code == 302

    assert signed_in.get(reverse("profile")).status_code == 200  # this session stays logged in
    gone = laptop.get(reverse("profile"))
    assert gone.status_code == 302 and gone["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in laptop.session
    assert someone_else.get(reverse("profile")).status_code == 200  # other users are untouched
    assert AuditEvent.objects.get(actor=user, action="mfa_disabled").metadata["sessions_ended"] == 1


def test_guessing_codes_is_rate_limited(signed_in, user):
    statuses = [signed_in.post(reverse("mfa_disable"), {"code": "000001"}).status_code for _ in range(6)]
    assert 429 in statuses
    assert signed_in.post(reverse("mfa_disable"), {"code": next_code()}).status_code == 429
    assert user.has_mfa
