"""What the last sync of a connection saw, per (resource type, region), for the rule engine.

"collected" means the data was seen: a rule may evaluate it. Anything else (denied, throttled,
error, skipped) or no entry at all means "not evaluated": a rule must report nothing as passing there.
Global collectors (IAM, S3 listing...) have the region "global", whatever the region of the
resources they return; ``coverage_status`` knows this.
"""

from __future__ import annotations

from inventory.collectors.base import get_collector
from inventory.models import COLLECTED, GLOBAL_REGION, SyncRun

NOT_EVALUATED = "not_evaluated"


def last_run(connection) -> SyncRun | None:
    """The last run that wrote the inventory (succeeded or partial)."""
    return (
        SyncRun.objects.for_org(connection.org_id)
        .filter(connection=connection, status__in=SyncRun.WROTE_INVENTORY)
        .order_by("-finished_at", "-id")
        .first()
    )


def last_coverage(connection) -> dict[tuple[str, str], str]:
    """{(resource_type, region): status} from the last run that wrote the inventory; {} if none."""
    run = last_run(connection)
    if run is None:
        return {}
    return {
        (rtype, region): status for rtype, by_region in run.coverage.items() for region, status in by_region.items()
    }


def scope_region(resource_type: str, region: str) -> str:
    """The coverage region of a resource: "global" for a global collector's types."""
    try:
        regional = get_collector(resource_type).regional
    except KeyError:
        return region
    return region if regional else GLOBAL_REGION


def coverage_status(coverage: dict[tuple[str, str], str], resource_type: str, region: str) -> str:
    return coverage.get((resource_type, scope_region(resource_type, region)), NOT_EVALUATED)


def is_evaluated(coverage: dict[tuple[str, str], str], resource_type: str, region: str) -> bool:
    return coverage_status(coverage, resource_type, region) == COLLECTED
