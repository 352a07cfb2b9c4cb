"""What billing's plans prune of the findings' history (registered in ``FindingsConfig.ready``). Findings
themselves, open or not, are never pruned: only their events and the daily counts."""

from __future__ import annotations

from django.db.models import F, Max, OuterRef, Subquery

from findings.models import DailyFindingCount, FindingEvent


def old_events(org, cutoff):
    return FindingEvent.objects.for_org(org).filter(at__lt=cutoff)


def old_daily_counts(org, cutoff):
    """Daily counts before ``cutoff``, except each connection's latest day (trends carry it forward)."""
    latest = (
        DailyFindingCount.objects.for_org(org)
        .filter(connection=OuterRef("connection"))
        .order_by()
        .values("connection")
        .annotate(latest=Max("date"))
        .values("latest")[:1]
    )
    return (
        DailyFindingCount.objects.for_org(org)
        .filter(date__lt=cutoff.date())
        .annotate(latest=Subquery(latest))
        .exclude(date=F("latest"))
    )


def register() -> None:
    from billing.retention import register_prunable

    register_prunable("findings.FindingEvent", old_events, order=40)
    register_prunable("findings.DailyFindingCount", old_daily_counts, order=50)
