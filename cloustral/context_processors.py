from __future__ import annotations

from django.conf import settings


def product(request):
    return {"google_login_enabled": bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET)}
