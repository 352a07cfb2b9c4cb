from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from accounts.mfa import needs_second_step, staff_lacks_mfa

# Paths a half-logged-in user (password ok, second factor pending) may reach.
_MFA_EXEMPT_NAMES = ("mfa_verify", "account_logout", "healthz")


class MFARequiredMiddleware:
    """A user with MFA sees nothing until the second step is done, however they logged in
    (password, password reset or Google): the session is only half-authenticated until then."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if needs_second_step(request) and not self._exempt(request.path):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('mfa_verify')}?{query}")
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        """Staff reach no admin page without MFA (with MFA, ``__call__`` already demands the second
        step). Here rather than in ``__call__``: the URL is resolved (any admin page, wherever
        ADMIN_URL puts it) and the messages middleware has run."""
        match = request.resolver_match
        if match is None or "admin" not in match.namespaces or not staff_lacks_mfa(request.user):
            return None
        messages.warning(
            request, "Staff accounts must use two-factor authentication. Set it up here, then open the admin again."
        )
        return redirect("mfa_setup")

    @staticmethod
    def _exempt(path: str) -> bool:
        if path.startswith(settings.STATIC_URL):
            return True
        return any(path == reverse(name) for name in _MFA_EXEMPT_NAMES)


class UserTimezoneMiddleware:
    """Every time shown to a signed-in user is in their own timezone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tzname = getattr(request.user, "timezone", None) if request.user.is_authenticated else None
        if tzname:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tzname))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
