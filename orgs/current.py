"""Which organization a user is "in": the one in the URL, else the one they used last."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from orgs.models import Membership

CURRENT_ORG_SESSION_KEY = "orgs.current_org_id"
# last_used_at is refreshed at most this often while a member stays in one organization.
LAST_USED_REFRESH = timedelta(minutes=10)


def memberships_of(user) -> list[Membership]:
    """The user's memberships with their organizations, most recently used first."""
    return list(
        Membership.objects.for_user(user)
        .select_related("org")
        .order_by(F("last_used_at").desc(nulls_last=True), "-created_at", "-id")
    )


def last_used_membership(user) -> Membership | None:
    return next(iter(memberships_of(user)), None)


def remember_current_org(request: HttpRequest, membership: Membership) -> None:
    """Called on every org page: the home page and the header follow the organization in use.
    Writes only when the organization changes or the timestamp is stale, not on every request."""
    now = timezone.now()
    changed = request.session.get(CURRENT_ORG_SESSION_KEY) != membership.org_id
    stale = membership.last_used_at is None or now - membership.last_used_at > LAST_USED_REFRESH
    if changed:
        request.session[CURRENT_ORG_SESSION_KEY] = membership.org_id
    if changed or stale:
        Membership.objects.for_org(membership.org_id).filter(pk=membership.pk).update(last_used_at=now)
        membership.last_used_at = now
