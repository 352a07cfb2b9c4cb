"""Objects of the current organization, by id, for the member making the request
(ARCHITECTURE.md convention 2).

Every helper starts from ``request.org`` (set by ``orgs.decorators.org_view``), so another
organization's object is a 404, the same answer as an id that does not exist. A role that may not
act on the object is a 403. Later apps add their own ``get_<thing>_for_member`` on top of
``get_for_member``::

    def get_connection_for_member(request, connection_id, capability=Capability.VIEW):
        return get_for_member(request, CloudConnection, capability, pk=connection_id)
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest

from orgs.models import Invitation, Membership
from orgs.roles import Capability


def require_capability(request: HttpRequest, capability: str) -> None:
    membership = getattr(request, "membership", None)
    if membership is None:
        raise Http404  # not an org request: never guess an organization
    if not membership.can(capability):
        raise PermissionDenied


def get_for_member[M: models.Model](
    request: HttpRequest,
    model_or_queryset: type[M] | models.QuerySet,
    capability: str = Capability.VIEW,
    **lookup,
) -> M:
    """The object of ``request.org`` matching ``lookup``: 404 if none (or another org's), 403 if the
    member's role lacks ``capability``."""
    org = getattr(request, "org", None)
    if org is None:
        raise Http404
    queryset = model_or_queryset if isinstance(model_or_queryset, models.QuerySet) else model_or_queryset.objects.all()
    obj = queryset.for_org(org).filter(**lookup).first()
    if obj is None:
        raise Http404
    require_capability(request, capability)
    return obj


def get_membership_for_member(
    request: HttpRequest, membership_id: int, capability: str = Capability.MANAGE_MEMBERS
) -> Membership:
    return get_for_member(request, Membership.objects.select_related("user", "org"), capability, pk=membership_id)


def get_invitation_for_member(
    request: HttpRequest, invitation_id: int, capability: str = Capability.MANAGE_INVITATIONS
) -> Invitation:
    return get_for_member(request, Invitation.objects.select_related("org", "invited_by"), capability, pk=invitation_id)
