"""Small helpers for driving the account flows through the test client."""

from __future__ import annotations

import re
import time
from base64 import b32decode

from django.core import mail
from django.urls import reverse
from django_otp.oath import TOTP

from accounts.models import TOTPDevice


def login(client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def totp_code(raw_key: bytes, offset_steps: int = 0) -> str:
    totp = TOTP(raw_key, step=30, digits=6)
    totp.time = time.time() + 30 * offset_steps
    return str(totp.token()).zfill(6)


def enable_mfa(user, raw_key: bytes = b"0123456789abcdefghij") -> TOTPDevice:
    device = TOTPDevice(user=user, name="Authenticator app", confirmed=True)
    device.set_key(raw_key)
    device.save()
    return device


def secret_from_page(html: str) -> bytes:
    found = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html)
    assert found, "the setup page shows the secret for manual entry"
    text = found.group(1).replace(" ", "")
    return b32decode(text + "=" * (-len(text) % 8))


def last_link(prefix: str = "http") -> str:
    body = mail.outbox[-1].body
    links = re.findall(r"(https?://\S+)", body)
    assert links, body
    return links[-1]


def login_with_mfa(client, user, raw_key: bytes = b"0123456789abcdefghij"):
    """Log ``client`` in as ``user`` with a confirmed authenticator and the second step passed, as
    after a real login (staff need both for the admin). Returns the client."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or enable_mfa(user, raw_key)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def confirm_identity(client, password: str | None = None):
    """Re-authenticate ("sudo mode", accounts/sudo.py) with the password on the confirmation page, as
    someone sent there would. Returns the client."""
    from tests.conftest import PASSWORD

    response = client.post(reverse("sudo_confirm"), {"method": "password", "password": password or PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client
