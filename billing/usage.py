"""How much of each counted limit an organization uses.

Billing sits below connections, inventory and automations, so it cannot import their models. Each of
those apps registers a counter for its limit in its ``AppConfig.ready``::

    from billing.usage import register_counter
    register_counter("connections", lambda org: CloudConnection.objects.for_org(org).count())

Members are counted here (orgs is below billing). A limit with no registered counter falls back to
the model named in ``FALLBACK_MODELS`` (looked up by string, counted for the org) so a missing
registration is never a crash; with no such model installed its usage is 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.apps import apps

from billing.plans import COUNTED_LIMITS
from orgs.models import Invitation, Membership

logger = logging.getLogger(__name__)

Counter = Callable[[object], int]
_counters: dict[str, Counter] = {}

FALLBACK_MODELS: dict[str, str] = {
    "connections": "connections.CloudConnection",
    "resources": "inventory.Resource",
    "automations": "automations.Automation",
}


def register_counter(limit: str, counter: Counter) -> None:
    if limit not in COUNTED_LIMITS:
        raise ValueError(f"Unknown limit {limit!r}; one of {', '.join(COUNTED_LIMITS)}.")
    _counters[limit] = counter


def count_members(org) -> int:
    """Members plus invitations whose link still works: an invitation holds a seat until it lapses."""
    return Membership.objects.for_org(org).count() + Invitation.objects.for_org(org).pending().count()


def _fallback(limit: str, org) -> int:
    label = FALLBACK_MODELS.get(limit)
    if not label:
        return 0
    try:
        model = apps.get_model(label)
    except LookupError:
        return 0
    manager = model._default_manager
    queryset = manager.for_org(org) if hasattr(manager, "for_org") else manager.filter(org=org)
    return queryset.count()


def count(org, limit: str) -> int:
    if limit not in COUNTED_LIMITS:
        raise ValueError(f"Unknown limit {limit!r}; one of {', '.join(COUNTED_LIMITS)}.")
    if limit == "members":
        return count_members(org)
    counter = _counters.get(limit)
    if counter is None:
        return _fallback(limit, org)
    return int(counter(org))


def usage_for(org) -> dict[str, int]:
    return {limit: count(org, limit) for limit in COUNTED_LIMITS}
