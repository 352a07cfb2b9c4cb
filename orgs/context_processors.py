"""The organization switcher in the header: the current organization is always visible."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest

from orgs.current import CURRENT_ORG_SESSION_KEY, memberships_of
from orgs.models import Membership, Organization


class OrgNav:
    """Evaluated lazily: a page that does not render the header costs no query."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @cached_property
    def memberships(self) -> list[Membership]:
        return memberships_of(self.request.user)

    @cached_property
    def current_membership(self) -> Membership | None:
        membership = getattr(self.request, "membership", None)
        if membership is not None:
            return membership
        session_org = self.request.session.get(CURRENT_ORG_SESSION_KEY)
        for candidate in self.memberships:
            if candidate.org_id == session_org:
                return candidate
        return self.memberships[0] if self.memberships else None

    @property
    def current(self) -> Organization | None:
        membership = self.current_membership
        return membership.org if membership is not None else None

    @cached_property
    def others(self) -> list[Membership]:
        current_id = getattr(self.current, "pk", None)
        return sorted((m for m in self.memberships if m.org_id != current_id), key=lambda m: m.org.name.lower())


def org_nav(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"org_nav": OrgNav(request)}
