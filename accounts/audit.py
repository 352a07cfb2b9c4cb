"""Recording security events. One function, used by signals, views and actions alike."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from accounts.models import AuditEvent
from cloustral.logging import redact_value

logger = logging.getLogger("cloustral.audit")


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address, honouring TRUSTED_PROXY_COUNT (the same rule the rate limits use)."""
    if request is None:
        return None
    from allauth.core.internal.httpkit import get_client_ip

    try:
        return get_client_ip(request)
    except Exception:  # a malformed X-Forwarded-For must not break auditing
        return request.META.get("REMOTE_ADDR")


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor=None,
    actor_email: str = "",
    org=None,
    **metadata,
) -> AuditEvent:
    """Record one event. ``org`` puts it in that organization's audit log as well; ``metadata``
    describes it (``target``: who or what it was about) and is redacted, never holding a secret."""
    if actor is None and request is not None and getattr(request, "user", None) and request.user.is_authenticated:
        actor = request.user
    # A request made with an API key says which one (set by api.auth): its prefix and name, never the key.
    via = getattr(request, "audit_via", None) if request is not None else None
    if via:
        metadata.setdefault("via", via)
    event = AuditEvent.objects.create(
        actor=actor,
        actor_email=actor_email or (actor.email if actor is not None else ""),
        org=org,
        action=action,
        ip=client_ip(request),
        user_agent=(request.headers.get("user-agent", "")[:300] if request is not None else ""),
        metadata=redact_value(metadata),
    )
    logger.info(
        "audit %s",
        action,
        extra={"audit_action": action, "actor_id": getattr(actor, "pk", None), "org_id": getattr(org, "pk", None)},
    )
    return event
