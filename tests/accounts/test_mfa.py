import re

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from accounts.models import AuditEvent, RecoveryCode, TOTPDevice
from cloustral import crypto
from tests.accounts.helpers import enable_mfa, login, secret_from_page, totp_code
from tests.conftest import PASSWORD

RAW = b"0123456789abcdefghij"


def wait_out_throttle(user):
    """django-otp slows retries after a failure (1s, 2s, 4s…); a person takes longer than that to retype."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=None)


@pytest.fixture
def fresh_login(client, user):
    """A password login and a password re-entry just now: re-authentication is fresh."""
    login(client, user.email, PASSWORD)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    return client


def test_setup_requires_recent_password(client, user):
    client.force_login(user)  # a session with no recorded password entry
    response = client.get(reverse("mfa_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("sudo_confirm"))
    response = client.post(response["Location"], {"method": "password", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("mfa_setup")).status_code == 200


def test_enroll_with_qr_code_then_recovery_codes_shown_once(fresh_login, user):
    page = fresh_login.get(reverse("mfa_setup")).content.decode()
    assert 'src="data:image/svg+xml' in page  # the QR code
    raw = secret_from_page(page)
    response = fresh_login.post(reverse("mfa_setup"), {"code": "000000" if totp_code(raw) != "000000" else "111111"})
    assert b"That code is not right" in response.content
    wait_out_throttle(user)
    response = fresh_login.post(reverse("mfa_setup"), {"code": totp_code(raw)})
    html = response.content.decode()
    assert "Save these recovery codes now" in html
    assert user.has_mfa
    codes = [c for c in html.split("<code>")[1:]]
    assert len(codes) == 10
    first_code = codes[0].split("</code>")[0]
    # Stored hashed, never in plaintext.
    assert not RecoveryCode.objects.filter(code_hash__icontains=first_code).exists()
    assert all(first_code.replace("-", "") not in (r.code_hash + r.salt) for r in RecoveryCode.objects.all())
    assert "Two-factor authentication enabled" in mail.outbox[-1].subject
    assert AuditEvent.objects.filter(actor=user, action="mfa_enabled").exists()
    # The security page does not show codes again.
    assert first_code not in fresh_login.get(reverse("security")).content.decode()


def test_totp_secret_is_encrypted_at_rest_and_bound_to_its_user(user, make_user):
    device = enable_mfa(user, RAW)
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_key FROM accounts_totpdevice WHERE id = %s", [device.id])
        stored = cursor.fetchone()[0]
    assert RAW.hex() not in stored and stored.startswith("v1:")
    other = make_user("eve@example.com")
    stolen = TOTPDevice(user=other, name="x", confirmed=True, encrypted_key=stored)
    stolen.save()
    with pytest.raises(crypto.DecryptionError):
        stolen.bin_key()
    assert stolen.verify_token(totp_code(RAW)) is False  # fails closed


def test_login_requires_the_second_step(client, user):
    enable_mfa(user, RAW)
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 302
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_verify"))
    response = client.post(reverse("mfa_verify"), {"code": totp_code(RAW), "next": reverse("profile")})
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    assert client.get(reverse("profile")).status_code == 200
    assert AuditEvent.objects.filter(actor=user, action="mfa_verified").exists()


def test_wrong_code_refused_and_codes_are_single_use(client, user):
    enable_mfa(user, RAW)
    login(client, user.email, PASSWORD)
    response = client.post(reverse("mfa_verify"), {"code": "12345"})
    assert b"That code is not valid" in response.content
    wait_out_throttle(user)
    code = totp_code(RAW)
    assert client.post(reverse("mfa_verify"), {"code": code}).status_code == 302
    client.logout()
    login(client, user.email, PASSWORD)
    response = client.post(reverse("mfa_verify"), {"code": code})  # replay of the same code
    assert response.status_code == 200 and b"That code is not valid" in response.content
    assert AuditEvent.objects.filter(actor=user, action="mfa_failed").count() == 2


def test_recovery_code_works_once(fresh_login, user):
    from accounts.mfa import new_recovery_codes

    enable_mfa(user, RAW)
    codes = new_recovery_codes(user)
    fresh_login.logout()
    login(fresh_login, user.email, PASSWORD)
    assert fresh_login.post(reverse("mfa_verify"), {"code": codes[0].upper()}).status_code == 302
    assert "Recovery code used" in mail.outbox[-1].subject
    fresh_login.logout()
    login(fresh_login, user.email, PASSWORD)
    response = fresh_login.post(reverse("mfa_verify"), {"code": codes[0]})
    assert response.status_code == 200


def test_password_reset_does_not_bypass_mfa(client, user):
    enable_mfa(user, RAW)
    client.post(reverse("account_reset_password"), {"email": user.email})
    link = re.search(r"https?://testserver(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = client.post(form_url, {"password1": "brand-new-passphrase-2", "password2": "brand-new-passphrase-2"})
    assert response.status_code == 302
    login(client, user.email, "brand-new-passphrase-2")
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_verify"))


def test_mfa_verification_is_rate_limited(client, user, settings):
    enable_mfa(user, RAW)
    login(client, user.email, PASSWORD)
    statuses = [client.post(reverse("mfa_verify"), {"code": "000001"}).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    response = client.post(reverse("mfa_verify"), {"code": totp_code(RAW)})
    assert response.status_code == 429
    assert b"Too many attempts" in response.content


def test_disable_and_regenerate_need_reauth_and_send_alerts(client, user):
    enable_mfa(user, RAW)
    client.force_login(user)
    # force_login leaves the session unverified: pass the second step first.
    client.post(reverse("mfa_verify"), {"code": totp_code(RAW)})
    for name in ("mfa_recovery_codes", "mfa_disable"):
        response = client.get(reverse(name))
        assert response["Location"].startswith(reverse("sudo_confirm"))
    response = client.post(reverse("mfa_recovery_codes"))
    assert response["Location"].startswith(reverse("sudo_confirm"))
    client.post(response["Location"], {"method": "password", "password": PASSWORD})
    response = client.post(reverse("mfa_recovery_codes"))
    assert response.status_code == 200 and b"Your previous codes no longer work" in response.content
    assert "New recovery codes generated" in mail.outbox[-1].subject
    response = client.post(reverse("mfa_disable"))  # the password alone no longer turns MFA off
    assert response.status_code == 200 and user.has_mfa
    response = client.post(reverse("mfa_disable"), {"code": totp_code(RAW, offset_steps=1)})
    assert response.status_code == 302
    assert not user.has_mfa and not RecoveryCode.objects.filter(user=user).exists()
    assert "Two-factor authentication disabled" in mail.outbox[-1].subject
    assert AuditEvent.objects.filter(actor=user, action="mfa_disabled").exists()


def test_email_change_requires_reauthentication(client, user):
    client.force_login(user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": "new@example.com"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("sudo_confirm"))


def test_next_parameter_cannot_redirect_off_site(client, user):
    enable_mfa(user, RAW)
    login(client, user.email, PASSWORD)
    response = client.post(reverse("mfa_verify"), {"code": totp_code(RAW), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_password_change_needs_old_password_and_sends_an_alert(client, user):
    client.force_login(user)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": "not-it", "password1": "another-passphrase-3", "password2": "another-passphrase-3"},
    )
    assert response.status_code == 200 and b"Please type your current password" in response.content
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "another-passphrase-3", "password2": "another-passphrase-3"},
    )
    assert response.status_code == 302
    alert = mail.outbox[-1]
    assert "Password Changed" in alert.subject or "password" in alert.subject.lower()
    assert any(mime == "text/html" for _, mime in alert.alternatives)
    assert "another-passphrase-3" not in alert.body
    assert AuditEvent.objects.filter(actor=user, action="password_changed").exists()


def test_half_signed_in_session_shows_no_names_or_navigation(client, user):
    enable_mfa(user, RAW)
    user.first_name = "Adalbertine"
    user.save()
    login(client, user.email, PASSWORD)
    page = client.get(reverse("mfa_verify")).content.decode()
    assert "Adalbertine" not in page and reverse("security") not in page
    client.post(reverse("mfa_verify"), {"code": totp_code(RAW)})
    assert "Adalbertine" in client.get(reverse("profile")).content.decode()
