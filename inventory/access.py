from __future__ import annotations

from django.http import HttpRequest

from inventory.models import SyncRun
from orgs.access import get_for_member
from orgs.roles import Capability


def get_sync_run_for_member(request: HttpRequest, run_id: int, capability: str = Capability.VIEW) -> SyncRun:
    return get_for_member(
        request, SyncRun.objects.select_related("connection", "org", "triggered_by"), capability, pk=run_id
    )
