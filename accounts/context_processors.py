from __future__ import annotations

from django.conf import settings

from accounts.mfa import needs_second_step


def product(request):
    # Error pages render before middleware ran (a bad Host header): there may be no request.user.
    return {
        "google_login_enabled": bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET),
        # Signed in for real: a session waiting for its second factor shows no names and no navigation.
        "signed_in": bool(
            getattr(request, "user", None) and request.user.is_authenticated and not needs_second_step(request)
        ),
    }
