"""The analytics catalogue: which events exist and which properties each may carry.

Everything that reaches analytics (our own table or PostHog) passes through ``clean_event``: an
unknown event is refused, an unknown property is dropped, and a known one keeps its value only if it
is one of the values listed here (or a small integer). So no free text, and therefore no cloud data
contents (names, ARNs, tags, configurations), can ever be an analytics property, whoever sends it.

Product events are raised on the server (``cloustral.product_events.emit``) while the person's
consent lives in their browser. The session mirrors it (``ANALYTICS_SESSION_KEY``: set by the consent
and events endpoints, which only a consenting browser calls after its choice): without it, an event is
dropped on the spot. With it, the event waits in the session (``queue``) and the next page hands it to
the browser (``pop_pending``), which sends it on if analytics is still accepted (static/privacy/consent.js).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from connections.models import CloudConnection
from findings.models import OrgPolicy, Severity

SESSION_KEY = "privacy.pending_events"
ANALYTICS_SESSION_KEY = "privacy.analytics"  # True while this browser's person accepts analytics
MAX_PENDING = 20
PAGE_NAME = re.compile(r"^[a-z0-9_-]+(:[a-z0-9_-]+)*$")  # a URL pattern's name, e.g. "dashboard:resource"

PROVIDERS = tuple(CloudConnection.Provider.values)
FORMATS = ("csv", "json", "zip")
SEVERITIES = tuple(Severity.values)


@dataclass(frozen=True)
class EventSpec:
    description: str
    properties: dict[str, tuple[str, ...] | type]  # allowed values, or int for a count


CATALOGUE: dict[str, EventSpec] = {
    "pageview": EventSpec("A page was opened (its URL pattern's name, not its URL).", {}),
    "scan_started": EventSpec(
        "A member started a scan of a cloud connection.",
        {"provider": PROVIDERS, "trigger": ("manual",)},
    ),
    "rule_created": EventSpec(
        "A member created a custom rule or a policy.",
        {
            "kind": ("custom", "policy"),
            "severity": SEVERITIES,
            "policy_kind": tuple(OrgPolicy.Kind.values),
        },
    ),
    "export": EventSpec(
        "Someone exported data: findings, inventory, their personal data or their organization's.",
        {"what": ("findings", "inventory", "personal_data", "organization_data"), "format": FORMATS},
    ),
}


def clean_event(name: Any, properties: Any) -> tuple[str, dict[str, Any]] | None:
    """``(name, properties)`` with only what the catalogue allows, or None for an unknown event."""
    if not isinstance(name, str) or name not in CATALOGUE:
        return None
    allowed = CATALOGUE[name].properties
    kept: dict[str, Any] = {}
    if isinstance(properties, dict):
        for key, value in properties.items():
            rule = allowed.get(key)
            if rule is int:
                if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9:
                    kept[key] = value
            elif isinstance(rule, tuple) and isinstance(value, str) and value in rule:
                kept[key] = value
    return name, kept


def clean_page(page: Any) -> str:
    return page if isinstance(page, str) and len(page) <= 120 and PAGE_NAME.match(page) else ""


def queue(request: HttpRequest, name: str, properties: dict[str, Any]) -> None:
    """Keep a product event for the browser to send with the next page, if its owner consented."""
    session = getattr(request, "session", None)
    if session is None or not session.get(ANALYTICS_SESSION_KEY):
        return  # no consent known for this session: nothing is kept, not even for a moment
    cleaned = clean_event(name, properties)
    if cleaned is None:
        return
    pending = list(session.get(SESSION_KEY, []))[-(MAX_PENDING - 1) :]
    pending.append({"name": cleaned[0], "properties": cleaned[1]})
    session[SESSION_KEY] = pending


def remember_consent(request: HttpRequest, analytics: bool) -> None:
    """Mirror the browser's choice in the session; written only when it changes."""
    session = getattr(request, "session", None)
    if session is not None and bool(session.get(ANALYTICS_SESSION_KEY)) != analytics:
        session[ANALYTICS_SESSION_KEY] = analytics
        if not analytics:
            session.pop(SESSION_KEY, None)


def pop_pending(request: HttpRequest) -> list[dict[str, Any]]:
    """The events queued for this browser, removed from the session (sent or dropped by the page)."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return []
    return list(session.pop(SESSION_KEY, []))
