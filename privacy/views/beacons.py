"""What the browser sends us about consent and analytics (static/privacy/consent.js): JSON POSTs with
the CSRF token of the page, rate-limited per address. Bad input is a 400, never a 500."""

from __future__ import annotations

import json

from allauth.core.ratelimit import consume_or_429
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from privacy import analytics
from privacy import events as catalogue

MAX_BODY = 16 * 1024


def _payload(request: HttpRequest):
    if len(request.body) > MAX_BODY:
        raise analytics.BadPayload("request too large")
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise analytics.BadPayload("the body must be JSON") from None


def _bad(exc: Exception) -> JsonResponse:
    return JsonResponse({"error": str(exc)}, status=400)


@require_POST
def consent(request: HttpRequest) -> HttpResponse:
    limited = consume_or_429(request, action="privacy_beacon")
    if limited:
        return limited
    try:
        record = analytics.record_consent(_payload(request), user=request.user)
    except analytics.BadPayload as exc:
        return _bad(exc)
    catalogue.remember_consent(request, record.analytics)
    return HttpResponse(status=204)


@require_POST
def events(request: HttpRequest) -> HttpResponse:
    limited = consume_or_429(request, action="privacy_beacon")
    if limited:
        return limited
    try:
        stored, consented = analytics.record_events(_payload(request), user=request.user)
    except analytics.BadPayload as exc:
        return _bad(exc)
    catalogue.remember_consent(request, consented)
    return JsonResponse({"stored": stored}, status=202)
