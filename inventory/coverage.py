"""What the last sync of a connection saw, per (resource type, scope), for the rule engine.

"collected" means the data was seen: a rule may evaluate it. Anything else (denied, throttled,
error, skipped) or no entry at all means "not evaluated": a rule must report nothing as passing there.

A run's coverage is ``{resource type: {scope: status}}``, one entry per unit of the run. The scope is
what the unit covered, and ``scope_region(resource_type, region, native_id)`` maps a stored resource to
it: the one mapping the sync engine (what a collected unit replaces) and the rule engine (what was
evaluated) share.

* AWS: the region of a regional collector's unit; "global" for a global collector's (IAM, the S3
  listing...), whatever the region of the resources it returns.
* Azure: the subscription, as its Resource Manager scope ``/subscriptions/<id>`` (``subscription_scope``).
  Units run per subscription, so the scope comes from the resource's native id (an Azure resource id
  starts with it), never from its region (its location). Callers must pass ``native_id`` for Azure
  resources: without it the scope is "/subscriptions/", which no unit covers (not evaluated).
"""

from __future__ import annotations

from inventory.collectors.base import get_collector
from inventory.models import COLLECTED, GLOBAL_REGION, SyncRun

NOT_EVALUATED = "not_evaluated"
SUBSCRIPTION_PREFIX = "/subscriptions/"
PER_SUBSCRIPTION_PROVIDERS = frozenset({"azure"})


def last_run(connection) -> SyncRun | None:
    """The last run that wrote the inventory (succeeded or partial)."""
    return (
        SyncRun.objects.for_org(connection.org_id)
        .filter(connection=connection, status__in=SyncRun.WROTE_INVENTORY)
        .order_by("-finished_at", "-id")
        .first()
    )


def last_coverage(connection) -> dict[tuple[str, str], str]:
    """{(resource_type, scope): status} from the last run that wrote the inventory; {} if none."""
    run = last_run(connection)
    if run is None:
        return {}
    return {
        (rtype, region): status for rtype, by_region in run.coverage.items() for region, status in by_region.items()
    }


def subscription_scope(subscription_id: str) -> str:
    """The coverage scope of an Azure subscription's units: ``/subscriptions/<id>`` (lowercase)."""
    return SUBSCRIPTION_PREFIX + subscription_id.strip().lower()


def subscription_of(native_id: str) -> str:
    """The subscription id in an Azure resource id ("" when there is none)."""
    value = (native_id or "").lower()
    if not value.startswith(SUBSCRIPTION_PREFIX):
        return ""
    return value[len(SUBSCRIPTION_PREFIX) :].split("/", 1)[0]


def is_per_subscription(resource_type: str) -> bool:
    return resource_type.split(".", 1)[0] in PER_SUBSCRIPTION_PROVIDERS


def scope_region(resource_type: str, region: str, native_id: str = "") -> str:
    """The coverage scope of a resource: exactly the scope of the unit that collects its type there
    (AWS: its region, or "global" for a global collector's types; Azure: its subscription's scope)."""
    if is_per_subscription(resource_type):
        return subscription_scope(subscription_of(native_id))
    try:
        regional = get_collector(resource_type).regional
    except KeyError:
        return region
    return region if regional else GLOBAL_REGION


def coverage_status(coverage: dict[tuple[str, str], str], resource_type: str, region: str, native_id: str = "") -> str:
    return coverage.get((resource_type, scope_region(resource_type, region, native_id)), NOT_EVALUATED)


def is_evaluated(coverage: dict[tuple[str, str], str], resource_type: str, region: str, native_id: str = "") -> bool:
    return coverage_status(coverage, resource_type, region, native_id) == COLLECTED
