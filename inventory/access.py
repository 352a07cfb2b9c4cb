from __future__ import annotations

from django.http import HttpRequest

from inventory.models import Resource, SyncRun
from orgs.access import get_for_member
from orgs.roles import Capability


def get_sync_run_for_member(request: HttpRequest, run_id: int, capability: str = Capability.VIEW) -> SyncRun:
    return get_for_member(
        request, SyncRun.objects.select_related("connection", "org", "triggered_by"), capability, pk=run_id
    )


def get_resource_for_member(request: HttpRequest, resource_id: int, capability: str = Capability.VIEW) -> Resource:
    return get_for_member(request, Resource.objects.select_related("connection", "org"), capability, pk=resource_id)
