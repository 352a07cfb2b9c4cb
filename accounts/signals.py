"""Security events from Django and allauth go to the audit log."""

from __future__ import annotations

from allauth.account import signals as allauth_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from accounts import audit, devices
from accounts.models import AuditEvent

A = AuditEvent.Action


@receiver(auth_signals.user_logged_in)
def on_login(sender, request, user, **kwargs):
    audit.record(A.LOGIN, request=request, actor=user)
    devices.record_sign_in(request, user)  # sign-in history; an alert from a new browser or network


@receiver(auth_signals.user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record(A.LOGOUT, request=request, actor=user)


@receiver(auth_signals.user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Django has already scrubbed the password from `credentials`; keep only the address tried.
    email = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit.record(A.LOGIN_FAILED, request=request, actor_email=email)


@receiver(allauth_signals.user_signed_up)
def on_signup(sender, request, user, **kwargs):
    audit.record(A.SIGNUP, request=request, actor=user)


@receiver(allauth_signals.email_confirmed)
def on_email_confirmed(sender, request, email_address, **kwargs):
    audit.record(A.EMAIL_CONFIRMED, request=request, actor=email_address.user)


@receiver(allauth_signals.email_changed)
def on_email_changed(sender, request, user, from_email_address, to_email_address, **kwargs):
    audit.record(
        A.EMAIL_CHANGED,
        request=request,
        actor=user,
        old=getattr(from_email_address, "email", ""),
        new=to_email_address.email,
    )


@receiver(allauth_signals.password_changed)
def on_password_changed(sender, request, user, **kwargs):
    audit.record(A.PASSWORD_CHANGED, request=request, actor=user)


@receiver(allauth_signals.password_reset)
def on_password_reset(sender, request, user, **kwargs):
    audit.record(A.PASSWORD_RESET, request=request, actor=user)
