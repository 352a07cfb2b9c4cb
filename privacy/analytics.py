"""Our own analytics table, fed by the browser: consent records and events.

The browser sends events only after its owner accepted analytics (static/privacy/consent.js); the
server checks it again: an event is stored only when the latest consent recorded for that browser
accepted analytics under the current policy. So a script that ignored the banner would store nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings

from privacy.events import clean_event, clean_page
from privacy.models import AnalyticsEvent, ConsentRecord

MAX_EVENTS_PER_REQUEST = 20


class BadPayload(ValueError):
    pass


def _browser_id(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise BadPayload("browser_id must be a UUID") from None


def record_consent(payload: Any, user=None) -> ConsentRecord:
    if not isinstance(payload, dict) or not isinstance(payload.get("analytics"), bool):
        raise BadPayload("expected {browser_id, analytics: true|false}")
    return ConsentRecord.objects.create(
        browser_id=_browser_id(payload.get("browser_id")),
        user=user if getattr(user, "is_authenticated", False) else None,
        analytics=payload["analytics"],
        policy_version=settings.PRIVACY_POLICY_VERSION,
    )


def has_consent(browser_id: uuid.UUID) -> bool:
    latest = ConsentRecord.objects.filter(browser_id=browser_id).order_by("-created_at", "-id").first()
    return latest is not None and latest.analytics and latest.policy_version == settings.PRIVACY_POLICY_VERSION


def record_events(payload: Any, user=None) -> tuple[int, bool]:
    """Store the catalogued events of ``payload`` ({browser_id, events: [{name, page, properties}]}).
    Returns how many were stored (0 without consent) and whether the browser has consent."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise BadPayload("expected {browser_id, events: [...]}")
    if len(payload["events"]) > MAX_EVENTS_PER_REQUEST:
        raise BadPayload(f"at most {MAX_EVENTS_PER_REQUEST} events at a time")
    browser_id = _browser_id(payload.get("browser_id"))
    if not has_consent(browser_id):
        return 0, False
    rows = []
    for item in payload["events"]:
        if not isinstance(item, dict):
            continue
        cleaned = clean_event(item.get("name"), item.get("properties"))
        if cleaned is None:
            continue
        rows.append(
            AnalyticsEvent(
                name=cleaned[0],
                properties=cleaned[1],
                page=clean_page(item.get("page")),
                browser_id=browser_id,
                user=user if getattr(user, "is_authenticated", False) else None,
            )
        )
    AnalyticsEvent.objects.bulk_create(rows)
    return len(rows), True
