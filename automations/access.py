"""Automations, channels, runs and suppressions of the current organization, by id (404 for another
organization's, 403 for a role that may not act): ARCHITECTURE.md convention 2."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from automations.models import Automation, AutomationRun, Channel, Suppression
from orgs.access import get_for_member, require_capability
from orgs.models import Membership
from orgs.roles import Capability


def get_automation_for_member(
    request: HttpRequest, automation_id: int, capability: str = Capability.VIEW
) -> Automation:
    return get_for_member(request, Automation.objects.select_related("org"), capability, pk=automation_id)


def get_channel_for_member(request: HttpRequest, channel_id: int, capability: str = Capability.VIEW) -> Channel:
    return get_for_member(request, Channel.objects.select_related("org"), capability, pk=channel_id)


def get_run_for_member(request: HttpRequest, run_id: int, capability: str = Capability.VIEW) -> AutomationRun:
    return get_for_member(request, AutomationRun.objects.select_related("org", "automation"), capability, pk=run_id)


def member_emails(org) -> list[str]:
    return [e.lower() for e in Membership.objects.for_org(org).values_list("user__email", flat=True)]


def get_suppression_for_member(
    request: HttpRequest, suppression_id: int, capability: str = Capability.MANAGE_MEMBERS
) -> Suppression:
    """An active suppression of the address of one of the organization's members; any other is a 404
    (a suppression is about an address, and only its members' addresses are the organization's)."""
    org = getattr(request, "org", None)
    if org is None:
        raise Http404
    suppression = Suppression.objects.active().filter(pk=suppression_id, address__in=member_emails(org)).first()
    if suppression is None:
        raise Http404
    require_capability(request, capability)
    return suppression
