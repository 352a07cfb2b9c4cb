"""The "confirm it's you" page: the proofs that open the re-authentication window of accounts/sudo.py.

Which proofs a user is offered (docs/security.md):
- a usable password: the password;
- MFA on: a code from the authenticator app or an unused recovery code (with or without a password);
- neither (signed up with Google, no MFA): a one-time code sent to their verified address.

Every attempt is rate-limited and audited; nothing of the action that sent the user here is stored.
"""

from __future__ import annotations

import secrets
import time

from allauth.account.adapter import get_adapter
from allauth.core.ratelimit import consume_or_429
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import audit, mfa, sudo
from accounts.models import AuditEvent, User

A = AuditEvent.Action

PASSWORD, TOTP, EMAIL_CODE = "password", "totp", "email_code"
EMAIL_CODE_SESSION_KEY = "sudo_email_code"
EMAIL_CODE_DIGITS = 6
EMAIL_CODE_TTL_SECONDS = 10 * 60
EMAIL_CODE_MAX_ATTEMPTS = 5


# --- forms -------------------------------------------------------------------------------------


class PasswordProofForm(forms.Form):
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeProofForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().replace(" ", "")


# --- proofs --------------------------------------------------------------------------------------


def proof_methods(user: User) -> list[str]:
    """The proofs ``user`` can give, strongest first. Never empty: the email code is the fallback for
    an account with neither a password nor MFA."""
    methods = []
    if user.has_mfa:
        methods.append(TOTP)
    if user.has_usable_password():
        methods.append(PASSWORD)
    return methods or [EMAIL_CODE]


def _code_digest(user_pk: str, nonce: str, code: str) -> str:
    return salted_hmac("accounts.reauth.email_code", f"{user_pk}:{nonce}:{code}", algorithm="sha256").hexdigest()


def send_email_code(request: HttpRequest) -> None:
    """Email a fresh one-time code (replacing any earlier one). The session keeps only its keyed hash."""
    user = request.user
    code = f"{secrets.randbelow(10**EMAIL_CODE_DIGITS):0{EMAIL_CODE_DIGITS}d}"
    nonce = secrets.token_hex(16)
    request.session[EMAIL_CODE_SESSION_KEY] = {
        "user": str(user.pk),
        "nonce": nonce,
        "digest": _code_digest(str(user.pk), nonce, code),
        "expires": time.time() + EMAIL_CODE_TTL_SECONDS,
        "attempts": 0,
    }
    context = {"code": code, "minutes": EMAIL_CODE_TTL_SECONDS // 60, "user": user}
    get_adapter(request).send_mail("accounts/email/reauth_code", user.email, context)
    audit.record(A.REAUTHENTICATION_CODE_SENT, request=request)


def email_code_pending(request: HttpRequest) -> bool:
    pending = request.session.get(EMAIL_CODE_SESSION_KEY)
    return (
        isinstance(pending, dict)
        and pending.get("user") == str(request.user.pk)
        and float(pending.get("expires", 0)) > time.time()
    )


def check_email_code(request: HttpRequest, code: str) -> bool:
    """True once for the right code within its lifetime; a code dies after EMAIL_CODE_MAX_ATTEMPTS tries."""
    if not email_code_pending(request):
        request.session.pop(EMAIL_CODE_SESSION_KEY, None)
        return False
    pending = dict(request.session[EMAIL_CODE_SESSION_KEY])
    pending["attempts"] = int(pending.get("attempts", 0)) + 1
    expected = str(pending.get("digest", ""))
    ok = bool(expected) and constant_time_compare(expected, _code_digest(pending["user"], pending["nonce"], code))
    if ok or pending["attempts"] >= EMAIL_CODE_MAX_ATTEMPTS:
        request.session.pop(EMAIL_CODE_SESSION_KEY, None)
    else:
        request.session[EMAIL_CODE_SESSION_KEY] = pending
    return ok


def check_second_factor(request: HttpRequest, user: User, code: str) -> str | None:
    """"totp" or "recovery_code" if ``code`` is a current authenticator code or an unused recovery code
    (spent now, with the usual alert email), else None."""
    device = mfa.confirmed_device(user)
    if device is None:
        return None
    if device.verify_token(code):  # django-otp's replay guard and throttling apply
        return TOTP
    if mfa.use_recovery_code(user, code):
        audit.record(A.RECOVERY_CODE_USED, request=request, actor=user, during="reauthentication")
        get_adapter(request).send_notification_mail("accounts/email/recovery_code_used", user)
        return "recovery_code"
    return None


def _attempt(request: HttpRequest, method: str, data: dict) -> str | None:
    """The proof given (for the audit log and the session), or None if refused."""
    user = request.user
    if method == PASSWORD:
        return PASSWORD if user.check_password(data["password"]) else None
    if method == TOTP:
        return check_second_factor(request, user, data["code"])
    return EMAIL_CODE if check_email_code(request, data["code"]) else None


REFUSED = {
    PASSWORD: ("password", "That password is not right."),
    TOTP: ("code", "That code is not valid. Try the newest code from your app, or a recovery code."),
    EMAIL_CODE: ("code", "That code is not valid or has expired. Check the newest email, or ask for a new code."),
}


# --- views ---------------------------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    """A path on this site to return to, or "": never another host or scheme."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return ""
    ok = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return url if ok else ""


def _forms(methods: list[str], data=None, bound: str = "") -> dict[str, forms.Form]:
    made: dict[str, forms.Form] = {}
    for method in methods:
        cls = PasswordProofForm if method == PASSWORD else CodeProofForm
        made[method] = cls(data if method == bound else None, auto_id=f"id_{method}_%s")
    return made


@login_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    user = request.user
    next_url = _safe_next(request)
    methods = proof_methods(user)
    method = request.POST.get("method", "") if request.method == "POST" else ""
    if request.method == "GET" and sudo.is_fresh(request):
        return redirect(next_url or "home")
    if method not in methods:
        method = ""
    proof_forms = _forms(methods, request.POST, bound=method)
    if method:
        limited = consume_or_429(request, action="reauthenticate", user=user)
        if limited:
            return limited
        form = proof_forms[method]
        if form.is_valid():
            proof = _attempt(request, method, form.cleaned_data)
            if proof:
                sudo.mark_proven(request, proof)
                audit.record(A.REAUTHENTICATED, request=request, method=proof)
                return redirect(next_url or "home")
            audit.record(A.REAUTHENTICATION_FAILED, request=request, method=method)
            form.add_error(*REFUSED[method])
    context = {
        "forms": proof_forms,
        "next": next_url,
        "minutes": max(1, sudo.window_seconds() // 60),
        "email_code_pending": EMAIL_CODE in methods and email_code_pending(request),
        "code_minutes": EMAIL_CODE_TTL_SECONDS // 60,
    }
    return render(request, "accounts/reauthenticate.html", context, status=400 if method else 200)


@login_required
@require_POST
def email_code(request: HttpRequest) -> HttpResponse:
    """Send a one-time code to an account that has neither a password nor MFA."""
    next_url = _safe_next(request)
    if EMAIL_CODE in proof_methods(request.user):
        limited = consume_or_429(request, action="reauthenticate_email_code", user=request.user)
        if limited:
            return limited
        send_email_code(request)
        messages.info(
            request,
            f"We sent a {EMAIL_CODE_DIGITS}-digit code to {request.user.email}. "
            f"It works once, for {EMAIL_CODE_TTL_SECONDS // 60} minutes.",
        )
    return redirect(sudo.confirm_url(next_url) if next_url else "sudo_confirm")
