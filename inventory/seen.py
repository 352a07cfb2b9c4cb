"""When a resource was last seen, without rewriting every row on every sync.

A sync writes a resource's row only when the resource changed (inventory/sync.py), so the stored
``Resource.last_seen`` is when a sync last wrote it. The resource was seen later than that by every run
that collected its scope since: while it exists, each of those runs saw it (a collected scope deletes
what it no longer returns). So the time shown is the later of the stored value and the end of the last
run that collected the resource's (type, scope); a scope that failed since keeps the time it was last
collected, never the failed run's.

    fill_last_seen(resources, org_id)   set ``last_seen`` on Resource instances (one query per call)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from inventory.coverage import scope_region
from inventory.models import COLLECTED, SyncRun

RUNS_PER_CONNECTION = 30  # how far back a scope's last collection is looked for


def collected_at(org_id: int, connection_ids: Iterable[int]) -> dict[int, dict[tuple[str, str], datetime]]:
    """{connection id: {(type, scope): when the last run that collected it finished}}."""
    ids = sorted(set(connection_ids))
    out: dict[int, dict[tuple[str, str], datetime]] = {pk: {} for pk in ids}
    if not ids:
        return out
    runs = (
        SyncRun.objects.for_org(org_id)
        .filter(connection_id__in=ids, status__in=SyncRun.WROTE_INVENTORY, finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .values_list("connection_id", "finished_at", "coverage")[: RUNS_PER_CONNECTION * len(ids)]
    )
    for connection_id, finished_at, coverage in runs:
        seen = out[connection_id]
        for rtype, by_scope in (coverage or {}).items():
            for scope, status in by_scope.items():
                if status == COLLECTED:
                    seen.setdefault((rtype, scope), finished_at)
    return out


def fill_last_seen(resources: Iterable, org_id: int) -> None:
    """Set each Resource's ``last_seen`` to when it was last seen (see the module's docstring). The
    instances need connection_id, resource_type, region, native_id and last_seen loaded."""
    resources = list(resources)
    if not resources:
        return
    times = collected_at(org_id, (r.connection_id for r in resources))
    for resource in resources:
        scope = (resource.resource_type, scope_region(resource.resource_type, resource.region, resource.native_id))
        collected = times.get(resource.connection_id, {}).get(scope)
        if collected is not None and (resource.last_seen is None or collected > resource.last_seen):
            resource.last_seen = collected
