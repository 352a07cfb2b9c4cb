"""Multi-factor authentication: TOTP enrollment, recovery codes and the login second step.

Plain functions beside the models; views only call these. Every change is audited and triggers a
security-alert email.
"""

from __future__ import annotations

import secrets

import segno
from allauth.account.adapter import get_adapter
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login

from accounts import audit
from accounts.models import AuditEvent, RecoveryCode, TOTPDevice, User

A = AuditEvent.Action


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_device(user: User) -> tuple[TOTPDevice, bytes]:
    """The unconfirmed device being enrolled (created on first call) and its raw key for the QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice(user=user, name="Authenticator app", confirmed=False)
        raw = TOTPDevice.new_key()
        device.set_key(raw)
        device.save()
        return device, raw
    return device, device.bin_key()


def qr_svg_data_uri(otpauth_url: str) -> str:
    return segno.make(otpauth_url, error="m").svg_data_uri(scale=5, border=2)


def secret_for_manual_entry(raw: bytes) -> str:
    from base64 import b32encode

    text = b32encode(raw).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _notify(request: HttpRequest, user: User, template: str) -> None:
    get_adapter(request).send_notification_mail(f"accounts/email/{template}", user)


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; the plaintext exists only in the returned list."""
    codes = [RecoveryCode.generate() for _ in range(settings.MFA_RECOVERY_CODE_COUNT)]
    rows = []
    for code in codes:
        salt = secrets.token_hex(16)
        rows.append(RecoveryCode(user=user, salt=salt, code_hash=RecoveryCode.digest(salt, code)))
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(rows)
    return codes


def do_confirm_enrollment(request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm a pending device with a first code. Returns the new recovery codes, or None if refused."""
    if not device.verify_token(code):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = new_recovery_codes(device.user)
    otp_login(request, device)
    audit.record(A.MFA_ENABLED, request=request, actor=device.user, factor="totp")
    audit.record(A.RECOVERY_CODES_GENERATED, request=request, actor=device.user, count=len(codes))
    _notify(request, device.user, "mfa_enabled")
    return codes


def do_regenerate_recovery_codes(request: HttpRequest, user: User) -> list[str]:
    codes = new_recovery_codes(user)
    audit.record(A.RECOVERY_CODES_GENERATED, request=request, actor=user, count=len(codes))
    _notify(request, user, "recovery_codes_generated")
    return codes


def do_disable(request: HttpRequest, user: User) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
    audit.record(A.MFA_DISABLED, request=request, actor=user, factor="totp")
    _notify(request, user, "mfa_disabled")


def use_recovery_code(user: User, code: str) -> bool:
    """Spend a recovery code: each works once, even under concurrent requests."""
    normalized = RecoveryCode.normalize(code)
    if len(normalized) != 12:
        return False
    for candidate in RecoveryCode.objects.filter(user=user, used_at__isnull=True):
        if candidate.matches(normalized):
            # The conditional update makes a racing second use of the same code fail.
            return (
                RecoveryCode.objects.filter(pk=candidate.pk, used_at__isnull=True).update(used_at=timezone.now()) == 1
            )
    return False


def do_verify_login(request: HttpRequest, user: User, code: str) -> bool:
    """The second step at login: a TOTP code, or a recovery code."""
    device = confirmed_device(user)
    if device is None:
        return False
    if device.verify_token(code):
        otp_login(request, device)
        audit.record(A.MFA_VERIFIED, request=request, actor=user, factor="totp")
        return True
    if use_recovery_code(user, code):
        otp_login(request, device)
        audit.record(A.RECOVERY_CODE_USED, request=request, actor=user)
        remaining = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
        _notify(request, user, "recovery_code_used")
        audit.record(A.MFA_VERIFIED, request=request, actor=user, factor="recovery_code", remaining=remaining)
        return True
    audit.record(A.MFA_FAILED, request=request, actor=user)
    return False


def needs_second_step(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_authenticated:
        return False
    # django-otp's middleware adds is_verified(); a user swapped in mid-request (just logged in) lacks it
    # and counts as unverified: fail closed.
    is_verified = getattr(user, "is_verified", None)
    verified = bool(is_verified()) if callable(is_verified) else False
    return not verified and user.has_mfa
