"""The legal pages: privacy policy (with the cookie policy), sub-processors, terms of service."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from privacy.subprocessors import LAST_CHANGED, SUBPROCESSORS


def _context() -> dict:
    return {
        "policy_version": settings.PRIVACY_POLICY_VERSION,
        "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        "export_link_hours": settings.EXPORT_LINK_MAX_AGE_HOURS,
        "support_email": settings.SUPPORT_EMAIL,
        "subprocessors": SUBPROCESSORS,
        "subprocessors_changed": LAST_CHANGED,
        "analytics_configured": bool(settings.POSTHOG_KEY),
        "session_days": settings.SESSION_COOKIE_AGE // 86400,
    }


@require_safe
def policy(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/policy.html", _context())


@require_safe
def subprocessors(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/subprocessors.html", _context())


@require_safe
def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/terms.html", _context())
