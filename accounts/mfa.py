"""Multi-factor authentication: TOTP enrollment, recovery codes and the login second step.

Plain functions beside the models; views only call these. Every change is audited and triggers a
security-alert email.
"""

from __future__ import annotations

import logging
import secrets
from importlib import import_module
from urllib.parse import urlsplit

import segno
from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

from accounts import audit
from accounts.models import AuditEvent, RecoveryCode, TOTPDevice, User

A = AuditEvent.Action
logger = logging.getLogger(__name__)


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


def end_other_sessions(request: HttpRequest, user: User) -> int:
    """Log ``user`` out everywhere except this request's session; returns how many sessions ended.

    A password change does this through Django's session hash (derived from the password hash), which
    turning MFA off does not change; so the user's other sessions are deleted from the session store.
    Django's session table has no user column: every live session is decoded once. That is acceptable
    for a rare, deliberate action.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    get_model_class = getattr(store_class, "get_model_class", None)
    if get_model_class is None:  # cache-only or cookie sessions cannot be listed
        logger.warning("cannot end other sessions with SESSION_ENGINE=%s", settings.SESSION_ENGINE)
        return 0
    current = request.session.session_key
    decoder = store_class()
    ended = 0
    rows = get_model_class().objects.filter(expire_date__gt=timezone.now()).exclude(session_key=current)
    for key, data in rows.values_list("session_key", "session_data").iterator():
        if decoder.decode(data).get(SESSION_KEY) == str(user.pk):
            store_class(session_key=key).delete()  # through the store, so cached_db drops its cache too
            ended += 1
    return ended


def do_disable(request: HttpRequest, user: User, code: str) -> bool:
    """Turn MFA off, proven by a current TOTP code or an unused recovery code (the password alone is
    not enough: a stolen password plus a forgotten open session must not remove the second factor).
    Every other session of the user ends; this one stays. Returns False if the code was refused."""
    factor = _accept_code(user, code)
    if factor is None:
        audit.record(A.MFA_FAILED, request=request, actor=user, during="mfa_disable")
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
    ended = end_other_sessions(request, user)
    audit.record(A.MFA_DISABLED, request=request, actor=user, factor="totp", proof=factor, sessions_ended=ended)
    _notify(request, user, "mfa_disabled")
    return True


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


def _accept_code(user: User, code: str) -> str | None:
    """Check a second-factor code: "totp" for a current authenticator code, "recovery_code" for an
    unused recovery code (now spent), None if refused or the user has no confirmed device."""
    device = confirmed_device(user)
    if device is None:
        return None
    if device.verify_token(code):
        return "totp"
    if use_recovery_code(user, code):
        return "recovery_code"
    return None


def throttled_seconds(user: User) -> int:
    """Seconds during which the authenticator refuses every code after repeated wrong ones (0: none).
    A recovery code still works meanwhile."""
    device = confirmed_device(user)
    if device is None:
        return 0
    allowed, data = device.verify_is_allowed()
    if allowed:
        return 0
    until = (data or {}).get("locked_until")
    return max(1, int((until - timezone.now()).total_seconds()) + 1) if until else 1


def do_verify_login(request: HttpRequest, user: User, code: str) -> bool:
    """The second step at login: a TOTP code, or a recovery code."""
    factor = _accept_code(user, code)
    if factor is None:
        audit.record(A.MFA_FAILED, request=request, actor=user)
        return False
    otp_login(request, confirmed_device(user))
    if factor == "totp":
        audit.record(A.MFA_VERIFIED, request=request, actor=user, factor="totp")
        return True
    audit.record(A.RECOVERY_CODE_USED, request=request, actor=user)
    remaining = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
    _notify(request, user, "recovery_code_used")
    audit.record(A.MFA_VERIFIED, request=request, actor=user, factor="recovery_code", remaining=remaining)
    return True


def needs_second_step(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_authenticated:
        return False
    # django-otp's middleware adds is_verified(); a user swapped in mid-request (just logged in) lacks it
    # and counts as unverified: fail closed.
    is_verified = getattr(user, "is_verified", None)
    verified = bool(is_verified()) if callable(is_verified) else False
    return not verified and user.has_mfa


def safe_next_path(request: HttpRequest, url: str) -> str:
    """``url`` if it is a path on this site ("/o/x/"), else "" (the caller's default): never another
    host, a scheme ("javascript:"), a protocol-relative "//host" or a bare word that is no path."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return ""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return ""
    if not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return ""
    return url


def staff_lacks_mfa(user) -> bool:
    """Staff use the admin only with a confirmed authenticator (the second step itself is enforced for
    everyone with MFA by MFARequiredMiddleware)."""
    return bool(user.is_authenticated and user.is_staff and not user.has_mfa)
