"""Re-authentication ("sudo mode"): a fresh proof of identity before the actions a stolen session
must not be able to take (cloud credentials, MFA, who owns what, deletion). Rules: docs/security.md.

One mechanism, two ways to call it:

- ``require_sudo(request)`` inside a view, after the object lookup: another org's object must be a
  404 (and a role that may not act a 403) before anyone is asked for a password;
- ``@sudo_required`` on views with no object to look up (under ``@org_view``, so the org's 404 and
  the role's 403 still come first).

A request without a fresh proof is sent to the confirmation page (``accounts.reauth``) with a
``next`` to come back to. Nothing of the request is kept: a POST is refused, never stashed in the
session to be replayed (a credential form's POST holds a cloud secret), and the person submits the
form again once confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from allauth.core.exceptions import ImmediateHttpResponse
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

SESSION_KEY = "sudo_proof"  # {"user": "<pk>", "at": <epoch seconds>, "method": "<proof>"}
SAFE_METHODS = ("GET", "HEAD")


class SudoRequired(ImmediateHttpResponse):
    """Raised by ``require_sudo``; allauth's AccountMiddleware answers with ``.response`` (a redirect
    to the confirmation page)."""


def window_seconds() -> int:
    """How long a proof lasts: allauth's ACCOUNT_REAUTHENTICATION_TIMEOUT (env REAUTHENTICATION_TIMEOUT)."""
    return int(getattr(settings, "ACCOUNT_REAUTHENTICATION_TIMEOUT", 300))


def _allauth_records(request: HttpRequest) -> list[dict]:
    # allauth logs every authentication of this session's user (a password or Google login, its own
    # re-authentication page) with its time: a login a minute ago is a fresh proof too.
    try:
        from allauth.account.internal.flows.login import get_authentication_records

        records = get_authentication_records(request, request.user)
    except Exception:  # an allauth upgrade that moves this must not break the check: fail closed
        return []
    # Our own proofs are copied there for allauth's sake (``mark_proven``); SESSION_KEY is their record.
    return [r for r in records if isinstance(r, dict) and not str(r.get("method", "")).startswith("sudo_")]


def last_proof_at(request: HttpRequest) -> float | None:
    """When this session's user last proved who they are (epoch seconds), or None."""
    user = request.user
    if not user.is_authenticated:
        return None
    times: list[float] = []
    mark = request.session.get(SESSION_KEY)
    if isinstance(mark, dict) and mark.get("user") == str(user.pk) and isinstance(mark.get("at"), int | float):
        times.append(float(mark["at"]))
    times += [float(r["at"]) for r in _allauth_records(request) if isinstance(r.get("at"), int | float)]
    return max(times, default=None)


def is_fresh(request: HttpRequest) -> bool:
    at = last_proof_at(request)
    return at is not None and 0 <= time.time() - at < window_seconds()


def mark_proven(request: HttpRequest, method: str) -> None:
    """Record a successful proof (``password``, ``totp``, ``recovery_code``, ``email_code``)."""
    request.session[SESSION_KEY] = {"user": str(request.user.pk), "at": time.time(), "method": method}
    # allauth's own check (inside its email and connect flows) then sees the same proof: one prompt.
    from allauth.account.internal.flows.login import record_authentication

    record_authentication(request, request.user, method=f"sudo_{method}", reauthenticated=True)


def confirm_url(next_url: str) -> str:
    return f"{reverse('sudo_confirm')}?{urlencode({'next': next_url})}"


def sudo_redirect(request: HttpRequest, next_url: str | None = None) -> HttpResponse:
    """Where to send a request without a fresh proof. ``next_url`` defaults to the request's own URL,
    which for a form's POST is the page showing the form again."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method not in SAFE_METHODS:
        messages.warning(request, "Nothing was saved. Confirm it's you, then submit the form again.")
    return HttpResponseRedirect(confirm_url(next_url or request.get_full_path()))


def require_sudo(request: HttpRequest, *, next_url: str | None = None) -> None:
    """Return if the user proved who they are within the window; otherwise raise ``SudoRequired``
    (a redirect to the confirmation page). Call it after the object lookup and before touching the
    request's data."""
    if not is_fresh(request):
        raise SudoRequired(sudo_redirect(request, next_url))


def sudo_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``require_sudo`` before the view, for views with no object lookup. Place it below ``@org_view``
    (or ``@login_required``) so that 404/403 come first."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            require_sudo(request)
        except SudoRequired as refused:
            return refused.response
        return view(request, *args, **kwargs)

    return wrapper
