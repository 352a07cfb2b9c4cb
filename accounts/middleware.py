from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from accounts.mfa import needs_second_step

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
