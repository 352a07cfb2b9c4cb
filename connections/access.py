from __future__ import annotations

from django.http import HttpRequest

from connections.models import CloudConnection
from orgs.access import get_for_member
from orgs.roles import Capability


def get_connection_for_member(
    request: HttpRequest, connection_id: int, capability: str = Capability.VIEW
) -> CloudConnection:
    return get_for_member(request, CloudConnection.objects.select_related("org"), capability, pk=connection_id)
