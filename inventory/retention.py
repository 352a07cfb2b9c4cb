"""What billing's plans count and prune of the inventory (registered in ``InventoryConfig.ready``)."""

from __future__ import annotations

from django.db.models import F, Max, OuterRef, Subquery

from inventory.models import DailyCount, Resource, ResourceChange, SyncRun


def count_resources(org) -> int:
    return Resource.objects.for_org(org).count()


def old_changes(org, cutoff):
    return ResourceChange.objects.for_org(org).filter(created_at__lt=cutoff)


def old_runs(org, cutoff):
    """Finished runs before ``cutoff``, except each connection's last run that wrote the inventory
    (the coverage the rule engine reads)."""
    last_wrote = (
        SyncRun.objects.for_org(org)
        .filter(connection=OuterRef("connection"), status__in=SyncRun.WROTE_INVENTORY)
        .order_by("-finished_at", "-id")
        .values("id")[:1]
    )
    return (
        SyncRun.objects.for_org(org)
        .filter(created_at__lt=cutoff)
        .exclude(status__in=SyncRun.ACTIVE)
        .annotate(last_wrote=Subquery(last_wrote))
        .exclude(id=F("last_wrote"))
    )


def old_daily_counts(org, cutoff):
    """Daily counts before ``cutoff``, except each connection's latest day (trends carry it forward)."""
    latest = (
        DailyCount.objects.for_org(org)
        .filter(connection=OuterRef("connection"))
        .order_by()
        .values("connection")
        .annotate(latest=Max("date"))
        .values("latest")[:1]
    )
    return (
        DailyCount.objects.for_org(org)
        .filter(date__lt=cutoff.date())
        .annotate(latest=Subquery(latest))
        .exclude(date=F("latest"))
    )


def register() -> None:
    from billing.retention import register_prunable
    from billing.usage import register_counter

    register_counter("resources", count_resources)
    register_prunable("inventory.ResourceChange", old_changes, order=10)
    register_prunable("inventory.SyncRun", old_runs, order=20)  # after its changes (they cascade from it)
    register_prunable("inventory.DailyCount", old_daily_counts, order=30)
