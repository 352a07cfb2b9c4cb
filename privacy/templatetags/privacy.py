"""``{% privacy_footer %}``: the footer of every page (legal links, "Cookie settings"), the cookie banner
and what static/privacy/consent.js needs to honour the person's choice."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

from privacy import events

register = template.Library()


@register.inclusion_tag("privacy/_footer.html", takes_context=True)
def privacy_footer(context) -> dict:
    request = context.get("request")
    match = getattr(request, "resolver_match", None) if request is not None else None
    return {
        "request": request,
        "csp_nonce": context.get("csp_nonce", ""),
        "csrf_token": context.get("csrf_token", ""),
        "policy_version": settings.PRIVACY_POLICY_VERSION,
        "page_name": events.clean_page(match.view_name) if match is not None else "",
        # The URL pattern (``o/<slug:org_slug>/resources/<int:resource_id>/``), not the URL: PostHog's
        # page URL is built from it, so no id, filter or search term reaches analytics.
        "page_route": match.route if match is not None else "",
        "pending_events": events.pop_pending(request) if request is not None else [],
        "posthog_key": settings.POSTHOG_KEY,
        "posthog_host": settings.POSTHOG_HOST if settings.POSTHOG_KEY else "",
        "posthog_src": static("vendor/posthog/array.no-external.js") if settings.POSTHOG_KEY else "",
        "consent_url": reverse("privacy:consent"),
        "events_url": reverse("privacy:events"),
    }
